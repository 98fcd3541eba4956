"""The field's Gaussians whose means drift with magnitude (vo_ocml.membership.field_gaussians)."""

import numpy as np
import pytest

from vo_ocml.membership.dispersion_bound import hotter_than_bound
from vo_ocml.membership.field_gaussians import drift_coefficients, drifting_start
from vo_ocml.membership.joint_mixture import JointSeed, fit_joint_mixture
from vo_ocml.membership.mixture_step import radial
from vo_ocml.membership.radial_mixture import fit_radial_mixture
from vo_ocml.membership.sky_prior import MagnitudeBins

#: the simulated field's drift per magnitude in pmra, pmdec (mas/yr) and parallax (mas): its
#: faint stars are farther away, as in real fields
DRIFT = np.array([0.3, -0.3, -0.15])
CLUSTER = np.array([-1.8, 2.2, 0.7])
N_FIELD, N_CLUSTER = 3000, 150


def _table(drift: np.ndarray, seed: int = 0):
    """(kin, errors, sky, G, truth): a field drifting with G by ``drift`` around a cluster."""
    rng = np.random.default_rng(seed)
    g = rng.uniform(14.0, 20.5, N_FIELD + N_CLUSTER)
    err = 0.02 * np.exp((g - 14.0) / 1.6)  # Gaia's: ~0.02 at G 14, ~1.2 mas at G 20.5
    field = np.column_stack([rng.normal(-1.0, 0.8, N_FIELD), rng.normal(2.0, 0.8, N_FIELD),
                             rng.normal(0.9, 0.15, N_FIELD)]) \
        + np.outer(g[:N_FIELD] - 17.0, drift)
    cluster = rng.normal(CLUSTER, [0.05, 0.05, 0.01], (N_CLUSTER, 3))
    kin = np.vstack([field, cluster]) + rng.normal(0, 1, (len(g), 3)) * err[:, None]
    r, angle = 0.5 * np.sqrt(rng.random(N_FIELD)), rng.uniform(0, 2 * np.pi, N_FIELD)
    sky = np.vstack([np.column_stack([r * np.cos(angle), r * np.sin(angle)]),
                     rng.normal(0, 0.05, (N_CLUSTER, 2))])
    truth = np.arange(len(g)) >= N_FIELD
    return kin, np.repeat(err[:, None], 3, axis=1), sky, g, truth


def _fit(kin, errors, sky, g, slope: bool):
    return fit_radial_mixture(kin, errors, sky, CLUSTER, np.array([0.05, 0.05, 0.01]),
                              np.zeros(2), mag=g, n_field=1, field_slope=slope)


def test_magnitude_bins_offsets_are_their_medians_about_their_mean():
    g = np.r_[np.linspace(14, 20, 3000), np.nan]
    bins = MagnitudeBins(g)
    medians = [np.median(g[bins.index(g, len(g)) == k]) for k in range(bins.n_bins - 1)]
    assert bins.offsets[:-1] == pytest.approx(np.array(medians) - np.mean(medians))
    assert bins.offsets[-1] == 0.0  # the bin of stars without a magnitude
    assert not np.any(MagnitudeBins(np.linspace(14, 20, 100)).offsets)  # one bin: no drift
    assert not np.any(MagnitudeBins(None).offsets)


def test_drifting_means_round_trip():
    bins = MagnitudeBins(np.linspace(14, 20, 3000))
    b = bins.index(np.linspace(14, 20, 3000), 3000)
    design, means = drifting_start(np.array([[1.0, 2.0, 0.5]]), bins, b)
    assert means.shape == (1, 3000, 3) and np.all(means == [1.0, 2.0, 0.5])
    slope = np.array([0.2, -0.1, -0.05])
    means[0] = [1.0, 2.0, 0.5] + np.outer(bins.offsets[b], slope)
    centre, slopes = drift_coefficients(design, means)
    assert centre[0] == pytest.approx([1.0, 2.0, 0.5]) and slopes[0] == pytest.approx(slope)
    # fewer than two bins: the means stay fixed
    one = MagnitudeBins(np.linspace(14, 20, 100))
    assert drifting_start(np.ones((1, 3)), one, np.zeros(100, int))[0] is None


def test_a_field_drifting_with_magnitude_is_described_and_its_faint_members_counted():
    """Fixed field Gaussians put the faint field at the bright field's parallax: near the
    cluster, where its faint members then lose half their probability (Σ P 0.65 of the truth
    at G > 19 for this seed); drifting, the field's drift is recovered and they are counted."""
    kin, errors, sky, g, truth = _table(DRIFT)
    fixed, drifting = _fit(kin, errors, sky, g, False), _fit(kin, errors, sky, g, True)
    assert drifting.field_slopes[0] == pytest.approx(DRIFT, abs=0.03)
    assert drifting.bic(len(kin)) < fixed.bic(len(kin))
    faint = g > 19
    assert fixed.probability[faint].sum() < 0.75 * np.sum(truth & faint)
    assert 0.85 < drifting.probability[faint].sum() / np.sum(truth & faint) < 1.15
    # new stars are scored with each one's drifted field means, as the fit scored them
    assert drifting.predict(kin, errors, sky, g) == pytest.approx(drifting.probability, abs=0.01)


@pytest.mark.parametrize("drift, chosen", [(DRIFT, True), (np.zeros(3), False)])
def test_bic_chooses_a_drifting_field_only_where_the_field_drifts(drift, chosen):
    kin, errors, sky, g, _ = _table(drift, seed=1)
    _, info, model = radial(kin, errors, sky, CLUSTER, np.array([0.05, 0.05, 0.01]),
                            np.zeros(2), n_field=[1], gradient=False, max_fit_stars=20000,
                            random_state=0, mag=g)
    assert set(info["bic"]) == {"2", "2 drifting"}  # one field Gaussian, fixed or drifting
    assert info["field_drifts_with_g"] is chosen and (model.field_slopes is not None) is chosen


def test_hotter_than_bound_takes_the_bound_at_the_fitted_parallax():
    assert hotter_than_bound([0.3, 0.3, 0.01], 0.2, 0.5, 0.5)
    assert not hotter_than_bound([0.1, 0.1, 0.01], 0.2, 0.5, 0.5)
    # 0.19 mas/yr is within the bound set at 0.5 mas, not at 0.4 mas (0.16; 0.162 with the
    # proper motions' systematic error)
    assert not hotter_than_bound([0.19, 0.19, 0.01], 0.2, 0.5, 0.5)
    assert hotter_than_bound([0.19, 0.19, 0.01], 0.2, 0.5, 0.4)


def test_the_joint_mixtures_field_drifts_too():
    """The several-cluster mixture with ``field_drift``: on the same drifting field, with the
    cluster as its only seed, the drift is recovered, the faint members counted as the single
    drifting model counts them, and new stars scored as the fit scored them."""
    kin, errors, sky, g, truth = _table(DRIFT)
    seed = [JointSeed(CLUSTER, np.array([0.05, 0.05, 0.01]), np.zeros(2))]
    fixed = fit_joint_mixture(kin, errors, sky, seed, mag=g)
    drifting = fit_joint_mixture(kin, errors, sky, seed, mag=g, field_drift=True)
    assert fixed.field_slopes is None
    assert drifting.field_slopes[0] == pytest.approx(DRIFT, abs=0.03)
    faint = g > 19
    assert fixed.probability[faint, 0].sum() < 0.75 * np.sum(truth & faint)
    assert 0.85 < drifting.probability[faint, 0].sum() / np.sum(truth & faint) < 1.15
    assert drifting.predict(kin, errors, sky, g) == pytest.approx(drifting.probability, abs=0.01)
