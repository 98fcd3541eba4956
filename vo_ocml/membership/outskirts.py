"""Whether a mixture's field holds the cluster's own outskirts (the single model's choice).

Cut to bright stars, a table that a rich cluster fills holds few field stars at the cluster's
motion, and a mixture can then describe the cluster twice: a concentrated core as the cluster
and a co-moving field Gaussian with the rest of its members spread over the table (docs/
injection.md, twenty-ninth and thirtieth sessions). :func:`describes_cluster_twice` tells such
a fit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import erfc, expit

from vo_ocml.membership.deconvolution import take_rows
from vo_ocml.membership.radial_mixture import RadialMixtureFit
from vo_ocml.membership.sky_prior import ProfileFitter

#: a field Gaussian at the cluster's motion is its outskirts when the best profile around the
#: cluster's centre describes the stars it holds better than the field's sky density by this
#: likelihood ratio (2 Δ log L): χ² with 2 degrees of freedom (the profile's scale and slope),
#: whose survival function is exp(−x/2), at the 3σ level of a normal (p = 0.0027), the
#: detection's threshold
OUTSKIRTS_LR = float(-2.0 * np.log(erfc(3.0 / np.sqrt(2.0))))


def describes_cluster_twice(fit: RadialMixtureFit, rows: np.ndarray, kin: np.ndarray,
                            cov: np.ndarray | None, sky: np.ndarray, mag: np.ndarray | None,
                            log_window: np.ndarray | None,
                            bound_sd: Callable[[float], np.ndarray],
                            fitter: ProfileFitter) -> bool:
    """Whether one of the fit's field Gaussians is the cluster's own outskirts.

    Such a Gaussian is a bound cluster (no wider, along every axis, than ``bound_sd`` of the
    cluster's parallax: the hottest bound cluster's spreads,
    :func:`~vo_ocml.membership.mixture_step.cluster_like_sd`) whose mean lies within that
    spread of the cluster's, and the stars it holds in the fit (``rows``, the fit's sample, of
    ``kin``, ``cov``, ``sky``, ``mag``, ``log_window``) either crowd around the cluster's centre
    (the best profile ``fitter`` finds for them there beats the field's sky density by
    :data:`OUTSKIRTS_LR` in likelihood ratio) or, the Gaussian no hotter in proper motion than
    the cluster, crowd nowhere (the best profile around their own centroid does not). A
    cluster's outskirts are no hotter than its core (a bound cluster's dispersion falls
    outward), and in a table the cluster fills they may be spread like the field; a co-moving
    cluster elsewhere on the sky crowds there, and a co-moving association or complex that
    holds the cluster is hotter than it: neither is the cluster again.

    Returns
    -------
    bool
    """
    bound = bound_sd(float(fit.cluster_mean[2]))
    sd = np.sqrt(np.diagonal(fit.field_covs, axis1=1, axis2=2))
    alike = np.flatnonzero(np.all((sd <= bound)
                                  & (np.abs(fit.field_means - fit.cluster_mean) <= bound), axis=1))
    if not len(alike):
        return False
    kin, cov, sky = kin[rows], take_rows(cov, rows), sky[rows]
    mag = None if mag is None else mag[rows]
    log_window = None if log_window is None else log_window[rows]
    a, c, parts = fit.log_terms(kin, cov, sky, fit.magnitude_bins.index(mag, len(kin)),
                                log_window)
    field_share = expit(c - a)
    log_field = fit.footprint.log_field_density(sky)
    cold = np.all(sd[:, :2] <= np.sqrt(np.diag(fit.cluster_cov))[:2], axis=1)

    def crowds(held: np.ndarray, centre: np.ndarray) -> bool:
        gain = fitter.fit(sky, held, centre).log_density(sky) - log_field
        return 2.0 * float(held @ gain) > OUTSKIRTS_LR

    for m in alike:
        held = field_share * np.exp(parts[:, m])
        if crowds(held, fit.centre):
            return True
        if cold[m] and held.sum() > 0 and not crowds(held, held @ sky / held.sum()):
            return True
    return False
