"""The field's Gaussians in the cluster + field mixtures: their start, the stars that shape
them, their M-step, and means that drift with magnitude.

The single-cluster mixture (:mod:`vo_ocml.membership.radial_mixture`) and the several-cluster
one (:mod:`vo_ocml.membership.joint_mixture`) describe the field the same way: a few Gaussians
in (pmra, pmdec, parallax) whose weights depend on the magnitude bin, deconvolved with each
star's errors (extreme deconvolution), plus a component uniform over each star's filter window.
In both, each Gaussian's mean may also drift linearly with the median G of the star's
magnitude bin (:func:`drifting_start`): fainter field stars lie farther away (the single
mixture chooses the drift by BIC, the several-cluster one always drifts).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit

from vo_ocml.membership.deconvolution import _xd_update, log_sum_exp
from vo_ocml.membership.sky_prior import PSEUDO_COUNT, MagnitudeBins


def _widen_sd(cov: np.ndarray, min_sd: np.ndarray) -> np.ndarray:
    """``cov`` with the variance each axis lacks to reach ``min_sd`` (3,) added to it."""
    return cov + np.diag(np.maximum(min_sd**2 - np.diag(cov), 0.0))


#: the field's uniform component's starting weight in every magnitude bin
UNIFORM_START = 0.5


def _initial_field(kin: np.ndarray, n_bins: int, n_field: int, floor: np.ndarray,
                   random_state: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Starting field: no Gaussian, one, or ``n_field`` k-means components (weights per bin)."""
    if n_field == 0:
        return np.zeros((n_bins, 0)), np.zeros((0, 3)), np.zeros((0, 3, 3))
    if n_field == 1:
        weights, means = np.ones(1), kin.mean(axis=0)[None]
        covs = (np.cov(kin.T) + np.diag(floor**2))[None]
    else:
        from sklearn.cluster import KMeans
        labels = KMeans(n_field, n_init=3, random_state=random_state).fit_predict(kin)
        weights = np.bincount(labels, minlength=n_field) / len(kin)
        means = np.array([kin[labels == m].mean(axis=0) for m in range(n_field)])
        covs = np.array([np.cov(kin[labels == m].T) + np.diag(floor**2)
                         if (labels == m).sum() > 3 else np.cov(kin.T) for m in range(n_field)])
    return np.tile(weights, (n_bins, 1)), means, covs


def field_prior_share(log_clusters: np.ndarray, log_field: np.ndarray) -> np.ndarray:
    """The share of each star the field's Gaussians learn their shapes from: its prior
    probability of being a field star by position and magnitude alone.

    ``log_clusters`` (n,) or (n, K): log W_c(b) ρ_c(x) of each cluster; ``log_field`` (n,):
    log W_f(b) ρ_f(x). The field's motions do not depend on position within the table (the
    model's own assumption), so weighting its stars by position leaves its Gaussians unbiased,
    while the members that EM still counts partly as field -- all at the cluster's motion, most
    in its core -- no longer raise the field's density there: on the injection bench the
    fitted field held 10–20 % more stars near a rich cluster's motion than the field stars there
    (docs/injection.md, eleventh session).
    """
    log_c = log_clusters if log_clusters.ndim == 1 else log_sum_exp(log_clusters)
    return expit(log_field - log_c)


