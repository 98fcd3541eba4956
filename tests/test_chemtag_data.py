"""Dataset preparation: columns, cuts, repeats, missing values, bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from vo_ocml.chemtag.data import (
    Cuts,
    column_as_float,
    find_abundance_columns,
    find_error_column,
    load_default,
    prepare,
)
from vo_ocml.errors import InputError

RAW = Path(__file__).parent / "data" / "chem" / "apogee_occam_raw_subset.csv"


@pytest.fixture(scope="module")
def raw() -> Table:
    return Table.read(RAW, format="ascii.csv")


def test_find_abundance_columns_takes_element_ratios_only():
    names = ["CLUSTER", "MG_FE", "MG_FE_ERR", "FE_H", "M_H", "C_O", "TIII_FE", "ALPHA_M",
             "sigma_CO", "x_h"]
    assert find_abundance_columns(names) == ["MG_FE", "FE_H", "TIII_FE"]


def test_find_error_column_patterns():
    assert find_error_column(["MG_FE", "MG_FE_ERR"], "MG_FE") == "MG_FE_ERR"
    assert find_error_column(["MG_FE", "e_MG_FE"], "MG_FE") == "e_MG_FE"
    assert find_error_column(["MG_FE"], "MG_FE") is None


def test_sentinels_and_masks_become_nan():
    t = Table({"a": np.ma.array([1.0, -9999.0, -9999.99, 2.0], mask=[0, 0, 0, 1])})
    out = column_as_float(t, "a")
    assert out[0] == 1.0 and np.isnan(out[1:]).all()


def test_real_subset_cuts_are_reported_in_order(raw):
    ds = prepare(raw)
    names = [s.name for s in ds.report.steps]
    assert names == ["input", "label", "repeats", "membership", "feh", "mean_error", "missing",
                     "min_members"]
    for before, after in zip(ds.report.steps[1:], ds.report.steps[2:]):
        assert after.n_before == before.n_after
    repeats = ds.report.steps[2]
    assert repeats.removed == len(raw) - len(np.unique(raw["APOGEE_ID"]))
    assert ds.report.steps[3].removed > 0  # real non-members are in the subset
    # Berkeley 53 has 7 rows in the file: it cannot survive the >= 8 members cut
    assert "Berkeley 53" not in set(ds.y)
    assert len(np.unique(ds.rows)) == len(ds.rows)
    assert ds.features == ["C_FE", "O_FE", "MG_FE", "SI_FE", "AL_FE", "FE_H"]
    assert ds.error_columns == {"FE_H": "FE_H_ERR"}
    assert (ds.feh[np.isfinite(ds.feh)] >= -0.6).all()
    assert "removed" in ds.report.format()


def test_repeat_observations_keep_the_highest_snr(raw):
    ds = prepare(raw, cuts=Cuts(min_members=1))
    ids = np.asarray(raw["APOGEE_ID"])
    snr = np.asarray(raw["SNR"], float)
    for row in ds.rows:
        same = ids == ids[row]
        assert snr[row] == snr[same].max()


def test_rows_without_identifier_are_not_merged():
    t = Table({"CLUSTER": ["A"] * 4, "APOGEE_ID": ["x", "x", "", ""],
               "SNR": [10.0, 50.0, 1.0, 2.0], "MG_FE": [0.1, 0.2, 0.3, 0.4]})
    ds = prepare(t, cuts=Cuts(min_members=1))
    assert list(ds.rows) == [1, 2, 3]


def test_missing_policies(raw):
    t = raw.copy()
    t["AL_FE"][:40] = -9999
    imputed = prepare(t, cuts=Cuts(min_members=1))
    dropped = prepare(t, cuts=Cuts(min_members=1), missing="drop")
    assert np.isnan(imputed.X).any()
    assert not np.isnan(dropped.X).any()
    assert len(dropped.y) < len(imputed.y)
    with pytest.raises(InputError, match="missing must be"):
        prepare(t, missing="zero")


def test_star_missing_most_abundances_is_dropped_even_when_imputing():
    t = Table({"CLUSTER": ["A"] * 3, "MG_FE": [0.1, np.nan, 0.2],
               "SI_FE": [0.1, np.nan, 0.3], "FE_H": [0.0, 0.1, np.nan]})
    ds = prepare(t, cuts=Cuts(min_members=1))
    assert list(ds.rows) == [0, 2]


def test_no_label_column_is_a_clear_error(raw):
    t = raw.copy()
    t.remove_column("CLUSTER")
    with pytest.raises(InputError, match="no label column"):
        prepare(t)
    with pytest.raises(InputError, match="no label column 'NOPE'|no label column NOPE"):
        prepare(raw, label="NOPE")


def test_all_nan_abundance_column_is_a_clear_error(raw):
    t = raw.copy()
    t["MG_FE"] = -9999.0
    with pytest.raises(InputError, match="MG_FE.*no valid value"):
        prepare(t, abundances=["MG_FE", "FE_H"])
    ds = prepare(t)  # auto-detection skips it
    assert "MG_FE" not in ds.features
    empty = Table({"CLUSTER": ["A", "B"], "MG_FE": [np.nan, np.nan]})
    with pytest.raises(InputError, match="no usable abundance columns"):
        prepare(empty)


def test_unknown_abundance_and_missing_quality_column(raw):
    with pytest.raises(InputError, match="not in the table"):
        prepare(raw, abundances=["ZZ_FE"])
    with pytest.raises(InputError, match="QUAL"):
        prepare(raw, cuts=Cuts(min_quality=2))


def test_cuts_that_remove_everything_explain_themselves(raw):
    with pytest.raises(InputError, match="no stars left"):
        prepare(raw, cuts=Cuts(min_members=1000))


def test_embedded_default_is_the_real_analogue():
    table = load_default()
    ds = prepare(table)
    assert len(ds.y) == 477 and len(ds.classes) == 19
    assert len(ds.features) == 6
    hq = prepare(table, cuts=Cuts(min_quality=2))
    assert set(hq.classes) < set(ds.classes)
    assert "NGC 6791" in set(hq.classes)
    assert hq.report.steps[-3].name == "quality"
