"""Validation metrics on hand-made cases, DR2/DR3 id mismatches, and a real M67 reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from vo_ocml.analysis.validate import validate
from vo_ocml.errors import InputError

DATA = Path(__file__).parent / "data" / "analysis"


def annotated(n: int = 10, members: range = range(0, 5)) -> Table:
    """``n`` stars on a line 10 arcsec apart; ``members`` have P = 0.9, the others 0.1."""
    prob = np.full(n, 0.1)
    prob[list(members)] = 0.9
    prob[n - 1] = np.nan if n > 8 else prob[n - 1]  # an incomplete row
    return Table({
        "source_id": np.arange(1000, 1000 + n, dtype=np.int64),
        "ra": 100.0 + np.arange(n) * 10 / 3600, "dec": np.full(n, 20.0),
        "pmra": np.arange(n, dtype=float), "pmdec": np.zeros(n), "parallax": np.ones(n),
        "ocml_prob": prob,
    })


def test_hand_made_metrics() -> None:
    table = annotated()
    v = validate(table, {1003, 1004, 1005, 1006, 1007})
    # ours = {0..4}, reference = {3..7}: TP = 2
    assert (v.n_predicted, v.n_matched, v.n_true_positive) == (5, 5, 2)
    assert v.completeness == pytest.approx(2 / 5)
    assert v.contamination == pytest.approx(3 / 5)
    assert v.precision == pytest.approx(2 / 5)
    assert v.f1 == pytest.approx(2 * 2 / (5 + 5))
    assert v.match_fraction == 1.0 and v.n_by_id == 5 and v.n_by_position == 0
    assert v.reference_mask.tolist() == [False] * 3 + [True] * 5 + [False] * 2
    pmra = {c.name: c for c in v.comparisons}["pmra"]
    assert pmra.ours == pytest.approx(2.0) and pmra.reference == pytest.approx(5.0)
    assert pmra.difference == pytest.approx(-3.0)
    assert pmra.ours_se == pytest.approx(np.std([0, 1, 2, 3, 4], ddof=1) / np.sqrt(5))
    assert "completeness" in v.format() and "40.0 %" in v.format()


def test_perfect_and_threshold() -> None:
    table = annotated()
    v = validate(table, list(range(1000, 1005)))
    assert (v.completeness, v.contamination, v.f1) == (1.0, 0.0, 1.0)
    v = validate(table, list(range(1000, 1005)), threshold=0.95)
    assert v.n_predicted == 0 and v.completeness == 0.0 and np.isnan(v.contamination)


def test_column_references() -> None:
    table = annotated()
    table["flag"] = np.zeros(10, bool)
    table["flag"][[0, 1, 9]] = True
    v = validate(table, "flag")
    assert v.reference_source == "column flag"
    assert (v.n_reference, v.n_matched, v.n_true_positive) == (3, 3, 2)
    assert not any(label == "found in table" for label, _ in v.as_rows())
    table["refprob"] = np.where(table["flag"], 0.7, 0.2)
    assert validate(table, "refprob").n_true_positive == 2


def test_dr2_dr3_id_mismatch_falls_back_to_positions() -> None:
    table = annotated()
    ids = np.arange(1000, 1010, dtype=np.int64)
    ref = Table({"source_id_dr2": ids[2:7].copy(), "ra": table["ra"][2:7] + 0.2 / 3600,
                 "dec": table["dec"][2:7]})
    ref["source_id_dr2"][[0, 1]] = [555, 556]  # ids that changed between DR2 and DR3
    v = validate(table, ref)
    assert (v.n_reference, v.n_by_id, v.n_by_position, v.n_matched) == (5, 3, 2, 5)
    assert v.reference_mask.tolist() == [False, False] + [True] * 5 + [False] * 3
    assert v.completeness == pytest.approx(3 / 5)
    assert v.notes and "by position" in v.notes[0]
    # beyond the match radius the changed ids stay unmatched
    far = ref.copy()
    far["ra"] += 5 / 3600
    v = validate(table, far)
    assert (v.n_by_id, v.n_by_position, v.n_matched) == (3, 0, 3)
    assert v.match_fraction == pytest.approx(3 / 5)
    # without positions: a note says how to do better
    v = validate(table, ref["source_id_dr2",])
    assert v.n_matched == 3 and "ra/dec" in v.notes[0]


def test_bad_references() -> None:
    table = annotated()
    with pytest.raises(InputError, match="neither a column"):
        validate(table, "no_such_column")
    with pytest.raises(InputError, match="source_id"):
        validate(table, Table({"name": ["a"]}))
    with pytest.raises(InputError, match="ocml_prob"):
        validate(Table({"source_id": [1], "ra": [1.0], "dec": [1.0], "pmra": [1.0], "pmdec": [1.0],
                        "parallax": [1.0]}), {1})


def test_real_m67_reference_file() -> None:
    table = Table.read(DATA / "m67_dr3_subset.csv")
    pm_distance = np.hypot(table["pmra"] + 10.97, table["pmdec"] + 2.91)
    table["ocml_prob"] = np.where(pm_distance < 0.6, 0.95, 0.02)
    v = validate(table, DATA / "babusiaux2018_ngc2682_subset.csv")
    assert v.n_reference == 427 and v.n_matched == 395 and v.n_by_id == 395
    assert v.reference_source.startswith("file babusiaux")
    assert v.completeness > 0.9 and 0.6 < v.f1 <= 1.0
    parallax = {c.name: c for c in v.comparisons}["parallax"]
    assert abs(parallax.difference) < 0.02 and parallax.significance < 5


def test_params_for_the_output_table() -> None:
    v = validate(annotated(), {1003, 1004, 1005, 1006, 1007})
    params = {p["name"]: p for p in v.as_params()}
    assert params["ocml_validation_f1"]["value"] == pytest.approx(0.4)
    assert params["ocml_validation_delta_pmra"]["unit"] == "mas/yr"
    assert all(set(p) == {"name", "value", "ucd", "unit", "description"} for p in params.values())
