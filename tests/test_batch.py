"""vo_ocml.batch without Dask: the safe filter, target selection, the dir: naming, outputs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from vo_ocml.batch.sources import DirSource, parse_source
from vo_ocml.batch.targets import Target, from_catalogue, from_file, from_names
from vo_ocml.batch.where import evaluate_where
from vo_ocml.cli import main
from vo_ocml.errors import InputError, NotFoundError

COLS = {"N": np.array([10.0, 60.0, np.nan, 200.0]), "b": np.array([-3.0, 12.0, 1.0, 0.5]),
        "catalogue": np.array(["a", "b", "a", "a"])}


@pytest.mark.parametrize("text, expected", [
    ("N > 50", [False, True, False, True]),
    ("N > 50 and abs(b) < 5", [False, False, False, True]),
    ("not N > 50 or b > 10", [True, True, True, False]),
    ("20 < N <= 200", [False, True, False, True]),
    ("catalogue == 'a' and sqrt(N) >= 10", [False, False, False, True]),
    ("-b ** 2 < -1", [True, True, False, False]),
])
def test_where_grammar(text: str, expected: list[bool]) -> None:
    assert evaluate_where(text, COLS).tolist() == expected


@pytest.mark.parametrize("text, message", [
    ("__import__('os').system('true')", "Not allowed"),
    ("N.__class__", "Not allowed"),
    ("[x for x in N]", "Not allowed"),
    ("M > 3", "Unknown column 'M'"),
    ("N +", "Cannot parse"),
    ("N + 1", "true/false"),
])
def test_where_rejects(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        evaluate_where(text, COLS)


def test_catalogue_selection_by_filter_and_region() -> None:
    rich = from_catalogue("N > 2000 and hunt")
    assert rich and all(t.reference["n_members"] > 2000 for t in rich)
    assert all(t.reference["catalogue"] == "Hunt & Reffert 2023" for t in rich)
    names = {t.name for t in rich}
    assert "NGC 2682" not in names or lookup_n("NGC 2682") > 2000
    near = from_catalogue(region=(132.85, 11.81, 0.5))
    assert "NGC 2682" in {t.name for t in near}
    m67 = next(t for t in near if t.name == "NGC 2682")
    assert m67.cluster == "NGC 2682" and 0.1 <= m67.radius <= 1.5
    assert m67.radius_source.startswith("5 × r50")
    with pytest.raises(InputError, match="RADIUS"):
        from_catalogue(region=(10.0, 100.0, 1.0))


def lookup_n(name: str) -> float:
    from vo_ocml.catalog import lookup_cluster
    return lookup_cluster(name).n_members


def test_names_are_looked_up_and_deduplicated() -> None:
    targets = from_names(["M67", "NGC_2682", "Pleiades"], radius=0.3)
    assert [t.name for t in targets] == ["NGC 2682", "Melotte 22"]
    assert all(t.radius == 0.3 and t.radius_source == "given" for t in targets)
    with pytest.raises(NotFoundError, match="Did you mean"):
        from_names(["NGC 26822"])


def test_targets_file(tmp_path: Path) -> None:
    path = tmp_path / "targets.csv"
    path.write_text("name,ra,dec,radius,pmra,pmdec,parallax\n"
                    "SIM-1,200.0,-40.0,0.4,-2.5,1.0,0.7\n"
                    "M67,,,,,,\n"
                    ",10.5,-20.25,0.2,,,\n", encoding="utf-8")
    sim, m67, anon = from_file(path)
    assert (sim.name, sim.cluster, sim.centroid, sim.radius) == ("SIM-1", None, (-2.5, 1.0, 0.7), 0.4)
    assert m67.cluster == "NGC 2682" and math.isclose(m67.ra, 132.85, abs_tol=0.1)
    assert m67.reference["catalogue"] == "Hunt & Reffert 2023"
    assert anon.name == "10.5000-20.2500" and anon.reference == {}
    assert (sim.radius_source, anon.radius_source) == ("file", "file")
    assert m67.radius_source == "5 × r50 clipped to 0.1–1.5 deg (Hunt & Reffert 2023)"
    assert from_file(path, radius=0.5)[1].radius_source == "given"
    path.write_text("name,ra,dec\nX,1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="radius"):
        from_file(path)


def test_dir_naming(tmp_path: Path) -> None:
    for name in ("ngc2682_dr3_pmbox.csv", "Melotte_22.vot", "SIM-1.fits", "notes.txt",
                 "ngc_2516.csv"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    source = DirSource(str(tmp_path))
    m67, pleiades, ngc2516 = from_names(["M67", "Pleiades", "NGC 2516"])
    sim = Target("SIM-1", 200.0, -40.0, 0.4, "given")
    assert source.match(m67).name == "ngc2682_dr3_pmbox.csv"
    assert source.match(pleiades).name == "Melotte_22.vot"
    assert source.match(sim).name == "SIM-1.fits"
    assert source.match(ngc2516).name == "ngc_2516.csv"
    assert not source.covers(Target("NGC 188", 12.0, 85.2, 0.3, "given", cluster="NGC 188"))
    assert parse_source(f"dir:{tmp_path}") == source
    with pytest.raises(InputError, match="unknown kind"):
        parse_source("ftp:x")
    with pytest.raises(InputError, match="no such directory"):
        DirSource(str(tmp_path / "nope")).files()


def test_comparison_in_units_of_the_errors() -> None:
    from vo_ocml.batch.compare import add_comparison
    summary = Table({"status": ["found", "failed"], "pmra": [1.1, np.nan],
                     "pmra_se": [0.03, np.nan], "pmdec": [2.0, np.nan],
                     "pmdec_se": [0.04, np.nan], "parallax": [0.5, np.nan],
                     "parallax_se": [0.005, np.nan], "n_members": [50, -1]})
    ref = {"pmra": 1.0, "pmdec": 2.0, "parallax": 0.49, "s_pmra": 0.4, "s_pmdec": 0.3,
           "s_parallax": 0.08, "n_members": 100.0, "catalogue": "Hunt & Reffert 2023"}
    add_comparison(summary, [ref, ref])
    assert summary["d_pmra_sigma"][0] == pytest.approx(0.1 / 0.05)
    assert summary["d_pmdec_sigma"][0] == pytest.approx(0.0)
    assert summary["d_parallax_sigma"][0] == pytest.approx(0.01 / math.hypot(0.005, 0.008))
    assert summary["n_ratio"][0] == pytest.approx(0.5)
    assert summary["cat_distance"][0] == pytest.approx(1000 / 0.49)
    assert np.isnan(summary["d_pmra_sigma"][1]) and np.isnan(summary["n_ratio"][1])


def test_batch_help_lists_sources() -> None:
    from vo_ocml.cli import build_parser
    text = build_parser()._subparsers._group_actions[0].choices["batch"].format_help()
    for word in ("hats:PATH_OR_URL", "tap:URL", "dir:PATH", "--scheduler", "--where"):
        assert word in text


def test_run_options_come_from_the_options_model() -> None:
    from vo_ocml.cli import build_parser
    from vo_ocml.commands.batch import run_options, targets_from_args
    parser = build_parser()
    args = parser.parse_args(["batch", "M67", "--source", "dir:.", "--mixture", "gmm",
                              "--n-components", "3", "--threshold", "0.6", "--seed", "7"])
    given = {"method": "mstgmm", "threshold": 0.6, "random_state": 7, "mixture": "gmm",
             "n_components": 3}
    options = run_options(args)
    assert {k: options[k] for k in given} == given
    assert "cluster" not in options and "centroid" not in options
    targets, outside = targets_from_args(args)
    assert [t.name for t in targets] == ["NGC 2682"] and outside == "fail"
    with pytest.raises(InputError, match="must be"):
        run_options(parser.parse_args(["batch", "M67", "--source", "dir:.", "--threshold", "2"]))
    with pytest.raises(InputError, match="do not apply to a batch"):
        run_options(parser.parse_args(["batch", "M67", "--source", "dir:.", "--cluster", "M67"]))
    args = parser.parse_args(["batch", "--where", "N > 3000", "--source", "dir:."])
    targets, outside = targets_from_args(args)
    assert outside == "drop" and all(t.reference["n_members"] > 3000 for t in targets)


#: batch inputs that the library refuses, each with the option that fixes it: its command-line
#: arguments and its Python call (both named by the option's Python name)
REFUSED = {
    "source": (["M67", "--source", "ftp:x"], lambda tmp: parse_source("ftp:x")),
    "radius": (["NGC 7833", "--source", "dir:."],  # Dias et al. 2002: no r50, no rt
               lambda tmp: from_names(["NGC 7833"])),
    "region": (["--region", "10,100,1", "--source", "dir:."],
               lambda tmp: from_catalogue(region=(10.0, 100.0, 1.0))),
}


@pytest.mark.parametrize("option", sorted(REFUSED))
def test_cli_message_spells_the_flag(option: str, tmp_path: Path, capsys) -> None:
    pytest.importorskip("distributed")  # vo-ocml batch asks for the batch extra first
    argv, _ = REFUSED[option]
    assert main(["batch", *argv, "-o", str(tmp_path / "out")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"--{option}" in err and f"{option}=…" not in err and "{@" not in err, err


@pytest.mark.parametrize("option", sorted(REFUSED))
def test_python_message_names_the_parameter(option: str, tmp_path: Path) -> None:
    _, call = REFUSED[option]
    with pytest.raises(InputError) as info:
        call(tmp_path)
    assert f"{option}=…" in str(info.value) and "--" not in str(info.value)


def test_run_batch_names_its_source_parameter(tmp_path: Path) -> None:
    from vo_ocml.batch.driver import run_batch
    with pytest.raises(InputError, match="no such directory") as info:
        run_batch(from_names(["M67"]), DirSource(str(tmp_path / "nope")), tmp_path / "out")
    assert "source=…" in str(info.value) and "--" not in str(info.value)
