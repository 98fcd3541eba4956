"""Blind detection (vo_ocml.membership.detection) on small seeded simulated fields."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.special import log_ndtr

from vo_ocml.membership.detection import (FIRST_SEARCH_KEEPS, MAX_CANDIDATES, Detection,
                                          _merged, find_candidates)
from vo_ocml.membership.detection_cells import sigma_from_log_p
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


@pytest.mark.parametrize("seed", [1, 3, 4])
def test_a_poor_nearby_cluster_stands_out_among_the_better_measured_stars(seed):
    """50 members at 500 pc (1 km/s, 2 pc Plummer radius) among 20,000 field stars: cells wide
    enough for the faint field's errors drown their 0.4 mas/yr spread (best candidate 0.0–1.6σ,
    elsewhere, with one search over all stars); the search over the better-measured half
    finds them (detection.PRECISE_QUANTILE)."""
    rng = np.random.default_rng(seed)
    cluster = SimCluster(50, float(rng.uniform(-4, 2)), float(rng.uniform(-2, 3)), 2.0,
                         sd_pm=2.0 / 4.74, sd_parallax=2 * 2.0**2 / 1000,
                         plummer_radius=float(np.degrees(2 / 500)), offset=(0.1, -0.1))
    X, E = _arrays(simulate_cone(20000, (cluster,), radius=0.5, seed=seed))
    ok = np.all(np.isfinite(X), axis=1)
    found, _ = _search(X[ok], E[ok])
    assert found and _is(found[0], cluster) and found[0].significance >= 3.0


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


def test_the_search_over_the_better_measured_stars_only_adds_what_the_first_misses():
    """Two searches (all stars, the better-measured half) may describe one cluster twice. A
    peak the first finds at FIRST_SEARCH_KEEPS σ keeps its description (a new one would start
    the mixture elsewhere for nothing) and ranks by the better of the two; one it finds below
    that takes the second's, when more significant. Every significance counts the trials of
    both searches."""
    kinematic = Detection(centre=np.array([0.0, 0.0, 0.2]), scale=np.array([0.1, 0.1, 0.05]),
                          significance=5.0, n_peak=60, local_significance=6.5, n_trials=300.0)
    sky = Detection(centre=np.array([0.02, 0.0, 0.2]), scale=np.array([0.1, 0.1, 0.05]),
                    significance=4.0, n_peak=40, sky_centre=np.zeros(2), sky_scale=0.03,
                    local_significance=5.0, n_trials=300.0)
    best = _merged([sky], [kinematic], 600, MAX_CANDIDATES, keep_sky=False)
    assert len(best) == 1 and best[0].sky_centre is not None and best[0].n_trials == 600
    assert best[0].significance == pytest.approx(sigma_from_log_p(log_ndtr(-5.0) + np.log(600)))
    assert best[0].significance >= FIRST_SEARCH_KEEPS
    faint = replace(sky, local_significance=3.5)  # 0σ after 600 trials
    best = _merged([faint], [kinematic], 600, MAX_CANDIDATES, keep_sky=False)
    assert len(best) == 1 and best[0].sky_centre is None and best[0].significance > 3.0
    other = Detection(centre=np.array([3.0, 3.0, 0.5]), scale=np.array([0.1, 0.1, 0.05]),
                      significance=5.0, n_peak=30, sky_centre=np.ones(2), sky_scale=0.03,
                      local_significance=5.5, n_trials=300.0)
    best = _merged([sky, other], [kinematic], 600, MAX_CANDIDATES, keep_sky=False)
    assert [d.n_peak for d in best] == [40, 30]  # the first's description, the second's rank


@pytest.mark.parametrize("seed", [2, 3])
def test_cluster_wider_than_its_proper_motion_box_found(seed):
    """A nearby cluster (0.5 mas/yr spread) in a proper-motion box only ±0.5 mas/yr wide: it
    fills the box in proper motion and is the table's bulk, so only its parallax stands out;
    the shells around a cell then grow along parallax alone (detection_cells.kinematic_only).
    Without the cluster, the same box holds nothing significant."""
    cluster = SimCluster(1500, -3.0, 2.0, 2.6, sd_pm=0.5, sd_parallax=0.05,
                         plummer_radius=0.5)
    table = simulate_cone(20000, (cluster,), radius=1.0, seed=seed)
    X, E = _arrays(table)
    box = (np.abs(X[:, 2] + 3.0) < 0.5) & (np.abs(X[:, 3] - 2.0) < 0.5)
    found, _ = _search(X[box], E[box])
    assert found and _is(found[0], cluster) and found[0].significance >= 3.0
    field = box & (np.asarray(table["true_cluster"]) == 0)
    found, _ = _search(X[field], E[field])
    assert not found or found[0].significance < 3.0


@pytest.mark.parametrize("seed", [501, 502])
def test_a_field_cut_to_a_box_beside_its_peak_holds_no_cluster(seed):
    """A pure field cut to 2 × 2 mas/yr × 0.5 mas boxes beside its proper-motion peak: the
    density rises towards one edge. A cell whose shells grow denser away from it lies on that
    slope, and extrapolating the slope inwards predicted a valley that the cell then
    "exceeded": 3.6–4.1σ in four of these boxes before the nearer shell's density became the
    floor there (one of them 6.2σ with slab cells and no such floor)."""
    table = simulate_cone(20000, (), radius=0.5, seed=seed)
    X, E = _arrays(table)
    for lo in ([-1.0, -0.5, 0.0], [0.0, -0.5, 0.0], [1.0, -0.5, 0.0]):
        box = np.all((X[:, 2:] >= lo) & (X[:, 2:] <= np.add(lo, [2.0, 2.0, 0.5])), axis=1)
        found, _ = _search(X[box], E[box])
        assert not found or found[0].significance < 3.0, lo
