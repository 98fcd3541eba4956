"""Injection of simulated clusters into real fields, and recovery/calibration on them.

The fields are real Gaia tables from tests/data: the M67 DR3 proper-motion box (2° cone pre-cut
in proper motion; errors, ruwe) and the NGC 2477 cone of the SAMP tests (no error columns:
nominal errors).
Tolerances were measured on the model of 2026-11-28 (see docs/injection.md) with margin; a
model that puts P = 1 on everything that passes its filter fails them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vo_ocml import read_table, run
from vo_ocml.analysis.calibration import expected_calibration_error, reliability, selection_scores
from vo_ocml.errors import InputError
from vo_ocml.injection import KNOWN_COLUMN, TRUTH_COLUMN, FieldModel
from vo_ocml.injection import population as pop
from vo_ocml.membership.base import STAGE_GMM, STAGE_MST

DATA = Path(__file__).parent / "data"

M67_CONE = DATA / "core" / "m67_dr3_pmbox.csv"
NGC2477_CONE = DATA / "samp" / "ngc2477_cone_3000.csv"


def assert_calibrated(prob: np.ndarray, truth: np.ndarray, max_ece: float) -> None:
    """Fail when the candidates' (P ≥ 0.05) expected calibration error exceeds ``max_ece``."""
    ece = expected_calibration_error(prob, truth)
    assert ece <= max_ece, f"ECE {ece:.3f} > {max_ece}: the probabilities do not mean what they say"


@pytest.fixture(scope="module")
def m67_field():
    return read_table(M67_CONE)


@pytest.fixture(scope="module")
def ngc2477_field():
    return read_table(NGC2477_CONE)


def test_field_rows_unchanged_and_members_added(m67_field):
    before = m67_field.copy()
    model = FieldModel(m67_field, own="keep")
    inj = model.inject(np.random.default_rng(1), 800, 1.2)
    t = inj.table
    n_field = len(m67_field)
    assert len(t) == n_field + inj.truth["n_rows"]
    assert inj.truth["n_rows"] >= inj.truth["n_true"] > 100
    for name in m67_field.colnames:  # every field row and column, unchanged and in order
        assert np.array_equal(np.asarray(t[name][:n_field]), np.asarray(m67_field[name]), equal_nan=True), name
    assert m67_field.colnames == before.colnames and len(m67_field) == len(before)
    truth = np.asarray(t[TRUTH_COLUMN])
    assert not truth[:n_field].any() and truth[n_field:].all()
    assert np.asarray(t[KNOWN_COLUMN][:n_field]).sum() > 1000  # M67 itself is flagged
    # errors come from field stars of similar G
    assert set(np.asarray(t["pmra_error"][n_field:])) <= set(np.asarray(m67_field["pmra_error"]))
    assert t["source_id"][n_field:].min() > m67_field["source_id"].max()


def test_injected_spreads(ngc2477_field):
    model = FieldModel(ngc2477_field)  # a cone: no pm box to truncate the spread
    inj = model.inject(np.random.default_rng(2), 2000, 3.0, sigma_v_kms=1.5, r_core_pc=1.0,
                       concentration=1.0)
    t, tr = inj.table, inj.truth
    m = np.asarray(t[TRUTH_COLUMN])
    bright = m & (np.asarray(t["phot_g_mean_mag"]) < 16)  # errors ≤ 0.05 mas/yr: intrinsic dominates
    expected = pop.pm_dispersion(1.5, 3.0)
    assert np.nanstd(np.asarray(t["pmra"][bright])) == pytest.approx(expected, rel=0.2)
    assert np.nanstd(np.asarray(t["pmdec"][bright])) == pytest.approx(expected, rel=0.2)
    assert np.nanmedian(np.asarray(t["parallax"][bright])) == pytest.approx(tr["parallax"], abs=0.01)
    sep = np.hypot((np.asarray(t["ra"][m]) - tr["ra"]) * np.cos(np.radians(tr["dec"])),
                   np.asarray(t["dec"][m]) - tr["dec"])
    assert sep.max() <= tr["r_tidal_deg"] * 1.01
    assert np.median(sep) < 0.5 * tr["r_tidal_deg"]  # centrally concentrated


def test_noise_scale_scales_the_scatter(ngc2477_field, m67_field):
    """observed = truth + K × noise: K 1, 1.1, 1.2 step by the same noise (a cone: no box
    drops a star at one K and keeps it at another)."""
    tables = [FieldModel(ngc2477_field, noise_scale=k).inject(
        np.random.default_rng(5), 300, 2.0).table for k in (1.0, 1.1, 1.2)]
    assert len({len(t) for t in tables}) == 1
    injected = np.asarray(tables[0][TRUTH_COLUMN])
    obs = [np.column_stack([np.asarray(t[q], float)[injected] for q in ("pmra", "pmdec", "parallax")])
           for t in tables]
    step = obs[1] - obs[0]
    assert np.nanmin(np.abs(step)) > 0
    np.testing.assert_allclose(obs[2] - obs[1], step, atol=1e-9)
    with pytest.raises(InputError, match="noise_scale"):
        FieldModel(m67_field, noise_scale=0)


