"""The core's candidate scope: the cluster's seed, its measured spreads and the adaptive filter.

Shared by the estimators: :class:`~vo_ocml.membership.mstgmm.MSTGMM` filters with
:func:`adaptive_filter`, and :class:`~vo_ocml.membership.dec.DEC` (default features) clusters
only the stars that :func:`candidates` keeps, so that its groups separate the cluster from the
field stars of the same proper-motion/parallax cell instead of partitioning the whole cone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.special import erf, gammaincinv

from vo_ocml.membership.centroid import BOUND_VELOCITY_DISPERSION, best_measured, measure_cluster
from vo_ocml.membership.detection import Detection, find_candidates
from vo_ocml.membership.result import Centroid
from vo_ocml.membership.unknown_errors import stand_in

log = logging.getLogger(__name__)

#: fallback observed spread (pmra, pmdec, parallax) around a given centroid before refinement
DEFAULT_SPREAD = np.array([0.5, 0.5, 0.15])
#: smallest spread guess per axis taken from a catalogue centroid (mas/yr, mas/yr, mas)
MIN_GUESS = 0.05
#: a sky-detected cluster is measured within this many detection boxes of its centre
DETECTION_SKY_WINDOW = 3.0
#: the default method's defaults (MSTGMM's filter_nsigma, min_significance,
#: max_velocity_dispersion; tests/test_dec.py checks they agree): filter half-width (σ),
#: detection threshold (σ, trials-corrected), hottest bound cluster (km/s)
FILTER_NSIGMA = 3.0
MIN_SIGNIFICANCE = 3.0
VELOCITY_DISPERSION = BOUND_VELOCITY_DISPERSION


def adaptive_filter(kin: np.ndarray, err: np.ndarray | None, centre: np.ndarray,
                    observed: np.ndarray, intrinsic: np.ndarray, nsigma: float) -> np.ndarray:
    """Stars within ±``nsigma`` σ of the cluster in (pmra, pmdec, parallax), as a χ²₃ quantile.

    The per-star variance is σ_int² + σ_i² (the cluster's intrinsic spread plus the star's own
    error), or the cluster's observed spread² when errors are unknown.

    Parameters
    ----------
    kin : ndarray, shape (n, 3)
        (pmra, pmdec, parallax).
    err : ndarray, shape (n, 3) or None
        Their standard errors.
    centre, observed, intrinsic : ndarray, shape (3,)
        The cluster's centroid, observed and intrinsic spreads.
    nsigma : float
        Half-width in standard deviations of a normal (3: 99.7 % of members pass).

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    # in place, and the three terms added as np.sum(axis=1) adds them (the same d2): half the
    # time of the plain expression on 2,000,000 rows
    d = kin - centre
    d *= d
    if err is not None:
        var = err * err
        var += intrinsic**2
        d /= var
    else:
        d /= observed**2
    d2 = d[:, 0] + d[:, 1] + d[:, 2]
    level = erf(nsigma / np.sqrt(2.0))
    return d2 < 2.0 * gammaincinv(1.5, level)  # the χ² quantile for 3 degrees of freedom


@dataclass(frozen=True)
class Scope:
    """The stars that may be members, and the cluster measured around its seed.

    Attributes
    ----------
    passed : ndarray of bool, shape (n,)
        Stars that pass the adaptive filter.
    centre, observed_spread, intrinsic_spread : ndarray, shape (3,)
        The filter's centroid and the cluster's spreads (mas/yr, mas/yr, mas).
    source : str
        Where the seed came from (``"data"``, ``"user"``, ``"catalogue"``, …).
    significance : float
        Detection significance (NaN for a given centroid).
    """

    passed: np.ndarray
    centre: np.ndarray
    observed_spread: np.ndarray
    intrinsic_spread: np.ndarray
    source: str
    significance: float


def candidates(kin: np.ndarray, err: np.ndarray | None, sky: np.ndarray, centroid: Centroid | None, *,
               nsigma: float = FILTER_NSIGMA, min_significance: float = MIN_SIGNIFICANCE,
               velocity_dispersion: float = VELOCITY_DISPERSION,
               random_state: int | None = 0,
               detections: list[Detection] | None = None) -> tuple[Scope | None, str]:
    """Seed, measure and filter, as the default method's front end does.

    The seed is ``centroid`` or the most significant overdensity
    (:func:`~vo_ocml.membership.detection.find_candidates`);
    :func:`~vo_ocml.membership.centroid.measure_cluster` measures the cluster around it on the
    best-measured stars (near where it was found on the sky, for a detection; a data seed is
    re-centred, a given one stays put); :func:`adaptive_filter` keeps the stars compatible
    with it. The same steps as :class:`~vo_ocml.membership.mstgmm.MSTGMM`'s front end.

    Parameters
    ----------
    kin : ndarray, shape (n, 3)
        (pmra, pmdec, parallax) of complete stars, in a canonical order.
    err : ndarray, shape (n, 3) or None
        Their standard errors.
    sky : ndarray, shape (n, 2)
        Tangent-plane positions (deg).
    centroid : Centroid or None
        A known centroid; None finds it in the data.
    nsigma, min_significance, velocity_dispersion : float
        Filter half-width (σ), detection threshold, and the hottest bound cluster (km/s).
    random_state : int or None
        Seed of the detection and measurement.
    detections : list of Detection, optional
        The blind detection's candidates when already searched (several-cluster runs search
        with ``resolve_sky``); None searches here.

    Returns
    -------
    (Scope or None, str)
        The scope, or None and the reason no cluster was found.
    """
    if centroid is not None:
        centre = centroid.as_array()
        guess = DEFAULT_SPREAD
        if centroid.spread is not None and np.all(np.isfinite(centroid.spread)):
            guess = np.maximum(np.asarray(centroid.spread, float), MIN_GUESS)
        source, significance = centroid.source, float("nan")
    found = None
    if centroid is None:
        if detections is None:
            detections = find_candidates(kin, err, sky, random_state=random_state)
        if not detections or detections[0].significance < min_significance:
            return None, ("no overdensity in proper motion, parallax and sky reached "
                          f"{min_significance} sigma (global)")
        found = detections[0]
        centre, guess, source, significance = found.centre, found.scale, "data", found.significance
        log.info("overdensity found: %s", found.describe())
    good = best_measured(err, len(kin))
    if found is not None and found.sky_centre is not None:  # measure it where it was found
        near = np.all(np.abs(sky[good] - found.sky_centre) <= DETECTION_SKY_WINDOW * found.sky_scale, axis=1)
        if near.sum() >= 10:
            good = good[near]
    fit = measure_cluster(kin[good], None if err is None else err[good], centre, guess,
                          random_state=random_state, velocity_dispersion=velocity_dispersion)
    if fit is None:
        if source == "data":
            return None, ("the overdensity found in proper motion and parallax could not be "
                          "measured as a bound cluster")
        observed = intrinsic = np.asarray(guess, float)
    else:
        observed, intrinsic = fit.observed_spread, fit.intrinsic_spread
        centre = fit.centre if source == "data" else np.asarray(centre, float)
    passed = adaptive_filter(kin, stand_in(err, len(kin)), centre, observed, intrinsic, nsigma)
    return Scope(passed, np.asarray(centre, float), observed, intrinsic, source, significance), ""
