"""The reference-free member count (vo_ocml.analysis.excess) against simulated truth."""

import numpy as np
import pytest

from vo_ocml.analysis.excess import kinematic_excess
from vo_ocml.membership.sky import angular_distance
from vo_ocml.simulate import SimCluster, simulate_cone

CLUSTER = SimCluster(600, -2.5, 1.0, 0.4, sd_pm=0.05, sd_parallax=0.01, plummer_radius=0.05)
CENTRE = (120.0, -30.0)  # simulate_cone's default centre; the cluster has no offset
EDGES = np.array([0.0, 18.0, 19.0, 20.0, 21.5])


def _cone(seed: int):
    t = simulate_cone(20000, (CLUSTER,), radius=0.5, seed=seed)
    kin = np.column_stack([np.asarray(t[q], float) for q in ("pmra", "pmdec", "parallax")])
    err = np.column_stack([np.asarray(t[f"{q}_error"], float)
                           for q in ("pmra", "pmdec", "parallax")])
    return t, kin, err, np.asarray(t["phot_g_mean_mag"], float), np.asarray(t["true_cluster"]) == 1


def _count(t, kin, err, g, truth, centre, avoid=CENTRE):
    ra, dec = np.asarray(t["ra"], float), np.asarray(t["dec"], float)
    inner = angular_distance(ra, dec, *centre) < 2.5 * CLUSTER.plummer_radius
    outer = (angular_distance(ra, dec, *centre) > 5 * CLUSTER.plummer_radius) \
        & (angular_distance(ra, dec, *avoid) > 5 * CLUSTER.plummer_radius)
    mean = np.array([CLUSTER.pmra, CLUSTER.pmdec, CLUSTER.parallax])
    sd = np.array([CLUSTER.sd_pm, CLUSTER.sd_pm, CLUSTER.sd_parallax])
    return kinematic_excess(inner, outer, kin, err, g, mean, sd, edges=EDGES,
                            sums={"true": truth})


@pytest.mark.parametrize("seed", [0, 1])
def test_the_count_finds_a_simulated_clusters_members_at_every_magnitude(seed):
    rows = _count(*_cone(seed), CENTRE)
    pulls = (rows["excess"] - rows["true"]) / rows["excess_error"]
    assert np.all(np.abs(pulls) < 3), rows
    # informative: in the faintest bin the field is a large part of the window's stars, yet
    # every count's error is below 35 % of the truth
    assert rows["n_field"][-1] > 0.3 * rows["n_inner"][-1], rows
    assert np.all(rows["excess_error"] < 0.35 * rows["true"]), rows


def test_a_circle_away_from_the_cluster_counts_none():
    t, kin, err, g, truth = _cone(2)
    rows = _count(t, kin, err, g, truth, (120.0 + 0.3 / np.cos(np.radians(-30.0)), -30.0))
    assert np.sum(rows["true"]) <= 2  # the Plummer sphere's far tail
    assert np.all(np.abs(rows["excess"] / rows["excess_error"]) < 3), rows
    assert np.sum(rows["n_inner"]) > 20  # the window holds field stars there: not trivially 0


def test_bad_regions_and_shapes_are_refused():
    t, kin, err, g, truth = _cone(0)
    everywhere = np.ones(len(t), bool)
    mean, sd = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match="in both regions"):
        kinematic_excess(everywhere, everywhere, kin, err, g, mean, sd, edges=EDGES)
    with pytest.raises(ValueError, match="kin and err"):
        kinematic_excess(everywhere, ~everywhere, kin[:, :2], err, g, mean, sd, edges=EDGES)
    with pytest.raises(ValueError, match="increasing"):
        kinematic_excess(everywhere, ~everywhere, kin, err, g, mean, sd, edges=[19.0])
    with pytest.raises(ValueError, match="area ratio"):
        kinematic_excess(everywhere, ~everywhere, kin, err, g, mean, sd, edges=EDGES)
