"""Measure an open cluster in (pmra, pmdec, parallax) around a seed, and bound its dispersion.

The seed comes from the user, a catalogue, or blind detection in the data
(:mod:`vo_ocml.membership.detection`).

Measurement (:func:`measure_cluster`): around a seed (found, catalogued or user-given), a
two-component Gaussian mixture on the stars in a window separates the cluster's core from the
local field, giving the refined centroid and the cluster's observed spread; subtracting the
median squared error of its stars gives the intrinsic spread.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from sklearn.mixture import GaussianMixture

#: the clusters' share of the window when its mixture starts (the local field: the rest)
CORE_WEIGHT = 0.3
#: a cluster is measured in a window of this many of its spreads around it on every axis
WINDOW_SPREADS = 6.0
#: with other clusters in the table, a cluster is measured on the stars whose errors are
#: below this fraction of its expected spread per axis (the guess): their errors widen the
#: observed spread by at most ~12 % (√(1 + 0.5²)), whereas faint stars' errors, larger than a
#: nearby cluster's whole spread, would make it look hot and swallow its neighbours ...
PRECISE_FRACTION = 0.5
#: ... provided at least this many such stars remain (else all are used): enough for the
#: window's few-component mixture (10 parameters per component)
MIN_PRECISE = 100


def best_measured(errors: np.ndarray | None, n: int, max_stars: int = 40000,
                  random_state: int | None = 0) -> np.ndarray:
    """Indices of at most ``max_stars`` stars: the best-measured ones (smallest total error),
    or a random sample when errors are unknown; all stars when there are few enough.

    On a cone of millions of stars the cluster stands out most clearly among the precise
    measurements, and these are enough to find and measure it.
    """
    if n <= max_stars:
        return np.arange(n)
    if errors is not None and np.all(np.isfinite(errors)):
        total = np.sum(errors**2, axis=1)
        # the max_stars smallest (a partial sort; ties at the cut go to the earlier row)
        cut = np.partition(total, max_stars - 1)[max_stars - 1]
        below = np.flatnonzero(total < cut)
        at = np.flatnonzero(total == cut)[:max_stars - len(below)]
        return np.sort(np.concatenate([below, at]))
    return np.sort(np.random.default_rng(random_state).choice(n, max_stars, replace=False))


@dataclass(frozen=True)
class ClusterFit:
    """The cluster's centroid and spreads measured around a seed.

    Attributes
    ----------
    centre : ndarray, shape (3,)
        Refined (pmra, pmdec, parallax).
    observed_spread : ndarray, shape (3,)
        Standard deviation of the cluster component (errors included).
    intrinsic_spread : ndarray, shape (3,)
        Observed spread with the median measurement error removed in quadrature
        (equal to the observed spread when errors are unknown).
    n_core : float
        Effective number of stars in the cluster component of the window.
    """

    centre: np.ndarray
    observed_spread: np.ndarray
    intrinsic_spread: np.ndarray
    n_core: float


#: the hottest bound open cluster (km/s, one-dimensional internal velocity dispersion): measured
#: dispersions of open clusters are ~0.3–1.5 km/s, the richest ~2 km/s with binaries' orbital
#: motion included (e.g. Soubiran et al. 2018; Pang et al. 2021). A bound of 5 km/s let the
#: cluster's Gaussian swell into the field's own kinematic peak around small distant clusters
#: (the injection benchmark: named ECE 0.146 at 5 km/s, 0.102 at 3 km/s)
BOUND_VELOCITY_DISPERSION = 3.0


def max_pm_dispersion(parallax: float,
                      velocity_dispersion: float = BOUND_VELOCITY_DISPERSION) -> float:
    """The largest intrinsic proper-motion dispersion (mas/yr) a bound cluster can have.

    σ_pm = σ_v ϖ / 4.74 with ϖ taken as at least 0.1 mas, and never below 0.5 mas/yr (room for
    underestimated errors and systematics in distant clusters). Open clusters have
    σ_v ≲ 1–2 km/s; a "cluster" hotter than ``velocity_dispersion`` is a feature of the field.
    """
    return max(0.5, velocity_dispersion * max(float(parallax), 0.1) / 4.74)


#: the largest line-of-sight dispersion (pc) of an open cluster's stars: tidal radii are
#: ≲ 10–20 pc (Hunt & Reffert 2023), so 10 pc bounds the depth of any real cluster
MAX_DEPTH_PC = 10.0
#: the parallax spread (mas) any cluster may show whatever its distance: Gaia DR3's small-scale
#: parallax systematics (~0.01–0.02 mas, Lindegren et al. 2021) and underestimated errors
MIN_PARALLAX_SPREAD = 0.05


def max_parallax_dispersion(parallax: float) -> float:
    """The largest intrinsic parallax dispersion (mas) a cluster at ``parallax`` (mas) can have.

    A depth σ_d gives σ_ϖ = ϖ σ_d / d = ϖ² σ_d / 1000 (ϖ in mas, σ_d in pc), with σ_d at most
    :data:`MAX_DEPTH_PC`, and never below :data:`MIN_PARALLAX_SPREAD`. Without the bound the
    cluster's Gaussian can widen along parallax over field stars in front of and behind it.
    """
    return max(MIN_PARALLAX_SPREAD, float(parallax) ** 2 * MAX_DEPTH_PC / 1000.0)


def _intrinsic(W: np.ndarray, weights: np.ndarray, spread: np.ndarray,
               errors: np.ndarray | None, window: np.ndarray) -> float:
    """RMS intrinsic pm spread of a component: observed minus the weighted mean error²."""
    if errors is None:
        return float(np.sqrt(np.mean(spread[:2] ** 2)))
    w = weights / max(weights.sum(), 1e-9)
    err2 = np.sum(w[:, None] * errors[window][:, :2] ** 2, axis=0)
    return float(np.sqrt(np.mean(np.maximum(spread[:2] ** 2 - err2, 0.0))))


def measure_cluster(pm_plx: np.ndarray, errors: np.ndarray | None, seed: np.ndarray,
                    guess: np.ndarray, *, random_state: int | None = 0,
                    iterations: int = 3,
                    velocity_dispersion: float = BOUND_VELOCITY_DISPERSION,
                    max_window: int = 20000, others: np.ndarray | None = None,
                    others_spread: np.ndarray | None = None,
                    max_growth: float = 3.0) -> ClusterFit | None:
    """Measure the cluster around ``seed`` with a local two-component mixture.

    With ``others`` and errors, only the stars measured to better than
    :data:`PRECISE_FRACTION` of ``guess`` on every axis are used when there are at least
    :data:`MIN_PRECISE` of them and enough of them near the seed for a fit; else every star
    (a poor nearby cluster has few precise stars: a several-cluster run then skipped it).

    Parameters
    ----------
    pm_plx : ndarray, shape (n, 3)
        (pmra, pmdec, parallax) of complete stars.
    errors : ndarray, shape (n, 3) or None
        Their standard errors.
    seed : ndarray, shape (3,)
        Starting centroid.
    guess : ndarray, shape (3,)
        Starting guess of the cluster's observed spread per axis.
    random_state : int or None
        Seed of the mixture.
    iterations : int
        Window updates. A fit whose centre moves more than two starting spreads from the seed,
        whose spread grows past ``max_growth`` times the starting one, or whose intrinsic proper-motion
        spread exceeds what a bound cluster can have (:func:`max_pm_dispersion`) has found the
        local field instead of the cluster and is discarded (the previous values are kept).
    velocity_dispersion : float
        km/s, for that last test.
    max_growth : float
        Largest ratio of the measured spread to ``guess`` on any axis.
    max_window : int
        At most this many stars of the window (a random sample) are fitted.
    others, others_spread : ndarray, shape (m, 3), optional
        Centroids and spreads of other clusters found in the same table (several-cluster
        runs). Each that lies inside the window gets a component of its own, started there,
        so that a neighbour a few spreads away is not measured as part of this cluster;
        the cluster is then the component started at ``seed``.

    Returns
    -------
    ClusterFit or None
        None when the window holds too few stars for a fit.
    """
    seed, guess = np.asarray(seed, float), np.maximum(np.asarray(guess, float), 1e-3)
    measure = partial(_measure, seed=seed, guess=guess, random_state=random_state,
                      iterations=iterations, velocity_dispersion=velocity_dispersion,
                      max_window=max_window, others=others, others_spread=others_spread,
                      max_growth=max_growth)
    if errors is not None and others is not None and len(others):
        # neighbours to tell apart: the mixture is not deconvolved, so measure on the
        # precise stars -- unless they are too few near the seed (a poor nearby cluster)
        precise = np.all(errors < PRECISE_FRACTION * guess, axis=1)
        if precise.sum() >= MIN_PRECISE:
            fit = measure(pm_plx[precise], errors[precise])
            if fit is not None:
                return fit
    return measure(pm_plx, errors)


def _measure(pm_plx: np.ndarray, errors: np.ndarray | None, *, seed: np.ndarray,
             guess: np.ndarray, random_state: int | None, iterations: int,
             velocity_dispersion: float, max_window: int, others: np.ndarray | None,
             others_spread: np.ndarray | None, max_growth: float) -> ClusterFit | None:
    """:func:`measure_cluster` on the stars given (None: too few in the window)."""
    centre, spread = seed, guess
    seed_spread = spread.copy()
    n_core = 0.0
    for _ in range(iterations):
        window = np.flatnonzero(np.all(np.abs(pm_plx - centre) < WINDOW_SPREADS * spread,
                                       axis=1))
        if len(window) > max_window:  # a sample is enough to measure the spreads
            window = np.sort(np.random.default_rng(random_state).choice(window, max_window,
                                                                        replace=False))
        W = pm_plx[window]
        if len(W) < 10:
            return None
        means, spreads = [centre], [spread]
        if others is not None:
            inside = np.all(np.abs(others - centre) < WINDOW_SPREADS * spread, axis=1)
            means += list(others[inside])
            spreads += list(np.maximum(others_spread[inside], 1e-3))
        clusters = len(means)
        gmm = GaussianMixture(clusters + 1, covariance_type="full", random_state=random_state,
                              init_params="random_from_data",
                              weights_init=[CORE_WEIGHT / clusters] * clusters + [1 - CORE_WEIGHT],
                              means_init=np.vstack(means + [W.mean(axis=0)]),
                              precisions_init=np.stack([np.diag(1 / s**2) for s in spreads]
                                                       + [np.diag(1 / (3 * spread) ** 2)]))
        gmm.fit(W)
        k = 0 if clusters > 1 else int(np.argmin([np.linalg.det(c) for c in gmm.covariances_]))
        new_centre = gmm.means_[k]
        new_spread = np.sqrt(np.diag(gmm.covariances_[k]))
        n_core = float(gmm.weights_[k] * len(W))
        wandered = np.any(np.abs(new_centre - np.asarray(seed)) > 2.0 * seed_spread)
        too_hot = _intrinsic(W, gmm.predict_proba(W)[:, k], new_spread, errors, window) \
            > max_pm_dispersion(new_centre[2], velocity_dispersion)
        if n_core < 5 or wandered or too_hot or np.any(new_spread > max_growth * seed_spread):
            break  # the fit left the seed for the field: keep the last good values
        converged = np.allclose(new_spread, spread, rtol=0.05)
        centre, spread = new_centre, new_spread
        if converged:
            break
    intrinsic = spread.copy()
    if errors is not None:
        core = np.all(np.abs(pm_plx - centre) < 2.0 * spread, axis=1)
        if core.sum() >= 5:
            err2 = np.nanmedian(errors[core] ** 2, axis=0)
            intrinsic = np.sqrt(np.maximum(spread**2 - err2, (0.2 * spread) ** 2))
    return ClusterFit(centre=centre, observed_spread=spread, intrinsic_spread=intrinsic,
                      n_core=n_core)
