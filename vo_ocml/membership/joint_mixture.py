"""K clusters + field in (pmra, pmdec, parallax): the single-cluster mixture generalised to K.

The single-cluster model (:mod:`vo_ocml.membership.radial_mixture`, prior from
:mod:`vo_ocml.membership.sky_prior`) gives each star in magnitude bin b at position x the
terms ``W_c(b) ρ_c(x) N(v; μ_c, Σ_c + S)`` (cluster) and ``W_f(b) ρ_f(x) Σ_m w_m(b) N(v; μ_m,
Σ_m + S)`` (field: ρ_f uniform over the footprint, or following the stars outside every
cluster's filter: :mod:`vo_ocml.membership.field_density`). Here every cluster k has its own term,
``W_k(b) ρ_k(x) N(v; μ_k, Σ_k + S)``, with its own luminosity function W_k (its share of each
magnitude bin smooth in G, fitted with the other clusters' and the field's:
:meth:`~vo_ocml.membership.sky_prior.MagnitudeBins.member_counts`), EFF profile ρ_k
(its own :class:`~vo_ocml.membership.sky_prior.ProfileFitter` around its own centre) and
deconvolved Gaussian (with the perspective gradient where asked), and the posterior of each
cluster and of the field is its term over their sum. The E- and M-steps are the single model's
(the same ``_log_normal``, ``_xd_update``, ``_field_update``, ``MagnitudeBins``,
``ProfileFitter``), applied to each component; with K = 1 it is the single-cluster model.

With colours (BP−RP) the photometric term (:mod:`vo_ocml.membership.photometry`) joins once
the kinematic model has converged, as in the single model: each cluster k has its own sequence
L_k(c | G), and the field's colour density of a star is a mixture of the K clusters' "field
stars like this cluster" densities f_k(c | G), weighted by how much the star's motion and
parallax resemble each cluster (the kinematic likelihood ratio's posterior at equal priors,
normalised over k) -- a density of colour given the kinematics, which for K = 1 is the single
model's f(c | G).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scipy.special import expit

from vo_ocml.membership.deconvolution import _log_normal, error_covariance, log_sum_exp, take_rows
from vo_ocml.membership.mixture_step import cluster_like_sd
from vo_ocml.membership.photometry import ColourTerm
from vo_ocml.membership.field_gaussians import (UNIFORM_START, _field_update, drift_coefficients,
                                                drifted_means, drifting_start, field_prior_share)
from vo_ocml.membership.radial_mixture import _cap_sd, _kinematic_weight
from vo_ocml.membership.sky_prior import (ClusterProfile, Footprint, MagnitudeBins,
                                          ProfileFitter, eff_centre)
from vo_ocml.membership.unknown_errors import ErrorLevels, cluster_update

#: a star starts in a cluster when its χ² (3 dof) to the cluster's centroid is below this (2σ)
START_CHI2 = 3 * 2.0**2
#: a cluster with fewer expected members than this keeps its Gaussian (as ``_xd_update`` does)
_EMPTY = 1e-6


@dataclass
class JointSeed:
    """Where one cluster starts: centroid (pmra, pmdec, parallax), intrinsic spread, sky centre.

    ``gradient``: whether its mean may vary linearly across the sky (nearby clusters);
    ``max_scale``: largest scale radius (deg) of its profile (None: the footprint's);
    ``max_pm_sd``: largest intrinsic proper-motion dispersion (mas/yr) of a bound cluster at
    its parallax (None: unbounded), as in the single-cluster model; ``max_parallax_sd``: largest
    intrinsic parallax dispersion (mas), a cluster's depth at its parallax (None: unbounded), as
    in the single model; ``max_half_radius``: largest
    half-number radius (deg) of its profile (None: unbounded), as in the single model;
    ``window``: half-size (deg) of the sky box it was found in (inf: unknown), where its first
    members are taken;
    ``eff_centre``: its sky centre's M-step is the EFF profile's own
    (:func:`~vo_ocml.membership.sky_prior.eff_centre`), which the field's small probabilities
    across the footprint barely pull, rather than the single model's P-weighted mean;
    ``r50``: a named or catalogued cluster's half-number radius (deg), the one-sided prior on
    its profile's (:class:`~vo_ocml.membership.sky_prior.ProfileFitter`), as in the single
    model (None: no prior).
    """

    mean: np.ndarray
    intrinsic: np.ndarray
    centre: np.ndarray
    gradient: bool = False
    max_scale: float | None = None
    max_pm_sd: float | None = None
    max_half_radius: float | None = None
    window: float = np.inf
    max_parallax_sd: float | None = None
    eff_centre: bool = True
    r50: float | None = None


@dataclass
class JointMixtureFit:
    """A fitted K-cluster + field mixture.

    Attributes
    ----------
    probability : ndarray, shape (n, K + 1)
        Posterior of each cluster (columns 0…K−1, in the seeds' order) and of the field
        (last column); rows sum to one.
    means, gradients, covs : ndarray, shapes (K, 3), (K, 2, 3), (K, 3, 3)
        Each cluster's mean at its centre, its gradient per degree and intrinsic covariance.
    profiles : list of ClusterProfile
        Each cluster's EFF profile (its ``centre`` is the cluster's sky centre).
    n_cluster : ndarray, shape (K, n_bins)
        Each cluster's expected members per magnitude bin; ``n_field`` the field's.
    field_weights : ndarray, shape (n_bins, M + U)
        Weights per magnitude bin of the field's M Gaussians, then of its U components
        uniform over the clusters' filter windows (U = K, or 0 when the fit had no windows).
    field_means, field_covs : ndarray, shapes (M, 3), (M, 3, 3)
        The field's Gaussians (means at the magnitude bins' mean G when they drift).
    field_slopes : ndarray, shape (M, 3), or None
        Each field Gaussian's drift per magnitude (``field_drift``), else None.
    footprint : Footprint
        The table's footprint; ``magnitude_bins`` the luminosity functions' bins.
    n_iter : int
        EM iterations run.
    log_likelihood : float
        Mean log-likelihood per star at convergence.
    sd_unbounded : ndarray, shape (K, 3) or None
        Each cluster's intrinsic dispersions at its last M-step before the proper-motion bound
        (``JointSeed.max_pm_sd``) was applied (as ``RadialMixtureFit.cluster_sd_unbounded``).
    colour_terms : list of ColourTerm, or None
        Each cluster's photometric term, when fitted with colours.
    error_levels : list of ErrorLevels, or None
        Each cluster's levels of error, for stars without errors (:mod:`.unknown_errors`).
    """

    probability: np.ndarray
    means: np.ndarray
    gradients: np.ndarray
    covs: np.ndarray
    profiles: list[ClusterProfile]
    n_cluster: np.ndarray
    n_field: np.ndarray
    field_weights: np.ndarray
    field_means: np.ndarray
    field_covs: np.ndarray
    footprint: Footprint
    magnitude_bins: MagnitudeBins
    n_iter: int
    log_likelihood: float
    sd_unbounded: np.ndarray | None = None
    colour_terms: list[ColourTerm] | None = None
    error_levels: list[ErrorLevels] | None = None
    field_slopes: np.ndarray | None = None

    @property
    def centres(self) -> np.ndarray:
        """Sky centres (K, 2) on the tangent plane (deg)."""
        return np.array([p.centre for p in self.profiles])

    def predict(self, kin: np.ndarray, errors: np.ndarray | None, sky: np.ndarray,
                mag: np.ndarray | None = None, log_window: np.ndarray | None = None,
                colour: np.ndarray | None = None) -> np.ndarray:
        """Posteriors (n, K + 1) of (new) stars; ``errors`` (n, 3) or covariances (n, 3, 3).

        ``log_window`` (n, K): the stars' filter windows (needed when the fit had them);
        ``colour``: BP−RP (used when the fit had photometric terms).
        """
        if self.field_weights.shape[1] > len(self.field_means) and log_window is None:
            raise ValueError("this model has uniform field components: give log_window")
        b = self.magnitude_bins.index(mag, len(kin))
        mu = [self.means[k] + (sky - self.profiles[k].centre) @ self.gradients[k]
              for k in range(len(self.means))]
        log_field = self.footprint.log_field_density(sky)
        log_rho = _log_profiles(self.profiles, sky)
        mu_f = drifted_means(self.field_means, self.field_slopes, self.magnitude_bins.offsets[b])
        L = _terms(kin, error_covariance(errors), b, mu, list(self.covs), log_rho,
                   self.n_cluster, self.field_weights, list(mu_f),
                   list(self.field_covs), self.n_field, log_field, log_window,
                   levels=self.error_levels)[0]
        if self.colour_terms is not None:
            L = L + _colour_logs(self.colour_terms, mag, colour, b,
                                 _similarity(L, b, self.n_cluster, self.n_field, log_rho,
                                             log_field))
        return np.exp(L - log_sum_exp(L)[:, None])


def _cluster_rows(log_window: np.ndarray | None, K: int) -> list:
    """The rows each cluster may hold: those inside its filter window (all without windows)."""
    if log_window is None:
        return [slice(None)] * K
    if log_window.shape[1] != K:
        raise ValueError(f"log_window has {log_window.shape[1]} columns for {K} clusters")
    return [np.flatnonzero(np.isfinite(log_window[:, k])) for k in range(K)]


def _subsets(kin, S, b, log_window, K: int) -> list[tuple]:
    """Per cluster: its rows (:func:`_cluster_rows`) and the stars' kin, S, bin there."""
    return [(r, kin[r], take_rows(S, r), b[r])
            for r in _cluster_rows(log_window, K)]