def test_mask_removes_the_catalogued_cluster_and_is_seeded(m67_field):
    model = FieldModel(m67_field)
    assert model.n_masked > 1000 and len(model.base) == len(m67_field) - model.n_masked
    a = model.inject(np.random.default_rng(5), 300, 2.0).table
    b = model.inject(np.random.default_rng(5), 300, 2.0).table
    assert len(a) == len(b)
    assert np.array_equal(np.asarray(a["pmra"]), np.asarray(b["pmra"]), equal_nan=True)


def test_thinning_removes_rows_with_their_probability_and_is_seeded(ngc2477_field):
    """own="thin": a row goes with its given probability (the field's cluster membership);
    the rest of the table is untouched and the draw is reproducible."""
    p = np.zeros(len(ngc2477_field))
    p[:1000], p[1000:2000] = 1.0, 0.5
    model = FieldModel(ngc2477_field, own="thin", own_probability=p, random_state=3)
    again = FieldModel(ngc2477_field, own="thin", own_probability=p, random_state=3)
    kept = np.asarray(model.base["source_id"])
    assert np.array_equal(kept, np.asarray(again.base["source_id"]))
    ids = np.asarray(ngc2477_field["source_id"])
    assert not np.isin(ids[:1000], kept).any() and np.isin(ids[2000:], kept).all()
    assert 400 < np.isin(ids[1000:2000], kept).sum() < 600
    assert model.n_masked == len(ngc2477_field) - len(kept)
    with pytest.raises(InputError, match="own_probability"):
        FieldModel(ngc2477_field, own="thin")


def test_no_error_columns_get_nominal_errors(ngc2477_field):
    model = FieldModel(ngc2477_field)
    assert not model.has_errors
    inj = model.inject(np.random.default_rng(0), 500, 2.0)
    m = np.asarray(inj.table[TRUTH_COLUMN])
    g = np.asarray(inj.table["phot_g_mean_mag"][m])
    assert np.nanmax(g) <= np.nanmax(np.asarray(ngc2477_field["phot_g_mean_mag"]))
    with pytest.raises(InputError):
        model.inject(np.random.default_rng(0), 0, 2.0)


def test_population_physics():
    rng = np.random.default_rng(0)
    masses = pop.kroupa_masses(rng, 20000, 0.1, 5.0)
    assert masses.min() >= 0.1 and masses.max() <= 5.0
    assert 0.2 < np.mean(masses > 0.5) < 0.35  # Kroupa: ~28 % of stars above 0.5 M☉ in 0.1–5
    assert pop.turnoff_mass(1e10) == pytest.approx(1.0)
    radii = pop.king_radii(rng, 20000, 1.0, 10.0)
    assert radii.max() <= 10.0 and 0.8 < np.median(radii) < 2.0


def test_calibration_scores():
    rng = np.random.default_rng(0)
    p = rng.random(50000)
    truth = rng.random(50000) < p  # calibrated by construction
    assert expected_calibration_error(p, truth) < 0.02
    assert expected_calibration_error(np.where(p >= 0.05, 1.0, p), truth) > 0.4
    rel = reliability(p, truth)
    assert rel.counts.sum() == (p >= 0.05).sum()
    s = selection_scores(np.array([0.9, 0.9, 0.1, np.nan]), np.array([True, False, True, False]))
    assert (s.completeness, s.purity, s.f1) == (0.5, 0.5, 0.5)
    with pytest.raises(AssertionError):
        assert_calibrated(np.where(p >= 0.05, 1.0, p), truth, 0.1)


@pytest.mark.parametrize("field, seed, min_f1, max_ece", [
    (M67_CONE, 2, 0.9, 0.1),
    (NGC2477_CONE, 3, 0.7, 0.15),
])
def test_recovery_and_calibration(field, seed, min_f1, max_ece):
    model = FieldModel(read_table(field))
    inj = model.inject(np.random.default_rng(seed), 600, 1.5)
    annotated = run(inj.table, centroid=inj.centroid)
    prob = annotated.result.probability
    truth = np.asarray(inj.table[TRUTH_COLUMN])
    assert selection_scores(prob, truth).f1 >= min_f1
    assert np.nansum(prob) / inj.truth["n_true"] == pytest.approx(1.0, abs=0.25)
    assert_calibrated(prob, truth, max_ece)
    # a model that trusts its filter blindly (P = 1 for every star past it) fails
    past_filter = np.isin(annotated.result.stage, [STAGE_MST, STAGE_GMM])
    with pytest.raises(AssertionError):
        assert_calibrated(np.where(past_filter, 1.0, prob), truth, max_ece)


def test_blind_detection(m67_field):
    # M67 thinned to the field's density, as the bench does: masked by the catalogue, its
    # halo (190 stars at its motion and parallax) is still a cluster, which a blind run may
    # rightly find first
    own = np.nan_to_num(np.asarray(run(m67_field).result.probability, float))
    model = FieldModel(m67_field, own="thin", own_probability=own)
    inj = model.inject(np.random.default_rng(2), 600, 1.5)
    annotated = run(inj.table)  # the cluster is not named: found in the data
    scores = selection_scores(annotated.result.probability, np.asarray(inj.table[TRUTH_COLUMN]))
    assert scores.completeness >= 0.9 and scores.purity >= 0.9