def _field_update(kin, S, b, n_bins, resp_f, mu_f, cov_f, Tf, floor,
                  share: np.ndarray,
                  min_sd: Callable[[float], np.ndarray] | None = None,
                  design: np.ndarray | None = None) -> np.ndarray:
    """M-step of the field's Gaussians (in place); returns their weights per magnitude bin.

    ``mu_f`` holds each Gaussian's mean (M, 3), or each star's (M, n, 3) when the means drift
    with magnitude: ``design`` (n, 2) is then each star's (1, offset in G of its magnitude bin)
    (:func:`drifting_start`). ``share`` (n,) weights the stars that shape the Gaussians
    (:func:`field_prior_share`); the
    weights per bin are the plain responsibilities' (weighting them too made EM take 40 % more
    iterations on a 30,000-row cone; the injection bench's ECE moved by at most 0.002). With
    ``min_sd`` (several clusters' mixture: the hottest bound cluster's spreads at a parallax,
    :func:`~vo_ocml.membership.mixture_step.cluster_like_sd`) each Gaussian is kept at least
    that wide along each axis at its mean parallax: narrower, it is a
    cluster without a sky profile, into which EM shrank field Gaussians for hundreds of
    iterations on real frames with several clusters (docs/multi.md, twenty-fourth session).
    The single model's field is left as its stars shape it (there the floor made the injection
    bench's blind ECE worse) unless every field it fitted was the cluster's outskirts
    (:func:`~vo_ocml.membership.outskirts.describes_cluster_twice`).
    """
    shaping = resp_f * share[:, None]
    for m in range(len(mu_f)):
        mean_m, cov_f[m], _ = _xd_update(kin, S, shaping[:, m], mu_f[m], cov_f[m], Tf[m], floor,
                                         design)
        mu_f[m] = mean_m if design is not None else mean_m[0]
        if min_sd is not None:
            cov_f[m] = _widen_sd(cov_f[m], min_sd(float(np.mean(mu_f[m][..., 2]))))
    n_parts = resp_f.shape[1]
    per_bin = np.column_stack([np.bincount(b, resp_f[:, m], minlength=n_bins)
                               for m in range(n_parts)]) + PSEUDO_COUNT / n_parts
    return per_bin / per_bin.sum(axis=1, keepdims=True)


def drifting_start(means: np.ndarray, bins: MagnitudeBins, b: np.ndarray
                   ) -> tuple[np.ndarray | None, np.ndarray]:
    """The design (n, 2) of field means drifting with magnitude and each star's starting means
    (M, n, 3) from the Gaussians' ``means`` (M, 3); ``b`` is each star's bin. (None, ``means``)
    with fewer than two magnitude bins or no Gaussian: the means stay fixed.

    Each Gaussian's mean is μ_m + β_m x_i, x_i the median G of star i's bin less the bins' mean
    (:attr:`~vo_ocml.membership.sky_prior.MagnitudeBins.offsets`; 0 without a magnitude):
    piecewise constant across a bin and linear across the bins' medians, so no mean is
    extrapolated beyond the magnitudes the bins hold. The field's parallax and proper motion
    change with magnitude (fainter field stars are farther away); fixed Gaussians whose weights
    follow the bins describe that only coarsely, and at faint magnitudes they overstated the
    field near the cluster's motion (docs/injection.md, thirty-fifth session).
    """
    if not np.any(bins.offsets) or not len(means):
        return None, means
    design = np.column_stack([np.ones(len(b)), bins.offsets[b]])
    return design, np.broadcast_to(means[:, None], (len(means), len(b), 3)).copy()


def drifted_means(means: np.ndarray, slopes: np.ndarray | None, offsets: np.ndarray
                  ) -> np.ndarray:
    """The field Gaussians' means (M, 3) moved by their ``slopes`` (M, 3; None: no drift) to
    each star's magnitude offset ``offsets`` (n,): (M, n, 3), or ``means`` without slopes."""
    if slopes is None:
        return means
    return means[:, None] + offsets[None, :, None] * slopes[:, None]


def drift_coefficients(design: np.ndarray | None, means: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray | None]:
    """Each Gaussian's mean at the bins' mean magnitude (M, 3) and its drift per magnitude
    (M, 3) from the per-star means (M, n, 3) of :func:`drifting_start`'s ``design``; (``means``,
    None) without one."""
    if design is None:
        return means, None
    coefs = np.array([np.linalg.lstsq(design, m, rcond=None)[0] for m in means])
    return coefs[:, 0], coefs[:, 1]