def _log_profiles(profiles: list[ClusterProfile], sky: np.ndarray) -> np.ndarray:
    """log ρ_k(x) of every star (n, K): each cluster's profile density."""
    return np.array([p.log_density(sky) for p in profiles]).T  # column-major


def _terms(kin, S, b, mu, cov, log_rho, n_c, w_f, mu_f, cov_f, n_f, log_field,
           log_window=None, subsets=None, levels=None):
    """log terms (n, K + 1), the field's parts (n, M + U, normalised), Tc per cluster, Tf.

    Cluster k's term is computed on its window's rows only (zero probability elsewhere);
    ``log_rho`` (n, K) is :func:`_log_profiles`; ``subsets`` (:func:`_subsets`), when given,
    saves gathering them again; with ``levels`` (stars without errors) Tc is each star's
    responsibilities of cluster k's levels of error.
    """
    n, K, M = len(kin), len(mu), len(mu_f)
    L = np.full((n, K + 1), -np.inf, order="F")  # column-major: read column by column
    Tc = []
    for k, (r, kin_r, S_r, b_r) in enumerate(subsets or _subsets(kin, S, b, log_window, K)):
        lc, T = _log_normal(kin_r, mu[k][r], cov[k], S_r) if levels is None or S is not None \
            else levels[k].log_density(kin_r, mu[k][r], cov[k])
        L[r, k] = np.log(n_c[k][b_r]) + log_rho[r, k] + lc
        Tc.append(T)
    parts, Tf = np.empty((n, w_f.shape[1]), order="F"), []
    for m in range(M):
        lm, T = _log_normal(kin, mu_f[m], cov_f[m], S)
        parts[:, m] = np.log(w_f[b, m]) + lm
        Tf.append(T)
    for u in range(w_f.shape[1] - M):  # uniform over window u; log_window is inf outside it
        parts[:, M + u] = np.log(w_f[b, M + u]) - log_window[:, u]
    lf = log_sum_exp(parts)
    L[:, K] = np.log(n_f[b]) + log_field + lf
    return L, parts - lf[:, None], Tc, Tf


def _similarity(L: np.ndarray, b: np.ndarray, n_c: np.ndarray, n_f: np.ndarray,
                log_rho: np.ndarray, log_field: np.ndarray) -> np.ndarray:
    """How much each star's motion and parallax resemble each cluster's (n, K): the posterior
    of its kinematic likelihood ratio at equal priors (the priors, luminosity functions and
    profiles, taken out of the kinematic terms ``L``)."""
    K = L.shape[1] - 1
    prior = np.log(n_c[:, b].T / n_f[b, None]) + log_rho - log_field[:, None]
    return expit(L[:, :K] - L[:, K:] - prior)  # 0 outside a cluster's window (-inf there)


def _colour_logs(terms: list[ColourTerm], mag: np.ndarray | None, colour: np.ndarray | None,
                 b: np.ndarray, similar: np.ndarray) -> np.ndarray:
    """log colour densities (n, K + 1): each cluster's sequence, and the field's colours as
    the mixture of the clusters' "field stars like it" over ``similar`` (normalised over k;
    equal weights for a star like none)."""
    K = len(terms)
    logs = [t.log_terms(mag, colour, b) for t in terms]
    total = similar.sum(axis=1, keepdims=True)
    share = np.where(total > 0, similar / np.where(total > 0, total, 1.0), 1.0 / K)
    field = np.log(np.sum(share * np.exp(np.column_stack([lf for _, lf in logs])), axis=1))
    return np.array([lc for lc, _ in logs] + [field]).T


