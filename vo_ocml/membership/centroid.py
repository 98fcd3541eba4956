"""Find an open cluster in (pmra, pmdec, parallax) without prior knowledge, and measure it.

Detection (:func:`find_centroid`): on up to ``max_stars`` of the best-measured stars, each axis
is scaled by the field's robust spread (1.4826 × MAD). For every star and several kernel radii
(kinematic, and on the sky when positions are given), the number of neighbours within the
kernel is compared with the number a smooth field would give there: the product of the stars'
smoothed sky and kinematic densities (smoothed histograms), which a cluster -- concentrated in
both at once -- violates. The Poisson significance (n − n_bg)/√(n_bg + 1), maximised over stars
and kernels, marks the densest compact overdensity away from the field's smooth bulk; a mean
shift at the best kernel refines the peak.

Measurement (:func:`measure_cluster`): around a seed (found, catalogued or user-given), a
two-component Gaussian mixture on the stars in a window separates the cluster's core from the
local field, giving the refined centroid and the cluster's observed spread; subtracting the
median squared error of its stars gives the intrinsic spread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.spatial import cKDTree
from sklearn.mixture import GaussianMixture

log = logging.getLogger(__name__)

#: kinematic kernel radii tried for detection, in units of the field's robust spread
DETECTION_SCALES = (0.03, 0.06, 0.12, 0.25, 0.5)
#: sky kernel radii tried (units of the field's robust sky spread); inf = sky ignored
SKY_SCALES = (0.3, 0.8, np.inf)
_V5_UNIT = 8.0 * np.pi**2 / 15.0  # volume of the unit 5-ball


@dataclass(frozen=True)
class Detection:
    """A compact overdensity found in (pmra, pmdec, parallax) and, when given, on the sky.

    Attributes
    ----------
    centre : ndarray, shape (3,)
        (pmra, pmdec, parallax) of the peak, mas/yr and mas.
    scale : ndarray, shape (3,)
        Kinematic kernel radius of the best detection per axis (mas/yr, mas/yr, mas).
    significance : float
        Poisson significance (n − n_bg)/√(n_bg + 1) of the overdensity at the peak.
    n_peak : int
        Stars within the kernel at the peak (in the searched subsample).
    sky_centre : ndarray, shape (2,) or None
        Tangent-plane (ξ, η) of the peak in degrees, when a sky kernel won.
    sky_scale : float
        Sky kernel radius in degrees (inf when the sky was not used).
    """

    centre: np.ndarray
    scale: np.ndarray
    significance: float
    n_peak: int
    sky_centre: np.ndarray | None = None
    sky_scale: float = np.inf


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
        return np.sort(np.argsort(np.sqrt(np.sum(errors**2, axis=1)), kind="stable")[:max_stars])
    return np.sort(np.random.default_rng(random_state).choice(n, max_stars, replace=False))


def _robust_scale(Z: np.ndarray) -> np.ndarray:
    mad = np.median(np.abs(Z - np.median(Z, axis=0)), axis=0) * 1.4826
    spread = np.std(Z, axis=0)
    return np.where(mad > 0, mad, np.where(spread > 0, spread, 1.0))


def _smoothed_density(Z: np.ndarray, max_bins: int, width_floor: float, sigma: float,
                      edge_correct: bool) -> np.ndarray:
    """Probability density of the stars' distribution at each star, by a smoothed histogram.

    With ``edge_correct`` (for the sky, where bins are well filled), normalised convolution --
    smoothed counts over the smoothed footprint of occupied bins -- keeps the density right at
    the edges of a cone or a pre-cut box.
    """
    ndim = Z.shape[1]
    lo, hi = Z.min(axis=0) - 1e-9, Z.max(axis=0) + 1e-9
    width = max(width_floor, float(np.max((hi - lo) / max_bins)))
    bins = np.maximum(np.ceil((hi - lo) / width).astype(int), 1)
    hist, _ = np.histogramdd(Z, bins=bins, range=list(zip(lo, lo + bins * width)))
    s = max(1.0, sigma / width)
    counts = gaussian_filter(hist, sigma=s, mode="constant")
    idx = tuple(np.clip(((Z[:, d] - lo[d]) / width).astype(int), 0, bins[d] - 1)
                for d in range(ndim))
    local = counts[idx]
    if edge_correct:
        footprint = gaussian_filter((hist > 0).astype(float), sigma=s, mode="constant")
        local = local / np.maximum(footprint[idx], 1e-3)
    return local / (len(Z) * width**ndim)


def find_centroid(pm_plx: np.ndarray, errors: np.ndarray | None = None,
                  sky: np.ndarray | None = None, *, max_stars: int = 40000,
                  max_queries: int = 6000, min_stars: int = 8,
                  random_state: int | None = 0) -> Detection | None:
    """Find the most significant compact overdensity in (pmra, pmdec, parallax).

    Parameters
    ----------
    pm_plx : ndarray, shape (n, 3)
        (pmra, pmdec, parallax) of complete stars, mas/yr and mas.
    errors : ndarray, shape (n, 3), optional
        Their standard errors; when given, the ``max_stars`` best-measured stars are searched,
        otherwise a random subsample.
    sky : ndarray, shape (n, 2), optional
        Tangent-plane positions (ξ, η) in degrees. When given, overdensities that are also
        concentrated on the sky are favoured: the field model is then the product of the
        stars' sky and kinematic distributions, which a cluster violates.
    max_stars : int
        Size of the searched subsample (speed on cones of millions of stars).
    max_queries : int
        Stars of that subsample at which the significance is evaluated (neighbours are
        counted among all of it); the mean shift then climbs to the exact peak.
    min_stars : int
        Fewest stars a peak's kernel must hold.
    random_state : int or None
        Seed of the subsample.

    Returns
    -------
    Detection or None
        None when there are too few stars to search.
    """
    n = len(pm_plx)
    if n < 3 * min_stars:
        return None
    pick = best_measured(errors, n, max_stars, random_state)
    X = pm_plx[pick]
    scale = _robust_scale(X)
    Z = (X - np.median(X, axis=0)) / scale
    p_kin = _smoothed_density(Z, max_bins=120, width_floor=0.25, sigma=0.5, edge_correct=False)
    sky_scales: tuple[float, ...] = (np.inf,)
    if sky is not None:
        S = sky[pick]
        sky_unit = _robust_scale(S).mean()
        Zs = (S - np.median(S, axis=0)) / sky_unit
        p_sky = _smoothed_density(Zs, max_bins=30, width_floor=0.4, sigma=0.6, edge_correct=True)
        sky_scales = SKY_SCALES
    rng = np.random.default_rng(random_state)
    queries = np.arange(len(X)) if len(X) <= max_queries else \
        np.sort(rng.choice(len(X), max_queries, replace=False))
    best = (-np.inf, 0, 0.0, np.inf, 0)
    for h_sky in sky_scales:
        tree = cKDTree(Z) if not np.isfinite(h_sky) else None
        for h in DETECTION_SCALES:
            if np.isfinite(h_sky):
                local = np.hstack([Zs * (h / h_sky), Z])
                counts = cKDTree(local).query_ball_point(local[queries], h, return_length=True,
                                                         workers=-1) - 1
                expected = len(X) * (p_sky * p_kin)[queries] * _V5_UNIT * h_sky**2 * h**3
            else:
                counts = tree.query_ball_point(Z[queries], h, return_length=True, workers=-1) - 1
                expected = len(X) * p_kin[queries] * (4.0 / 3.0) * np.pi * h**3
            signif = (counts - expected) / np.sqrt(expected + 1.0)
            signif[counts < min_stars] = -np.inf
            j = int(np.argmax(signif))
            if signif[j] > best[0]:
                best = (float(signif[j]), int(queries[j]), h, h_sky, int(counts[j]))
    significance, i, h, h_sky, n_peak = best
    if not np.isfinite(significance):
        return None
    if np.isfinite(h_sky):
        points = np.hstack([Zs * (h / h_sky), Z])
    else:
        points = Z
    tree = cKDTree(points)
    centre = points[i].copy()
    for _ in range(20):  # mean shift at the detection radius
        new = points[tree.query_ball_point(centre, h)].mean(axis=0)
        if np.allclose(new, centre, atol=1e-4 * h):
            break
        centre = new
    kin = centre[-3:] * scale + np.median(X, axis=0)
    sky_centre = None
    if np.isfinite(h_sky):
        sky_centre = centre[:2] * (h_sky / h) * sky_unit + np.median(S, axis=0)
    log.debug("detected overdensity at %s (significance %.1f, %d stars, radius %.3g σ_field, "
              "sky radius %.3g)", kin, significance, n_peak, h, h_sky)
    return Detection(centre=kin, scale=h * scale, significance=significance, n_peak=n_peak,
                     sky_centre=sky_centre,
                     sky_scale=h_sky * sky_unit if np.isfinite(h_sky) else np.inf)


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


def max_pm_dispersion(parallax: float, velocity_dispersion: float = 5.0) -> float:
    """The largest intrinsic proper-motion dispersion (mas/yr) a bound cluster can have.

    σ_pm = σ_v ϖ / 4.74 with ϖ taken as at least 0.1 mas, and never below 0.5 mas/yr (room for
    underestimated errors and systematics in distant clusters). Open clusters have
    σ_v ≲ 1–3 km/s; a "cluster" hotter than ``velocity_dispersion`` is a feature of the field.
    """
    return max(0.5, velocity_dispersion * max(float(parallax), 0.1) / 4.74)


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
                    iterations: int = 3, velocity_dispersion: float = 5.0,
                    max_window: int = 20000) -> ClusterFit | None:
    """Measure the cluster around ``seed`` with a local two-component mixture.

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
        whose spread grows past three times the starting one, or whose intrinsic proper-motion
        spread exceeds what a bound cluster can have (:func:`max_pm_dispersion`) has found the
        local field instead of the cluster and is discarded (the previous values are kept).
    velocity_dispersion : float
        km/s, for that last test.
    max_window : int
        At most this many stars of the window (a random sample) are fitted.

    Returns
    -------
    ClusterFit or None
        None when the window holds too few stars for a fit.
    """
    centre, spread = np.asarray(seed, float), np.maximum(np.asarray(guess, float), 1e-3)
    seed_spread = spread.copy()
    n_core = 0.0
    for _ in range(iterations):
        window = np.flatnonzero(np.all(np.abs(pm_plx - centre) < 6.0 * spread, axis=1))
        if len(window) > max_window:  # a sample is enough to measure the spreads
            window = np.sort(np.random.default_rng(random_state).choice(window, max_window,
                                                                        replace=False))
        W = pm_plx[window]
        if len(W) < 10:
            return None
        gmm = GaussianMixture(2, covariance_type="full", random_state=random_state,
                              init_params="random_from_data", weights_init=[0.3, 0.7],
                              means_init=np.vstack([centre, W.mean(axis=0)]),
                              precisions_init=np.stack([np.diag(1 / spread**2),
                                                        np.diag(1 / (3 * spread) ** 2)]))
        gmm.fit(W)
        k = int(np.argmin([np.linalg.det(c) for c in gmm.covariances_]))
        new_centre = gmm.means_[k]
        new_spread = np.sqrt(np.diag(gmm.covariances_[k]))
        n_core = float(gmm.weights_[k] * len(W))
        wandered = np.any(np.abs(new_centre - np.asarray(seed)) > 2.0 * seed_spread)
        too_hot = _intrinsic(W, gmm.predict_proba(W)[:, k], new_spread, errors, window) \
            > max_pm_dispersion(new_centre[2], velocity_dispersion)
        if n_core < 5 or wandered or too_hot or np.any(new_spread > 3.0 * seed_spread):
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
