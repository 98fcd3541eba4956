"""Physically impossible values become incomplete rows, counted in the provenance; the CLI's
last-resort handler turns an unexpected exception into one paragraph and exit status 1."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from astropy.table import Table

from vo_ocml import read_table, run
from vo_ocml.io.limits import LIMITS, screen
from vo_ocml.membership.base import STAGE_INCOMPLETE


def _param(annotated, name):
    return next(p["value"] for p in annotated.table.meta["ocml_params"] if p["name"] == name)


def test_binary2_values_near_1e300_are_incomplete_rows(data_dir, tmp_path):
    # the crash of issue 12: BINARY2 bytes decoding to ~1e300 reached the density estimate
    table = Table.read(data_dir / "m67_dr3_300_binary2.vot")
    table["pmra"][:3] = 1e300
    table["parallax"][3] = -1e300
    table["parallax_error"][4] = 0.0
    table["phot_g_mean_mag"][5] = 500.0
    path = tmp_path / "corrupt.vot"
    table.write(path, format="votable", tabledata_format="binary2")
    before = path.read_bytes()
    annotated = run(read_table(path), cluster="NGC 2682")
    assert path.read_bytes() == before
    assert list(annotated.result.stage[:6]) == [STAGE_INCOMPLETE] * 6
    assert np.all(np.isnan(annotated.result.probability[:6]))
    assert _param(annotated, "ocml_n_implausible") == 6
    assert len(annotated.table) == 300 and annotated.table["pmra"][0] == 1e300  # kept as given


def test_screen_leaves_its_input_alone_and_counts_per_quantity():
    pmra = np.array([1.0, 3e4, np.nan, -2.0])
    err = np.array([0.1, 0.1, 0.1, -0.1])
    arrays = {"pmra": pmra, "pmra_error": err, "ra": np.zeros(4)}
    cleaned, found = screen(arrays, 4)
    assert found.count == 2 and found.by_quantity == {"pmra": 1, "pmra_error": 1}
    assert np.isnan(cleaned["pmra"][[1, 3]]).all() and np.isnan(cleaned["ra"][[1, 3]]).all()
    assert pmra[1] == 3e4 and err[3] == -0.1  # the caller's arrays (views of the table) intact
    assert np.isnan(pmra[2])  # a missing value is not an impossible one: not counted


@pytest.mark.parametrize("quantity", sorted(LIMITS))
def test_every_limit_has_an_inside(quantity):
    low, high = LIMITS[quantity]
    assert low < high


def test_unexpected_exception_is_one_paragraph_and_status_1(tmp_path):
    # a real failure inside the run: scipy's graph module cannot be imported (a broken install)
    code = ("import sys; sys.modules['scipy.sparse.csgraph'] = None; "
            "from vo_ocml.cli import main; sys.exit(main(sys.argv[1:]))")
    args = [sys.executable, "-c", code, "run", "-o", str(tmp_path / "o.vot")]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "unexpected ModuleNotFoundError" in proc.stderr and "please report it" in proc.stderr
    assert proc.stderr.count("\n\n") == 0
    verbose = subprocess.run([*args, "-v"], capture_output=True, text=True, timeout=300)
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr
