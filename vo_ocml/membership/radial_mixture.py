"""Cluster + field mixture in (pmra, pmdec, parallax) with a prior in position and magnitude.

For star i at tangent-plane position x_i, in magnitude bin b_i, with (pmra, pmdec, parallax)
v_i and error covariance S_i (Gaia's correlations included when the table has them)::

    p(v_i, x_i, b_i) =  W_c(b_i) ρ_c(x_i) N(v_i; μ_c(x_i), Σ_c + S_i)
                      + W_f(b_i) ρ_f(x_i) Σ_m w_m(b_i) N(v_i; μ_m, Σ_m + S_i)

W_c(b) and W_f(b) are the expected numbers of members and field stars per magnitude bin (the
two luminosity functions: at G 20 the field outnumbers a cluster far more than at G 15; their
log-ratio is smooth in G), ρ_c an EFF/Plummer-like surface-density profile normalised over the
footprint, ρ_f the field's (1/A, A the footprint's area, or the smoothed density of the stars
outside the cluster's filter: :mod:`vo_ocml.membership.field_density`), Σ_c, Σ_m intrinsic
(deconvolved) covariances, and μ_c(x) the cluster's mean, linear across the sky for nearby
clusters (perspective). The prior is :mod:`vo_ocml.membership.sky_prior`. EM: the E-step gives
each star's membership probability; the M-step updates the luminosity functions
(probability-weighted counts per bin, the members' share of each a quadratic in G in log-odds:
:meth:`~vo_ocml.membership.sky_prior.MagnitudeBins.member_counts`), the cluster's centre and
profile, and the Gaussians by extreme deconvolution (Bovy, Hogg & Roweis 2011), the field's
means and covariances with each star weighted by its prior share of the field
(:func:`~vo_ocml.membership.field_gaussians.field_prior_share`). With ``field_slope`` each
field Gaussian's mean drifts linearly with the median G of the star's magnitude bin,
μ_m + β_m x_i (:func:`~vo_ocml.membership.field_gaussians.drifting_start`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from vo_ocml.membership.deconvolution import _log_normal, error_covariance, log_sum_exp
from vo_ocml.membership.field_gaussians import (
    UNIFORM_START, _field_update, _initial_field, drift_coefficients, drifted_means,
    drifting_start, field_prior_share,
)
from vo_ocml.membership.photometry import ColourTerm
from vo_ocml.membership.sky_prior import ClusterProfile, Footprint, MagnitudeBins, ProfileFitter
from vo_ocml.membership.unknown_errors import ErrorLevels, cluster_update

@dataclass
class RadialMixtureFit:
    """A fitted cluster + field mixture.

    Attributes
    ----------
    probability : ndarray
        Membership probability of each star.
    cluster_mean, cluster_cov : ndarray
        μ_c at the centre and intrinsic Σ_c (mas/yr, mas).
    cluster_gradient : ndarray, shape (2, 3)
        d μ_c / d(ξ, η) per degree (zero without ``gradient``).
    field_weights : ndarray, shape (n_bins, M) or (n_bins, M + 1)
        Weights of the field's Gaussians in each magnitude bin (and, last, of its component
        uniform over each star's filter window, when the fit had the windows).
    field_means, field_covs : ndarray, shape (M, 3) and (M, 3, 3)
        The field's Gaussians: means (at the bins' mean magnitude when they drift with it)
        and intrinsic covariances.
    profile : ClusterProfile
        The cluster's surface-density profile (centre, scale, slope).
    footprint : Footprint
        The table's footprint and the field's surface density over it.
    magnitude_bins : MagnitudeBins
        The magnitude bins of the luminosity functions.
    n_cluster, n_field : ndarray, shape (n_bins,)
        Expected numbers of members and field stars per magnitude bin (the luminosity functions).
    n_iter : int
        EM iterations run.
    log_likelihood : float
        Mean log-likelihood per star at convergence.
    colour_term : ColourTerm or None
        The photometric term (:mod:`vo_ocml.membership.photometry`), when fitted with one.
    cluster_sd_unbounded : ndarray, shape (3,) or None
        The cluster's intrinsic dispersions at the last M-step before the bounds
        (``max_pm_sd``, ``max_parallax_sd``) were applied: above a bound, the fit wants a
        component hotter than a bound cluster.
    error_levels : ErrorLevels or None
        For stars without errors: the cluster's levels of error and their shares
        (:mod:`vo_ocml.membership.unknown_errors`).
    field_slopes : ndarray, shape (M, 3) or None
        d(mean)/dG of each field Gaussian, per magnitude of the median G of a star's bin from
        the bins' mean (:func:`~vo_ocml.membership.field_gaussians.drifting_start`); None: the
        means are fixed.
    """

    probability: np.ndarray
    cluster_mean: np.ndarray
    cluster_gradient: np.ndarray
    cluster_cov: np.ndarray
    field_weights: np.ndarray
    field_means: np.ndarray
    field_covs: np.ndarray
    profile: ClusterProfile
    footprint: Footprint
    magnitude_bins: MagnitudeBins
    n_cluster: np.ndarray
    n_field: np.ndarray
    n_iter: int
    log_likelihood: float
    colour_term: ColourTerm | None = None
    cluster_sd_unbounded: np.ndarray | None = None
    error_levels: ErrorLevels | None = None
    field_slopes: np.ndarray | None = None

    @property
    def centre(self) -> np.ndarray:
        """Cluster centre on the tangent plane (deg)."""
        return self.profile.centre

    @property
    def n_parameters(self) -> int:
        """Free parameters (for BIC)."""
        n_bins, k = self.field_weights.shape
        return 9 * (1 + len(self.field_means)) + n_bins * (k - 1) + 6 + 4 \
            + (0 if self.field_slopes is None else self.field_slopes.size) \
            + self.magnitude_bins.n_parameters \
            + (0 if self.error_levels is None else len(self.error_levels.errors) - 1)

    def log_terms(self, kin: np.ndarray, S: np.ndarray | None, sky: np.ndarray,
                  b: np.ndarray, log_window: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """log of the cluster's and the field's terms per star, and the field parts."""
        mean = self.cluster_mean + (sky - self.centre) @ self.cluster_gradient
        field_means = drifted_means(self.field_means, self.field_slopes,
                                    self.magnitude_bins.offsets[b])
        return _terms(kin, S, sky, b, mean, self.cluster_cov, self.field_weights,
                      field_means, self.field_covs, self.profile.log_density(sky),
                      self.footprint.log_field_density(sky), self.n_cluster, self.n_field,
                      log_window, self.error_levels)[:3]

    def predict(self, kin: np.ndarray, errors: np.ndarray | None, sky: np.ndarray,
                mag: np.ndarray | None = None, log_window: np.ndarray | None = None,
                colour: np.ndarray | None = None) -> np.ndarray:
        """Membership probabilities of (new) stars under the fitted model.

        ``errors`` are standard errors (n, 3) or covariances (n, 3, 3); ``mag`` G magnitudes;
        ``log_window`` the log-volumes of their filter windows (needed when the fit had them);
        ``colour`` BP−RP (used when the fit had a photometric term).
        """
        b = self.magnitude_bins.index(mag, len(kin))
        a, c, _ = self.log_terms(kin, error_covariance(errors), sky, b, log_window)
        if self.colour_term is not None:
            lc, lf = self.colour_term.log_terms(mag, colour, b)
            a, c = a + lc, c + lf
        return np.exp(a - np.logaddexp(a, c))

    def bic(self, n: int) -> float:
        """Bayesian information criterion for ``n`` stars (lower is better)."""
        return -2.0 * self.log_likelihood * n + self.n_parameters * np.log(n)


def _terms(kin, S, sky, b, mu_c, cov_c, w_f, mu_f, cov_f, log_rho, log_field, n_c, n_f,
           log_window=None, levels=None):
    """log[W_c(b) ρ_c(x) N_c(v)], log[W_f(b) ρ_f(x) Σ_m w_m(b) N_m(v)], field parts, Tc, Tf.

    ``log_rho`` and ``log_field`` are log ρ_c(x) and log ρ_f(x) per star
    (:meth:`ClusterProfile.log_density`, :meth:`Footprint.log_field_density`). With
    ``log_window`` the field's last component is uniform over each star's window. With
    ``levels`` (stars without errors) Tc is each star's responsibilities of the levels.
    """
    lc, Tc = _log_normal(kin, mu_c, cov_c, S) if levels is None or S is not None \
        else levels.log_density(kin, mu_c, cov_c)
    n_field = len(mu_f)
    field = [_log_normal(kin, mu_f[m], cov_f[m], S) for m in range(n_field)]
    parts = [np.log(w_f[b, m]) + field[m][0] for m in range(n_field)]
    if w_f.shape[1] > n_field:
        if log_window is None:
            raise ValueError("this model has a uniform field component: give log_window")
        parts.append(np.log(w_f[b, n_field]) - log_window)
    parts = np.array(parts).T  # column-major: read column by column
    lf = log_sum_exp(parts)
    a = np.log(n_c[b]) + log_rho + lc
    c = np.log(n_f[b]) + log_field + lf
    return a, c, parts - lf[:, None], Tc, [f[1] for f in field]


def _kinematic_weight(cov_c: np.ndarray, S: np.ndarray | None,
                      error_variance: np.ndarray | None = None) -> np.ndarray | float:
    """How sharply each star's proper motion places it in the cluster: σ_c² / (σ_c² + σ_i²).

    σ_c² is the cluster's intrinsic proper-motion variance and σ_i² the star's error variance
    (traces over pmra, pmdec; ``error_variance`` when S is None: the expected one over the
    levels of error, :mod:`vo_ocml.membership.unknown_errors`). The cluster's centre and
    profile are fitted with membership probabilities times this weight: a faint star whose
    errors dwarf the cluster's spread is a member or not by its prior alone, and letting such
    stars shape the profile feeds back (a broad profile raises their prior, which broadens the
    profile). In a simulated 2,000,000-
    row cone the distant cluster's profile otherwise grew to 6′ with an r⁻² halo (truth: a 1′
    Plummer sphere) and Σ P reached 3.3 × the truth.
    """
    if S is None and error_variance is None:
        return 1.0
    var_c = cov_c[0, 0] + cov_c[1, 1]
    return var_c / (var_c + (error_variance if S is None else S[:, 0, 0] + S[:, 1, 1]))


def _cap_sd(cov: np.ndarray, max_sd: np.ndarray) -> np.ndarray:
    """``cov`` with each axis scaled down to at most ``max_sd`` (3,) (correlations kept)."""
    scale = np.minimum(1.0, max_sd / np.sqrt(np.maximum(np.diag(cov), 1e-300)))
    return cov * np.outer(scale, scale)


def fit_radial_mixture(kin: np.ndarray, errors: np.ndarray | None, sky: np.ndarray,
                       cluster_mean: np.ndarray, cluster_sd: np.ndarray,
                       centre: np.ndarray, *, mag: np.ndarray | None = None,
                       footprint: Footprint | None = None, max_scale: float | None = None,
                       max_half_radius: float | None = None, r50: float | None = None,
                       log_window: np.ndarray | None = None, max_pm_sd: float | None = None,
                       max_parallax_sd: float | None = None,
                       n_field: int = 1, fixed_mean: bool = False, fixed_centre: bool = False,
                       colour: np.ndarray | None = None,
                       error_levels: ErrorLevels | None = None,
                       gradient: bool = True, max_iter: int = 1000, tol: float = 2e-7,
                       p_tol: float = 5e-4,
                       min_field_sd: Callable[[float], np.ndarray] | None = None,
                       field_slope: bool = False,
                       random_state: int | None = 0) -> RadialMixtureFit:
    """Fit the cluster + field mixture by EM.

    Parameters
    ----------
    kin : ndarray, shape (n, 3)
        (pmra, pmdec, parallax) in mas/yr and mas, in a fixed (canonical) order.
    errors : ndarray, shape (n, 3) or (n, 3, 3), or None
        Their standard errors, or full error covariances
        (:func:`~vo_ocml.membership.deconvolution.error_covariance`); None: no deconvolution.
    sky : ndarray, shape (n, 2)
        Tangent-plane positions (deg).
    cluster_mean, cluster_sd : ndarray, shape (3,)
        Starting cluster centroid and intrinsic spread.
    centre : ndarray, shape (2,)
        Starting sky centre (deg).
    mag : ndarray, shape (n,), optional
        G magnitudes (NaN: unknown); without them the prior depends on position only.
    footprint : Footprint, optional
        The table's footprint (default: the convex hull of ``sky``).
    max_scale : float, optional
        Largest scale radius of the cluster's profile (deg).
    max_half_radius : float, optional
        Largest half-number radius of the cluster's profile (deg; the untruncated EFF's, so a
        slope of 2, whose half-number radius is unbounded, is then excluded).
    r50 : float, optional
        A named cluster's catalogued half-number radius (deg): the profile's prior
        (:class:`~vo_ocml.membership.sky_prior.ProfileFitter`).
    log_window : ndarray, shape (n,), optional
        log-volume of each star's filter window in (pmra, pmdec, parallax): the field gets a
        component uniform over it -- the field that a kinematic pre-selection lets through is
        flat across the window, which no Gaussian describes (tables pre-cut to a box; faint
        stars, whose window is wide).
    max_pm_sd : float, optional
        Largest intrinsic proper-motion dispersion of the cluster (mas/yr), a bound cluster's
        (:func:`~vo_ocml.membership.centroid.max_pm_dispersion`): the cluster's Gaussian cannot
        grow into a kinematic feature of the field.
    n_field : int
        Gaussians describing the field; their weights depend on magnitude. 0 (with
        ``log_window``): the field is its uniform component alone.
    colour : ndarray, shape (n,), optional
        BP−RP: once the kinematic and spatial model has converged, EM goes on with the
        photometric term (:mod:`vo_ocml.membership.photometry`), refitted every iteration;
        the profile is then shaped by the membership without it.
    error_levels : ErrorLevels, optional
        Without ``errors``: the cluster is a mixture over these levels of error, their shares
        fitted (:mod:`vo_ocml.membership.unknown_errors`); otherwise ignored.
    fixed_mean : bool
        Keep the cluster's mean at ``cluster_mean`` (no gradient): only its covariance, profile
        and luminosity function are fitted -- the cluster a user or catalogue named, when the
        free fit moved to another one.
    fixed_centre : bool
        Keep the profile's sky centre at ``centre``: the position a user or catalogue named,
        when the free fit moved to another group.
    gradient : bool
        Let the cluster's mean (pmra, pmdec, parallax) vary linearly across the sky: the
        perspective effect of a nearby cluster's space motion (over 2° the Pleiades' mean
        proper motion changes by ~1.7 mas/yr).
    max_iter, tol, p_tol : int, float, float
        EM stops after ``max_iter`` iterations, or when the mean log-likelihood changes by less
        than ``tol``, or when no star's probability changes by more than ``p_tol``.
    min_field_sd : callable, optional
        parallax (mas) → the smallest spreads (3,) a field Gaussian may have at its mean
        parallax (:func:`~vo_ocml.membership.field_gaussians._field_update`'s ``min_sd``);
        None: the field's stars shape it alone.
    field_slope : bool
        Let each field Gaussian's mean drift linearly with the median G of the star's
        magnitude bin (:func:`~vo_ocml.membership.field_gaussians.drifting_start`); no effect
        with fewer than two magnitude bins.
    random_state : int or None
        Seed of the field's k-means start (n_field > 1).

    Returns
    -------
    RadialMixtureFit
    """
    n = len(kin)
    S = error_covariance(errors)
    levels = error_levels if S is None else None
    footprint = footprint or Footprint(sky)
    bins = MagnitudeBins(mag)
    b = bins.index(mag, n)
    floor = 1e-3 * np.maximum(np.std(kin, axis=0), 1e-6)
    mu_c = np.broadcast_to(np.asarray(cluster_mean, float), kin.shape)
    cov_c = np.diag(np.maximum(cluster_sd, floor) ** 2)
    coef = None
    w_f, mu_f, cov_f = _initial_field(kin, bins.n_bins, n_field, floor, random_state)
    design_f = None
    if field_slope:
        design_f, mu_f = drifting_start(mu_f, bins, b)
    if log_window is not None:  # the uniform component starts with a share of every bin
        w_f = np.column_stack([w_f * (1 - UNIFORM_START),
                               np.full(len(w_f), UNIFORM_START if n_field else 1.0)])
    centre = np.asarray(centre, float)
    cap = np.array([max_pm_sd or np.inf, max_pm_sd or np.inf, max_parallax_sd or np.inf])
    # start: the stars kinematically within 2σ of the cluster are its members, in every bin
    var = np.diagonal(cov_c)[None] + (np.diagonal(S, axis1=1, axis2=2) if S is not None else 0.0)
    near = np.sum((kin - mu_c) ** 2 / var, axis=1) < 2.0 ** 2 * 3
    fitter = ProfileFitter(footprint, max_scale, max_half_radius, r50)
    profile = fitter.fit(sky, near.astype(float), centre)
    n_c, n_f = bins.counts(b, near.astype(float)), bins.counts(b, (~near).astype(float))
    previous, p_previous = -np.inf, np.zeros(n)
    it, ll = 0, -np.inf
    colour_term, l_colour = None, (0.0, 0.0)
    log_field = footprint.log_field_density(sky)
    log_rho = profile.log_density(sky)
    for it in range(1, max_iter + 1):
        a, c, resp_parts, Tc, Tf = _terms(kin, S, sky, b, mu_c, cov_c, w_f, mu_f, cov_f,
                                          log_rho, log_field, n_c, n_f, log_window, levels)
        a_kin, c_kin = a, c
        a, c = a + l_colour[0], c + l_colour[1]
        norm = np.logaddexp(a, c)
        p = np.exp(a - norm)
        p_kin = p if colour_term is None else expit(a_kin - c_kin)  # without the colour term
        resp_f = (1.0 - p)[:, None] * np.exp(resp_parts)
        ll = float(norm.mean() - np.log(n))
        converged = abs(ll - previous) < tol or np.max(np.abs(p - p_previous)) < p_tol
        previous, p_previous = ll, p
        photometric = colour is not None and mag is not None \
            and (colour_term is not None or converged)
        if photometric:  # the kinematic likelihood ratio alone (priors, sky taken out)
            kin_ratio = a_kin - c_kin - np.log(n_c[b] / n_f[b]) - log_rho + log_field
        n_c, n_f = bins.member_counts(b, p, 1.0 - p)
        # the stars whose membership their motion decides shape the profile -- by their
        # membership without the colour term: a twin on the same sequence elsewhere on the sky
        # would otherwise widen it
        q = p_kin * _kinematic_weight(cov_c, S, levels and levels.pm_variance(Tc))
        if q.sum() > 1 and not fixed_centre:
            centre = q @ sky / q.sum()
        profile = fitter.fit(sky, q, centre)
        log_rho = profile.log_density(sky)  # this M-step's field share and the next E-step's
        design = np.column_stack([np.ones(n), sky - centre]) if gradient and not fixed_mean \
            else None
        mu_c, cov_c, coef, levels = cluster_update(levels, kin, S, p, mu_c, cov_c, Tc, floor,
                                                   design, fixed_mean)
        wanted = np.sqrt(np.diag(cov_c))
        cov_c = _cap_sd(cov_c, cap)
        share = field_prior_share(np.log(n_c[b]) + log_rho,
                                  np.log(n_f[b]) + log_field)
        w_f = _field_update(kin, S, b, bins.n_bins, resp_f, mu_f, cov_f, Tf, floor, share,
                            min_sd=min_field_sd, design=design_f)
        if photometric:
            refit = ColourTerm.fit(mag, colour, b, bins.n_bins, p,
                                   similar=expit(kin_ratio), field_p=p_kin,
                                   mag_range=colour_term and colour_term.mag_range)
            if refit is None:  # too few members with a colour: the term stays as it was
                break
            if colour_term is None:  # the photometric phase starts: convergence anew
                converged, previous = False, -np.inf
            colour_term = refit
            l_colour = colour_term.log_terms(mag, colour, b)
        if converged:
            break
    cluster_mean = coef[0] if coef is not None else mu_c[0]
    grad = coef[1:] if coef is not None else np.zeros((2, 3))
    mu_f, slopes = drift_coefficients(design_f, mu_f)
    return RadialMixtureFit(probability=p, cluster_mean=cluster_mean, cluster_gradient=grad,
                            cluster_cov=cov_c, field_weights=w_f, field_means=mu_f,
                            field_covs=cov_f, profile=profile, footprint=footprint,
                            magnitude_bins=bins, n_cluster=n_c, n_field=n_f, n_iter=it,
                            log_likelihood=ll, colour_term=colour_term,
                            cluster_sd_unbounded=wanted, error_levels=levels,
                            field_slopes=slopes)
