"""TAP fetcher against a real TAP server: GAVO DaCHS on 127.0.0.1:8080 serving real Gaia DR3
rows as gaiadr3.gaia_source (set up by ``bash .ci/dachs.sh``; data tests/data/tap/).

Every cone is checked against a brute-force selection of the same rows from the CSV file the
server was loaded from. Skipped when the server is not reachable, unless
``VO_OCML_REQUIRE_DACHS=1`` (CI after ``.ci/dachs.sh``), which makes that a failure.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from vo_ocml.cli import main
from vo_ocml.errors import NotFoundError, ServiceError
from vo_ocml.tap.fetch import fetch_cone

pytestmark = pytest.mark.peers

DACHS = os.environ.get("VO_OCML_DACHS_TAP", "http://127.0.0.1:8080/tap")
DATA = Path(__file__).parent / "data" / "tap" / "gaia_source.csv"


def _dachs_available() -> bool:
    try:
        with urllib.request.urlopen(f"{DACHS}/availability", timeout=5) as response:
            return b"<avl:available>true" in response.read()
    except OSError:
        return False


@pytest.fixture(scope="module")
def dachs() -> str:
    if not _dachs_available():
        reason = f"no DaCHS TAP service at {DACHS} (start it with `bash .ci/dachs.sh`)"
        if os.environ.get("VO_OCML_REQUIRE_DACHS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return DACHS


@pytest.fixture(scope="module")
def rows() -> Table:
    return Table.read(DATA, format="ascii.csv")


def _brute_force(rows: Table, ra: float, dec: float, radius: float, gmax: float = 20.0) -> set:
    """source_ids inside the cone passing the default cuts, computed client-side."""
    ra1, de1, ra0, de0 = map(np.radians, (rows["ra"], rows["dec"], ra, dec))
    cos_sep = np.sin(de1) * np.sin(de0) + np.cos(de1) * np.cos(de0) * np.cos(ra1 - ra0)
    sep = np.degrees(np.arccos(np.clip(cos_sep, -1, 1)))

    def filled(name: str) -> np.ndarray:
        return np.ma.filled(np.ma.asarray(rows[name], dtype=float), np.nan)

    keep = ((sep <= radius) & (filled("phot_g_mean_mag") <= gmax) & (filled("parallax") > 0)
            & np.isfinite(filled("pmra")) & np.isfinite(filled("pmdec"))
            & np.isfinite(filled("bp_rp")))
    return set(np.asarray(rows["source_id"])[keep].tolist())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_named_cone_matches_brute_force(dachs: str, rows: Table, tmp_path: Path,
                                        mode: str) -> None:
    events: list[str] = []
    table = fetch_cone(name="NGC 2682", service=dachs, cache_dir=tmp_path, mode=mode,
                       progress=events.append)
    params = {p["name"]: p["value"] for p in table.meta["ocml_params"]}
    expected = _brute_force(rows, params["ocml_cone_ra"], params["ocml_cone_dec"],
                            params["ocml_cone_radius"])
    assert len(expected) > 500
    assert set(table["source_id"].tolist()) == expected
    assert len(table) == len(expected)
    if mode == "async":
        assert any("async job" in e and "COMPLETED" in e for e in events)
        assert any(e.startswith("submitted async job http://127.0.0.1") for e in events)


def test_options_gmax_radius_extra_columns(dachs: str, rows: Table, tmp_path: Path) -> None:
    table = fetch_cone(ra=56.75, dec=24.12, radius=0.7, gmax=17.0,
                       extra_columns=["radial_velocity", "phot_rp_mean_mag"], service=dachs,
                       table="gaiadr3.gaia_source", cache_dir=tmp_path, mode="sync")
    assert set(table["source_id"].tolist()) == _brute_force(rows, 56.75, 24.12, 0.7, 17.0)
    assert table.colnames[-2:] == ["radial_velocity", "phot_rp_mean_mag"]
    assert np.nanmax(table["phot_g_mean_mag"]) <= 17.0
    assert table["parallax"].min() > 0


def test_overflow_of_a_real_row_limit(dachs: str, tmp_path: Path) -> None:
    for mode in ("sync", "async"):
        with pytest.raises(ServiceError, match="truncated at 25 rows"):
            fetch_cone(name="M67", service=dachs, cache_dir=tmp_path, mode=mode, maxrec=25)


def test_adql_error_from_the_server(dachs: str, tmp_path: Path) -> None:
    for mode in ("sync", "async"):
        with pytest.raises(ServiceError, match="column 'nosuch' could not be located"):
            fetch_cone(name="M67", extra_columns=["nosuch"], service=dachs, cache_dir=tmp_path,
                       mode=mode)
    with pytest.raises(ServiceError, match="rejected the query"):
        fetch_cone(name="M67", table="gaiadr3.no_such_table", service=dachs,
                   cache_dir=tmp_path, mode="sync")


def test_empty_cone(dachs: str, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="No sources"):
        fetch_cone(ra=200.0, dec=-60.0, radius=0.5, service=dachs, cache_dir=tmp_path,
                   mode="sync")


def test_cli_fetch_then_offline(dachs: str, rows: Table, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m67.vot"
    args = ["fetch", "NGC 2682", "--service", dachs, "--cache-dir", str(tmp_path / "cache"),
            "-o", str(out)]
    assert main(args) == 0
    written = Table.read(out)
    params = {p["name"]: p["value"]
              for p in fetch_cone(name="NGC 2682", service=dachs, cache_dir=tmp_path / "cache",
                                  offline=True).meta["ocml_params"]}
    assert set(written["source_id"].tolist()) == _brute_force(
        rows, params["ocml_cone_ra"], params["ocml_cone_dec"], params["ocml_cone_radius"])
    capsys.readouterr()
    assert main([*args, "--offline", "--overwrite"]) == 0
    assert "using the cached result" in capsys.readouterr().err
