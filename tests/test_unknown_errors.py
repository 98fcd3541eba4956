"""Tables without errors or G: the cluster as a mixture over Gaia's levels of error."""

import numpy as np
import pytest

from vo_ocml.analysis.calibration import selection_scores
from vo_ocml.membership.unknown_errors import ErrorLevels
from vo_ocml.pipeline import run
from vo_ocml.simulate import SimCluster, simulate_cone


def test_levels_recover_the_intrinsic_spread_and_the_shares():
    rng = np.random.default_rng(0)
    levels = ErrorLevels.start()
    n, sd = 4000, 0.1
    which = np.where(rng.random(n) < 0.5, 0, len(levels.errors) - 2)  # no error, or G 20's
    kin = rng.normal(0.0, sd, (n, 3)) + rng.normal(size=(n, 3)) * levels.errors[which]
    mean, cov, floor = np.zeros(3), np.diag(np.full(3, 0.3**2)), np.full(3, 1e-4)
    for _ in range(200):
        _, resp = levels.log_density(kin, mean, cov)
        mean, cov, _, levels = levels.update(kin, np.ones(n), resp, mean, cov, floor, None, False)
    shares = np.exp(levels.log_shares)
    assert np.sqrt(np.diag(cov)) == pytest.approx(sd, abs=0.02)
    # the members without error and at G 20 each come out near half (the levels of G 13 and
    # G 16, 0.02-0.04, are no error beside a 0.1 spread: they share the first half)
    assert shares[:3].sum() == pytest.approx(0.5, abs=0.1)
    assert shares[-3:].sum() == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize("seed", [0, 2])
def test_a_table_without_errors_or_g_keeps_its_faint_members(seed):
    # one Gaussian fitted the well-measured core and left the rest to the field: F1 0.53-0.62,
    # Σ P / N_true 0.37-0.45 on these cones before the levels of error
    cluster = SimCluster(150, -1.5, 0.5, 0.45, sd_pm=0.05, sd_parallax=0.02, plummer_radius=0.05)
    table = simulate_cone(5000, (cluster,), radius=0.3, seed=seed)
    truth = np.asarray(table["true_cluster"]) == 1
    table.remove_columns(["phot_g_mean_mag", "bp_rp", "pmra_error", "pmdec_error",
                          "parallax_error"])
    result = run(table, centroid=(cluster.pmra, cluster.pmdec, cluster.parallax)).result
    p = np.nan_to_num(np.asarray(result.probability, float))
    assert selection_scores(p, truth).f1 > 0.75
    assert 0.8 < p.sum() / truth.sum() < 1.15
    assert len(result.details["mixture"]["error_level_shares"]) == len(ErrorLevels.start().errors)


def test_the_mean_of_a_cluster_without_errors_is_as_uncertain_as_its_members_levels():
    # with the members' unknown errors ignored the mean's standard error was the intrinsic
    # spread over √N (rms of (fit − truth) / SE 1.6–2.9 over 12 such cones; 0.95–1.46 with
    # the levels)
    cluster = SimCluster(150, -1.5, 0.5, 0.45, sd_pm=0.05, sd_parallax=0.02, plummer_radius=0.05)
    table = simulate_cone(5000, (cluster,), radius=0.3, seed=0)
    table.remove_columns(["phot_g_mean_mag", "bp_rp", "pmra_error", "pmdec_error",
                          "parallax_error"])
    annotated = run(table, centroid=(cluster.pmra, cluster.pmdec, cluster.parallax))
    mixture = annotated.result.details["mixture"]
    members = np.nansum(annotated.result.probability)
    spread_only = np.asarray(mixture["cluster_intrinsic_sd"]) / np.sqrt(members)
    se = np.array([annotated.summary.pmra_se, annotated.summary.pmdec_se,
                   annotated.summary.parallax_se])
    assert np.all(se > 1.3 * spread_only)


def test_several_clusters_without_errors_or_g_each_keep_their_faint_members():
    # bench/multi_cluster.py's seed-1 case 18, stripped to astrometry: one Gaussian per
    # cluster gave F1 0.60 and 0.62 (0.99 and 0.97 with every column)
    clusters = (SimCluster(250, -2.5, 1.0, 0.217, sd_pm=0.046, sd_parallax=0.02,
                           plummer_radius=0.025, offset=(0.023, -0.080)),
                SimCluster(162, -1.094, 2.397, 0.437, sd_pm=0.092, sd_parallax=0.02,
                           plummer_radius=0.050, offset=(-0.023, 0.080)))
    table = simulate_cone(6031, clusters, radius=0.4, seed=19)
    truth = np.asarray(table["true_cluster"])
    table.remove_columns(["phot_g_mean_mag", "bp_rp", "pmra_error", "pmdec_error",
                          "parallax_error"])
    result = run(table, clusters="all", random_state=0).result
    found = np.nan_to_num(result.cluster_probability[:, :-1]) > 0.5
    for j in (1, 2):
        overlap = (found & (truth == j)[:, None]).sum(axis=0)
        k = int(np.argmax(overlap))
        f1 = 2 * overlap[k] / ((truth == j).sum() + found[:, k].sum())
        assert f1 > 0.8, (j, f1)
