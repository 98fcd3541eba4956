"""Blind detection (vo_ocml.membership.detection) on small seeded simulated fields."""

from __future__ import annotations

import numpy as np
import pytest

from vo_ocml.membership.detection import find_candidates
from vo_ocml.membership.sky import tangent_plane
from vo_ocml.simulate import SimCluster, simulate_cone

#: a detection is "the cluster" when its centre is this close (mas/yr, mas) and on the sky (deg)
PM_TOL, PLX_TOL, SKY_TOL = 0.3, 0.1, 0.1


def _arrays(table):
    X = np.column_stack([np.asarray(table[c], float)
                         for c in ("ra", "dec", "pmra", "pmdec", "parallax")])
    E = np.column_stack([np.asarray(table[c], float)
                         for c in ("pmra_error", "pmdec_error", "parallax_error")])
    return X, E


def _search(X, E):
    sky = tangent_plane(X[:, 0], X[:, 1], 120.0, -30.0)
    return find_candidates(X[:, 2:], E, sky), sky


def _is(det, cluster: SimCluster) -> bool:
    return (np.all(np.abs(det.centre[:2] - [cluster.pmra, cluster.pmdec]) < PM_TOL)
            and abs(det.centre[2] - cluster.parallax) < PLX_TOL
            and (det.sky_centre is None
                 or np.all(np.abs(det.sky_centre - cluster.offset) < SKY_TOL)))


def test_poor_distant_cluster_found_blind():
    """31 members at 5 kpc among 10,000 field stars: found, and significant."""
    cluster = SimCluster(31, -2.0, 1.5, 0.2, sd_pm=0.05, sd_parallax=0.01,
                         plummer_radius=0.02, offset=(0.1, -0.15))
    X, E = _arrays(simulate_cone(10000, (cluster,), radius=0.5, seed=3))
    found, _ = _search(X, E)
    assert found and _is(found[0], cluster)
    assert found[0].significance >= 3.0
    assert found[0].local_significance > found[0].significance  # trials cost something


def test_box_cut_neither_creates_nor_hides_clusters():
    """A table pre-cut to a proper-motion/parallax box, with the cluster near the box's edge."""
    cluster = SimCluster(80, -1.0, 0.2, 0.45, sd_pm=0.08, sd_parallax=0.02,
                         plummer_radius=0.04, offset=(-0.2, 0.1))
    X, E = _arrays(simulate_cone(60000, (cluster,), radius=0.5, seed=5))
    box = (np.abs(X[:, 2] + 1.5) < 0.7) & (np.abs(X[:, 3] - 0.5) < 0.7) \
        & (X[:, 4] > 0.3) & (X[:, 4] < 0.8)
    found, _ = _search(X[box], E[box])
    assert found and _is(found[0], cluster) and found[0].significance >= 3.0
    # the same box without the cluster: nothing significant at its edges or anywhere
    truth = np.asarray(simulate_cone(60000, (cluster,), radius=0.5, seed=5)["true_cluster"])
    field = box & (truth == 0)
    found, _ = _search(X[field], E[field])
    assert not found or found[0].significance < 3.0


def test_cluster_filling_the_table_found_kinematically():
    """A proper-motion box that is mostly one nearby cluster (no field to compare on the sky)."""
    cluster = SimCluster(600, 8.0, -5.0, 4.0, sd_pm=0.4, sd_parallax=0.08, plummer_radius=0.4)
    X, E = _arrays(simulate_cone(20000, (cluster,), radius=1.0, seed=7))
    box = (np.abs(X[:, 2] - 8.0) < 2.0) & (np.abs(X[:, 3] + 5.0) < 2.0)
    found, _ = _search(X[box], E[box])
    assert found and _is(found[0], cluster) and found[0].significance >= 3.0


def test_nearby_cluster_larger_than_the_cone_found_kinematically():
    """100 members of a cluster spread far beyond a 0.3° cone among 4,000 field stars: no sky
    contrast, and its kinematic cells hold fewer stars than the field's peak; it stands out
    from its neighbouring cells."""
    cluster = SimCluster(100, -4.4, 0.4, 2.7, sd_pm=0.8, sd_parallax=0.1, plummer_radius=3.0)
    X, E = _arrays(simulate_cone(4000, (cluster,), radius=0.3, seed=11))
    found, _ = _search(X, E)
    assert found and _is(found[0], cluster) and found[0].significance >= 3.0


def test_absurd_values_do_not_break_the_search():
    """1e300 and infinities in a few rows: no overflow, the cluster is still found."""
    cluster = SimCluster(200, -2.5, 1.0, 0.7, plummer_radius=0.05)
    X, E = _arrays(simulate_cone(5000, (cluster,), radius=0.5, seed=1))
    X[:3, 2] = 1e300
    X[3:5, 4] = -1e300
    E[5:7, 0] = 1e300
    with np.errstate(over="raise"):  # an overflow anywhere in the search would raise
        found, _ = _search(X, E)
    assert found and _is(found[0], cluster)
    assert np.isfinite(found[0].significance)


@pytest.mark.parametrize("seed", [11, 12])
def test_pure_field_has_no_significant_candidate(seed):
    X, E = _arrays(simulate_cone(8000, (), radius=0.5, seed=seed))
    found, _ = _search(X, E)
    assert not found or found[0].significance < 3.0


def test_no_cluster_reports_candidates_with_significance():
    from vo_ocml.pipeline import run

    table = simulate_cone(6000, (), radius=0.5, seed=4)
    annotated = run(table)
    details = annotated.result.details
    assert not annotated.result.found
    assert details["detection_significance"] < 3.0
    assert "sigma global" in details["detection_candidates"]
    params = {p["name"]: p["value"] for p in annotated.table.meta["ocml_params"]}
    assert "sigma global" in params["ocml_detection_candidates"]
    assert params["ocml_detection_significance"] == pytest.approx(details["detection_significance"])