def fit_joint_mixture(kin: np.ndarray, errors: np.ndarray | None, sky: np.ndarray,
                      seeds: list[JointSeed], *, mag: np.ndarray | None = None,
                      footprint: Footprint | None = None,
                      field_groups: np.ndarray | None = None,
                      log_window: np.ndarray | None = None,
                      weights: np.ndarray | None = None, colour: np.ndarray | None = None,
                      error_levels: ErrorLevels | None = None, field_drift: bool = False,
                      max_iter: int = 1000, tol: float = 2e-7,
                      p_tol: float = 5e-4) -> JointMixtureFit:
    """Fit K clusters and the field together by EM.

    Parameters
    ----------
    kin : ndarray, shape (n, 3)
        (pmra, pmdec, parallax) in mas/yr and mas, in a fixed (canonical) order.
    errors : ndarray, shape (n, 3) or (n, 3, 3), or None
        Standard errors or full error covariances (None: no deconvolution).
    sky : ndarray, shape (n, 2)
        Tangent-plane positions (deg).
    seeds : list of JointSeed
        One per cluster (at least one).
    mag : ndarray, shape (n,), optional
        G magnitudes (NaN: unknown); without them the prior depends on position only.
    footprint : Footprint, optional
        The table's footprint (default: the convex hull of ``sky``).
    field_groups : ndarray of int, shape (n,), optional
        A starting group (0…M−1) for each star: the field is M Gaussians, each started from
        its group's stars (e.g. the stars of each cluster's filter, so that the field near
        each cluster is described where it is); default one Gaussian.
    log_window : ndarray, shape (n, K), optional
        log-volume of each star's window in (pmra, pmdec, parallax) for each cluster's filter,
        in the seeds' order (inf where the star is outside it): the field gets one component
        uniform over each window -- the field a kinematic filter lets through is flat across
        its window, which no Gaussian describes (the single-cluster model's uniform component,
        one per filter) -- and cluster k holds only stars inside its own window, as a
        single-cluster run scores only the stars its filter passed.
    weights : ndarray, shape (n,), optional
        How many stars of the table each star stands for (a sample that keeps the stars near
        the clusters and thins the field: see
        :func:`~vo_ocml.membership.joint_sample.fit_sample`); default one each.
    colour : ndarray, shape (n,), optional
        BP−RP (with ``mag``): once the kinematic and spatial model has converged, EM goes on
        with each cluster's photometric term, refitted every iteration; the profiles are then
        shaped by the posteriors without it (as in the single model).
    error_levels : ErrorLevels, optional
        Without ``errors``: each cluster is a mixture over these levels of error, its shares
        fitted (:mod:`vo_ocml.membership.unknown_errors`); otherwise ignored.
    field_drift : bool
        Each field Gaussian's mean drifts linearly with the median G of the star's magnitude
        bin, as in the single model's drifting field
        (:func:`~vo_ocml.membership.field_gaussians.drifting_start`; fixed with fewer than two
        bins).
    max_iter, tol, p_tol : int, float, float
        EM stops after ``max_iter`` iterations, or when the mean log-likelihood changes by less
        than ``tol``, or when no posterior changes by more than ``p_tol``.

    Returns
    -------
    JointMixtureFit
    """
    n, K = len(kin), len(seeds)
    w = np.ones(n) if weights is None else np.asarray(weights, float)
    S = error_covariance(errors)
    levels = None if S is not None or error_levels is None else [error_levels] * K
    footprint = footprint or Footprint(sky)
    bins = MagnitudeBins(mag)
    b = bins.index(mag, n)
    floor = 1e-3 * np.maximum(np.std(kin, axis=0), 1e-6)
    mu = [np.broadcast_to(np.asarray(s.mean, float), kin.shape) for s in seeds]
    cov = [np.diag(np.maximum(np.asarray(s.intrinsic, float), floor) ** 2) for s in seeds]
    coef: list[np.ndarray | None] = [None] * K
    groups = np.zeros(n, int) if field_groups is None else np.asarray(field_groups)
    M = int(groups.max()) + 1
    pooled = np.cov(kin.T) + np.diag(floor**2)
    mu_f = [kin[groups == m].mean(axis=0) if np.sum(groups == m) > 3 else kin.mean(axis=0)
            for m in range(M)]
    cov_f = [np.cov(kin[groups == m].T) + np.diag(floor**2) if np.sum(groups == m) > 3
             else pooled for m in range(M)]
    share = np.maximum(np.bincount(groups, w, minlength=M) / w.sum(), 1e-3)
    if log_window is not None:  # each uniform component starts with a share of every bin
        inside = (w[:, None] * np.isfinite(log_window)).sum(axis=0) / w.sum()
        share = np.concatenate([share * (1 - UNIFORM_START),
                                np.maximum(inside * UNIFORM_START, 1e-3)])
    w_f = np.tile(share / share.sum(), (bins.n_bins, 1))
    design_f = None
    if field_drift:
        design_f, start = drifting_start(np.array(mu_f), bins, b)
        mu_f = list(start)
    fitters = [ProfileFitter(footprint, s.max_scale, s.max_half_radius, s.r50) for s in seeds]
    var = np.diagonal(S, axis1=1, axis2=2) if S is not None else 0.0
    near = np.column_stack([
        (np.sum((kin - mu[k]) ** 2 / (np.diagonal(cov[k])[None] + var), axis=1) < START_CHI2)
        & np.all(np.abs(sky - s.centre) <= s.window, axis=1) for k, s in enumerate(seeds)])
    profiles = [fitters[k].fit(sky, w * near[:, k], np.asarray(s.centre, float))
                for k, s in enumerate(seeds)]
    n_c = np.array([bins.counts(b, w * near[:, k]) for k in range(K)])
    n_f = bins.counts(b, w * ~near.any(axis=1))
    subsets = _subsets(kin, S, b, log_window, K)
    sky_rows = [sky[r] for r, *_ in subsets]  # a cluster's probability is 0 outside its rows
    wanted = np.sqrt(np.array([np.diag(c) for c in cov]))
    previous, P_previous = -np.inf, np.zeros((n, K + 1))
    it, ll, P = 0, -np.inf, P_previous
    log_field = footprint.log_field_density(sky)
    log_rho = _log_profiles(profiles, sky)
    colour_terms: list[ColourTerm] | None = None
    for it in range(1, max_iter + 1):
        L, parts, Tc, Tf = _terms(kin, S, b, mu, cov, log_rho, n_c, w_f, mu_f, cov_f,
                                  n_f, log_field, log_window, subsets, levels)
        kinematic = L
        if colour_terms is not None:  # how like each cluster a star is; its colours
            similar = _similarity(L, b, n_c, n_f, log_rho, log_field)
            L = L + _colour_logs(colour_terms, mag, colour, b, similar)
        norm = log_sum_exp(L)
        P = np.exp(L - norm[:, None])
        P_kin = P if colour_terms is None else np.exp(kinematic - log_sum_exp(kinematic)[:, None])
        Pw = P * w[:, None]  # expected stars of the table
        ll = float(np.sum(w * norm) / w.sum() - np.log(w.sum()))
        converged = abs(ll - previous) < tol or np.max(np.abs(P - P_previous)) < p_tol
        previous, P_previous = ll, P
        photometric = colour is not None and mag is not None \
            and (colour_terms is not None or converged)
        if photometric and colour_terms is None:  # the term starts: the E-step's similarity
            similar = _similarity(L, b, n_c, n_f, log_rho, log_field)
        n_c, n_f = bins.member_counts(b, Pw[:, :K], Pw[:, K])
        for k, (r, kin_r, S_r, _) in enumerate(subsets):
            centre = profiles[k].centre
            # as in the single model; with colour, by the posterior without it
            shaping = Pw[r, k] if colour_terms is None else P_kin[r, k] * w[r]
            q = shaping * _kinematic_weight(cov[k], S_r, levels and levels[k].pm_variance(Tc[k]))
            if q.sum() > 1:
                centre = eff_centre(sky_rows[k], q, centre, profiles[k].scale) \
                    if seeds[k].eff_centre else q @ sky_rows[k] / q.sum()
            profiles[k] = fitters[k].fit(sky_rows[k], q, centre)
            if Pw[r, k].sum() < _EMPTY:
                continue
            design = np.column_stack([np.ones(n), sky - centre]) if seeds[k].gradient \
                else None
            mu_r, cov[k], coef[k], level = cluster_update(
                levels and levels[k], kin_r, S_r, Pw[r, k], mu[k][r], cov[k], Tc[k], floor,
                None if design is None else design[r], False)
            if levels:
                levels[k] = level
            mu[k] = np.broadcast_to(mu_r[0], kin.shape) if design is None else design @ coef[k]
            wanted[k] = np.sqrt(np.diag(cov[k]))
            cap = np.array([seeds[k].max_pm_sd or np.inf] * 2
                           + [seeds[k].max_parallax_sd or np.inf])
            if np.isfinite(cap).any():
                cov[k] = _cap_sd(cov[k], cap)
        log_rho = _log_profiles(profiles, sky)  # this M-step's field share, the next E-step's
        share = field_prior_share(np.log(n_c[:, b].T) + log_rho, np.log(n_f[b]) + log_field)
        w_f = _field_update(kin, S, b, bins.n_bins, Pw[:, K, None] * np.exp(parts), mu_f,
                            cov_f, Tf, floor, share, min_sd=cluster_like_sd, design=design_f)
        if photometric:  # each cluster's term from its own window's stars, as a single run's
            refit = [ColourTerm.fit(mag[r], colour[r], b[r], bins.n_bins, P[r, k],
                                    similar=similar[r, k], field_p=1.0 - P_kin[r, K],
                                    own_p=P_kin[r, k], weights=w[r],
                                    mag_range=colour_terms and colour_terms[k].mag_range)
                     for k, (r, *_) in enumerate(subsets)]
            if any(t is None for t in refit):  # a cluster without a sequence: as they were
                break
            if colour_terms is None:  # the photometric phase starts: convergence anew
                converged, previous = False, -np.inf
            colour_terms = refit
        if converged:
            break
    means = np.array([c[0] if c is not None else m[0] for c, m in zip(coef, mu)])
    gradients = np.array([c[1:] if c is not None else np.zeros((2, 3)) for c in coef])
    field_means, field_slopes = drift_coefficients(design_f, np.array(mu_f))
    return JointMixtureFit(probability=P, means=means, gradients=gradients, covs=np.array(cov),
                           profiles=profiles, n_cluster=n_c, n_field=n_f, field_weights=w_f,
                           field_means=field_means, field_covs=np.array(cov_f),
                           footprint=footprint, magnitude_bins=bins, n_iter=it,
                           log_likelihood=ll, sd_unbounded=wanted, colour_terms=colour_terms,
                           error_levels=levels, field_slopes=field_slopes)
