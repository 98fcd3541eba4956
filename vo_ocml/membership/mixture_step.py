"""The mixture step of filter → MST → GMM: which stars of the MST's survivors are the cluster.

Two models (:class:`~vo_ocml.membership.mstgmm.MSTGMM` ``mixture=``):

``"radial"``
    Cluster + field Gaussians in (pmra, pmdec, parallax), deconvolved with each star's errors
    (full covariances when the table has Gaia's correlations), with a prior that depends on
    position and magnitude: the cluster's profile and luminosity function against a field
    uniform over the footprint with its own luminosity function
    (:mod:`vo_ocml.membership.radial_mixture`, :mod:`vo_ocml.membership.sky_prior`).
``"gmm"``
    The paper's scikit-learn Gaussian mixture over standardised (ξ, η, pmra, pmdec, parallax);
    the cluster is the component with the highest density at the cluster's position.

Each returns the cluster's posterior per star, facts for the result's details (with a
``reason`` in words) and the fitted model. The bound-cluster check on the fit:
:mod:`vo_ocml.membership.dispersion_bound`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from joblib import cpu_count
from scipy.special import erf, erfinv, gammainc, gammaincinv
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from vo_ocml.membership.centroid import BOUND_VELOCITY_DISPERSION, max_parallax_dispersion
from vo_ocml.membership.deconvolution import error_covariance, take_rows
from vo_ocml.membership.dispersion_bound import MIN_PARALLAX, fit_pm_sd_bound, hotter_than_bound
from vo_ocml.membership.outskirts import describes_cluster_twice
from vo_ocml.membership.radial_mixture import RadialMixtureFit, fit_radial_mixture
from vo_ocml.membership.result import R50_TOLERANCE
from vo_ocml.membership.scope import FILTER_NSIGMA, adaptive_filter
from vo_ocml.membership.sky_prior import Footprint, MagnitudeBins, ProfileFitter, eff_half_radius
from vo_ocml.membership.unknown_errors import ErrorLevels

log = logging.getLogger(__name__)

#: the largest scale radius (pc) of a cluster's surface-density profile: open clusters' King
#: core radii are ~0.5–5 pc (e.g. Kharchenko et al. 2013; Hunt & Reffert 2023), so 10 pc
#: bounds them without constraining any real cluster
MAX_CORE_RADIUS_PC = 10.0
#: the largest half-number radius (pc) of a cluster's profile: 99 % of Hunt & Reffert (2023)'s
#: clusters have r50 below 19 pc (the shipped catalogue); without it an EFF profile of slope 2
#: (an r⁻² halo, whose half-number radius is unbounded) lets the cluster model the field
MAX_HALF_RADIUS_PC = 20.0
#: a named cluster's fitted mean may lie this many σ (:func:`named_offset`) from the centroid it
#: was named with; the same 3σ as the default filter's half-width
NAMED_TOLERANCE = 3.0
#: a named cluster's fitted sky centre may lie this many of its fitted half-number radii from
#: the position it was named at: beyond, the named position is outside the fitted cluster's
#: inner half and the fit describes another group
NAMED_SKY_TOLERANCE = 1.0
#: the paper's mixture starts from the quarter of the stars nearest the cluster
CORE_QUANTILE = 0.25
#: ``n_components="auto"``, radial mixture: the field is one or two Gaussians (plus its
#: component uniform over the filter window), chosen by BIC. Clusters share the disc's rotation,
#: so they sit on the field's kinematic peak, which one Gaussian describes badly: a small
#: cluster's component then swells over the peak (injection benchmark, runs that modelled the
#: injected cluster: ECE 0.028 with one field Gaussian, 0.014 with BIC over one or two)
AUTO_FIELD_GAUSSIANS = (1, 2)
#: how much lower a field drifting with G must bring the BIC than the best fixed field to be
#: chosen: "very strong" evidence (Kass & Raftery 1995, JASA 90, 773: ΔBIC > 10). A drift is a
#: description of the field the simulated fields never need: there, with every number of
#: Gaussians also fitted drifting, one took a small cluster's run by ΔBIC 2 (inside a broad
#: co-moving group, tests/test_mixture_prior.py: Σ P 239 → 307; docs/injection.md, 35th session)
DRIFT_BIC_MARGIN = 10.0
#: the radial mixture fits a field Gaussian only with at least this many stars per component
#: (the cluster's and each field Gaussian's)
STARS_PER_COMPONENT = 20
#: fewer stars than a cluster and one field Gaussian need: the filter's window is nearly empty
#: of field stars, and the field is the window's uniform component alone (a 12–18-star distant
#: cluster in a 200-row proper-motion box was "no cluster": docs/injection.md, nineteenth
#: session); below this many (``min_members``' default) no mixture is fitted
MIN_MIXTURE_STARS = 10
#: such a fit is a cluster only if its members sit, on average, where its sky profile is at
#: least twice the table's mean density (``concentration``, the probability-weighted mean of
#: log ρ_c(x) A, is above log 2): with no field Gaussian to set it against, a co-moving group
#: scattered over the table would otherwise pass on its motion alone (compact injected
#: clusters 2.1–6.8; 16 co-moving stars scattered over a cone −0.12)
MIN_SPARSE_CONCENTRATION = float(np.log(2.0))
#: ``n_components="auto"``, the paper's mixture: cluster + field, as published
AUTO_GMM_COMPONENTS = 2
#: BLAS threads while a mixture is fitted: its products are of (n, 3) arrays of at most
#: ``max_fit_stars`` rows, too small for threads to pay (bench/samp_latency.py's cone: one
#: radial fit took 1.01 s wall and 1.68 s CPU with OpenBLAS's two threads, 0.94 s with one)
MIXTURE_BLAS_THREADS = 1


class TooFewStars(ValueError):
    """Too few stars for any of the mixtures asked for."""


def field_choices(n_components: int | str, max_components: int) -> list[int]:
    """Numbers of field Gaussians to try: ``n_components - 1``, 1…max-1 for "bic", or
    :data:`AUTO_FIELD_GAUSSIANS` for "auto"."""
    if n_components == "auto":
        return list(AUTO_FIELD_GAUSSIANS)
    if n_components == "bic":
        return list(range(1, max_components))
    return [int(n_components) - 1]


def radial(kin: np.ndarray, err: np.ndarray | None, sky: np.ndarray, centre: np.ndarray,
           intrinsic: np.ndarray, target: np.ndarray, *, n_field: list[int], gradient: bool,
           max_fit_stars: int, random_state: int | None, mag: np.ndarray | None = None,
           corr: np.ndarray | None = None, footprint: Footprint | None = None,
           log_window: np.ndarray | None = None, max_pm_sd: float | None = None,
           max_parallax_sd: float | None = None, fixed_mean: bool = False,
           fixed_centre: bool = False, colour: np.ndarray | None = None,
           r50: float | None = None) -> tuple[np.ndarray, dict, Any]:
    """Fit the cluster + field mixture(s), best by BIC; return probabilities, facts, model.

    The candidates: each number of field Gaussians in ``n_field`` with fixed means and, when
    ``mag`` spans two or more magnitude bins, the most with means drifting with G
    (:func:`~vo_ocml.membership.field_gaussians.drifting_start`; chosen only when it lowers
    the BIC by :data:`DRIFT_BIC_MARGIN` more than the best fixed field and leaves the cluster
    no hotter than a bound one). The mixture is fitted on a random sample of at most
    ``max_fit_stars`` stars (speed on cones of millions of stars), then every star is scored
    with it; not a candidate whose field holds the cluster's outskirts
    (:mod:`~vo_ocml.membership.outskirts`: all refitted with field Gaussians no narrower than
    :func:`cluster_like_sd` if every one's does). ``mag`` (G)
    makes the prior depend on magnitude, ``corr`` (Gaia's three correlation coefficients) gives the
    full error covariances, ``footprint`` is the table's (default: the stars' convex hull),
    ``log_window`` the log-volume of each star's filter window in (pmra, pmdec, parallax):
    the field then has a component uniform over it (the field the filter let through);
    ``max_pm_sd`` and ``max_parallax_sd`` bound the cluster's intrinsic proper-motion (mas/yr)
    and parallax (mas) dispersions;
    ``fixed_mean`` keeps the cluster's mean at ``centre`` (a named cluster whose free fit
    moved to another one: :func:`named_offset`); ``fixed_centre`` keeps its sky centre at
    ``target`` (a named position the free fit moved away from: :func:`sky_offset`);
    without ``err`` the cluster is a mixture over Gaia's levels of error
    (:mod:`vo_ocml.membership.unknown_errors`); ``colour`` (BP−RP) adds the photometric term
    (:mod:`vo_ocml.membership.photometry`); ``r50`` (deg), a named cluster's catalogued
    half-number radius, bounds the profile's (:func:`max_half_radius`) and centres its prior
    (:class:`~vo_ocml.membership.sky_prior.ProfileFitter`).

    Raises
    ------
    TooFewStars
        Fewer than :data:`STARS_PER_COMPONENT` stars per component for every choice of
        ``n_field``, and, with ``log_window``, fewer than :data:`MIN_MIXTURE_STARS` in all
        (between the two the field is the window's uniform component alone, and the fit
        must be concentrated on the sky: :data:`MIN_SPARSE_CONCENTRATION`); without ``err``,
        the same when the window of the cluster's observed spread alone holds fewer than a
        cluster and a field Gaussian need.
    """
    fit_rows = np.arange(len(kin))
    if len(kin) > max_fit_stars:
        fit_rows = np.sort(np.random.default_rng(random_state).choice(
            len(kin), max_fit_stars, replace=False))
    cov = error_covariance(err, corr)
    choices = [m for m in n_field if len(fit_rows) >= STARS_PER_COMPONENT * (m + 1)]
    if not choices and log_window is not None and len(fit_rows) >= MIN_MIXTURE_STARS:
        choices = [0]  # the field: its component uniform over the window, alone
    # each number of field Gaussians with fixed means, and the most Gaussians with means
    # drifting with G (field_gaussians.drifting_start) when the stars' G fill two or more
    # magnitude bins: BIC chooses. The drifting field starts as the others do: started from the
    # fixed field's fit it stayed in its basin (injection bench set A, blind ECE 0.053 against
    # 0.048; on the crowded-frame run it helps most its BIC ended 56 above the fixed field's,
    # where from the kinematic start it ends 596 below; docs/injection.md, 35th session)
    drifts = mag is not None and bool(np.any(MagnitudeBins(mag[fit_rows]).offsets))
    choices = [(m, False) for m in choices] + ([(max(choices), True)]
                                               if drifts and choices and max(choices) else [])

    def fit(choice: tuple[int, bool], min_field_sd: Callable | None = None) -> RadialMixtureFit:
        m, slope = choice
        return fit_radial_mixture(
            kin[fit_rows], take_rows(cov, fit_rows), sky[fit_rows], centre,
            intrinsic, target, mag=None if mag is None else mag[fit_rows],
            log_window=None if log_window is None else log_window[fit_rows],
            max_pm_sd=max_pm_sd, max_parallax_sd=max_parallax_sd, fixed_mean=fixed_mean,
            fixed_centre=fixed_centre, colour=None if colour is None else colour[fit_rows],
            footprint=footprint, max_scale=max_profile_scale(centre[2]),
            max_half_radius=max_half_radius(centre[2], r50), r50=r50, n_field=m,
            gradient=gradient,
            error_levels=ErrorLevels.start() if err is None else None,
            min_field_sd=min_field_sd, field_slope=slope, random_state=random_state)

    def fit_all(min_field_sd: Callable | None = None) -> dict:
        # the BIC candidates are independent: fitted side by side (NumPy releases the GIL, but
        # its calls on 13,574 stars are short: 2.04 s side by side against 2.36 s one after
        # the other on bench/samp_latency.py's cone), no more at once than there are CPUs
        # (three threads on two CPUs held the GIL against each other), the costliest first:
        # the most field Gaussians, drifting
        order = choices[::-1]
        with threadpool_limits(MIXTURE_BLAS_THREADS, user_api="blas"), \
                ThreadPoolExecutor(max(min(len(choices), cpu_count()), 1)) as pool:
            done = dict(zip(order, pool.map(lambda c: fit(c, min_field_sd), order)))
        return {c: done[c] for c in choices}
    fits = fit_all()
    if not fits:
        raise TooFewStars("too few stars for a mixture")
    # not a candidate whose field holds the cluster's outskirts (all refitted if each one's does)
    bounds = (max_profile_scale(centre[2]), max_half_radius(centre[2], r50))
    distinct = [m for m, f in fits.items() if not describes_cluster_twice(
        f, fit_rows, kin, cov, sky, mag, log_window, cluster_like_sd,
        ProfileFitter(f.footprint, *bounds, r50))]
    if not distinct:
        fits = fit_all(cluster_like_sd)
        distinct = list(fits)
    # nor a drifting field beside which the cluster's Gaussian is hotter than a bound cluster
    # (a feature of the field, no cluster) while a fixed field's is not (pairs bench, seed 2)
    bound = [c for c in distinct if not c[1] or max_pm_sd is None or not hotter_than_bound(
        fits[c].cluster_sd_unbounded, max_pm_sd, centre[2], fits[c].cluster_mean[2])]
    distinct = bound if any(not c[1] for c in bound) else distinct
    bics = {f"{m + 1}{' drifting' if slope else ''}": f.bic(len(fit_rows))
            for (m, slope), f in fits.items()}
    best = fits[min(distinct, key=lambda c: fits[c].bic(len(fit_rows))
                    + (DRIFT_BIC_MARGIN if c[1] else 0.0))]
    probability = best.probability if len(fit_rows) == len(kin) else \
        best.predict(kin, cov, sky, mag, log_window, colour)
    n_components = len(best.field_means) + 1
    uniform = best.field_weights.shape[1] > len(best.field_means)
    gain = best.profile.log_density(sky) + np.log(best.footprint.area)
    concentration = float(np.sum(probability * gain) / max(probability.sum(), 1e-9))
    if (0, False) in fits and concentration < MIN_SPARSE_CONCENTRATION:
        raise TooFewStars("too few stars for a field Gaussian, and the candidate members are "
                          "no more concentrated on the sky than the field")
    if err is None and concentration < MIN_SPARSE_CONCENTRATION and np.sum(adaptive_filter(
            kin, None, centre, intrinsic, intrinsic, FILTER_NSIGMA)) < 2 * STARS_PER_COMPONENT:
        # the same test where the errors are unknown and the filter widened to their widest
        # level (unknown_errors.stand_in): the window of the cluster's observed spread alone
        # must hold a cluster and a field Gaussian's stars, as before the widening
        raise TooFewStars("too few stars within the cluster's observed spread for a field "
                          "Gaussian, and the candidate members are no more concentrated on "
                          "the sky than the field")
    info = {"model": "radial", "n_components": n_components, "bic": bics,
            "pm_gradient_per_deg": best.cluster_gradient.tolist(),
            "deconvolved": err is not None, "fixed_mean": fixed_mean,
            **({} if best.error_levels is None else {"error_level_shares": np.exp(
                best.error_levels.log_shares).tolist()}),
            "fixed_centre": fixed_centre, "field_drifts_with_g": best.field_slopes is not None,
            "photometric": best.colour_term is not None, "error_correlations": corr is not None,
            "n_iter": best.n_iter,
            "cluster_mean": best.cluster_mean.tolist(),
            "cluster_intrinsic_sd": np.sqrt(np.diag(best.cluster_cov)).tolist(),
            "cluster_sd_unbounded": best.cluster_sd_unbounded.tolist(),
            "pm_sd_bound": max_pm_sd,
            "cluster_mean_cov": (mean_covariance(best.cluster_cov, probability, cov)
                                 if best.error_levels is None else
                                 best.error_levels.mean_covariance(
                                     kin, best.cluster_mean + (sky - best.centre)
                                     @ best.cluster_gradient, best.cluster_cov, probability)
                                 ).tolist(),
            "profile_centre_deg": best.profile.centre.tolist(),
            "profile_scale_deg": best.profile.scale, "profile_slope": best.profile.slope,
            "concentration": concentration, "field_uniform_component": uniform,
            "field_sky_density": "stars outside the filter" if best.footprint.field is not None
            else "uniform over the footprint",
            "magnitude_bin_edges": best.magnitude_bins.edges.tolist(),
            "n_cluster_per_magnitude_bin": best.n_cluster.tolist(),
            "n_field_per_magnitude_bin": best.n_field.tolist()}
    info["reason"] = (
        f"cluster component of a {n_components}-component mixture (1 cluster + "
        f"{n_components - 1} field{' drifting with G' if best.field_slopes is not None else ''}"
        f"{' + uniform over the filter window' if uniform else ''}), "
        f"deconvolved with the stars' errors: "
        f"{'yes' if err is not None else 'no'}; intrinsic sd "
        f"{np.round(info['cluster_intrinsic_sd'], 3).tolist()} mas/yr, mas/yr, mas")
    info["n_fit_stars"] = int(len(fit_rows))
    return probability, info, best


def named_offset(info: dict, given: np.ndarray, given_spread: Any = None) -> float:
    """How far a fitted cluster's mean is from the centroid ``given`` it was named with, in σ.

    The Mahalanobis distance of the given (pmra, pmdec, parallax) from the fitted mean under
    the cluster's intrinsic covariance plus the fitted mean's own covariance, plus the given
    centroid's spread when it has one (a catalogue's member spread), expressed as the
    equivalent number of standard deviations of a normal (the scale of ``filter_nsigma``).
    Beyond :data:`NAMED_TOLERANCE` the fit has moved to another cluster or a feature of the
    field: the named one does not contain its own centroid. ``given_spread``: the centroid's
    own spread per axis, when known (a catalogue's); 0 for the paper's mode.
    """
    if "cluster_mean" not in info:
        return 0.0
    offset = np.asarray(info["cluster_mean"]) - np.asarray(given, float)
    cov = np.diag(np.asarray(info["cluster_intrinsic_sd"]) ** 2) \
        + np.asarray(info["cluster_mean_cov"])
    if given_spread is not None and np.all(np.isfinite(given_spread)):
        cov = cov + np.diag(np.asarray(given_spread, float) ** 2)
    d2 = float(offset @ np.linalg.solve(cov, offset))
    # the χ²₃ distance as the σ of a normal with the same tail probability
    return float(np.sqrt(2.0) * erfinv(gammainc(1.5, d2 / 2.0)))


def sky_offset(info: dict, given_sky: np.ndarray | None) -> float:
    """How far a fitted cluster's sky centre is from the position it was named at, in units of
    its fitted half-number radius (0 without a given position or a fitted profile).

    Beyond :data:`NAMED_SKY_TOLERANCE` the named position lies outside the half of the fitted
    cluster nearest its centre: the fit describes another group.
    """
    if given_sky is None or "profile_centre_deg" not in info:
        return 0.0
    half = float(eff_half_radius(info["profile_scale_deg"], info["profile_slope"]))
    distance = float(np.hypot(*(np.asarray(info["profile_centre_deg"]) - given_sky)))
    return distance / half if half > 0 else np.inf


def refit_if_moved(fit: Callable[[bool], tuple], info: Callable[[tuple], dict],
                   given: np.ndarray, given_spread: Any, named: bool,
                   given_sky: np.ndarray | None = None) -> tuple:
    """``fit(False)``, or, for a named cluster that it moved away from, ``fit(True)``.

    ``fit(held)`` runs the mixture step and returns a tuple whose facts ``info(out)`` hold the
    fitted cluster; when ``named`` and the fit ends more than :data:`NAMED_TOLERANCE` σ
    (:func:`named_offset`) from the ``given`` centroid, or more than
    :data:`NAMED_SKY_TOLERANCE` half-number radii (:func:`sky_offset`) from the position
    ``given_sky`` (tangent plane, deg) it was named at, the mixture is refitted with the
    cluster held at the named centroid (and position, when given), and the facts record
    ``free_fit_offset_sigma`` and ``free_fit_sky_offset``.
    """
    out = fit(False)
    if not named:
        return out
    offset = named_offset(info(out), given, given_spread)
    moved = sky_offset(info(out), given_sky)
    if offset > NAMED_TOLERANCE or moved > NAMED_SKY_TOLERANCE:  # another cluster or feature
        log.warning("the free fit ended %.1f sigma and %.1f half-radii from the named cluster "
                    "(another cluster or a feature of the field): refitted held at the named "
                    "centroid%s", offset, moved, " and position" if given_sky is not None else "")
        out = fit(True)
        info(out)["free_fit_offset_sigma"] = offset
        info(out)["free_fit_sky_offset"] = moved
    return out


def window_log_volume(kin: np.ndarray, err: np.ndarray | None, observed: np.ndarray,
                      intrinsic: np.ndarray, span: np.ndarray, nsigma: float,
                      fixed_widths: tuple[float, float, float] | None = None) -> np.ndarray:
    """log of the volume of (pmra, pmdec, parallax) each star could occupy and pass the filter.

    The filter's window around the centroid -- the ellipsoid of the star's σ_int² + σ_i² (the
    observed spread² without errors), or the fixed box -- clipped per axis by the table's own
    range ``span`` (tables pre-cut to a box). The field's uniform component spreads over it.
    """
    if fixed_widths is not None:
        width = np.minimum(2 * np.asarray(fixed_widths, float), span)
        return np.full(len(kin), np.sum(np.log(width)))
    var = intrinsic**2 + err**2 if err is not None else np.broadcast_to(observed**2, kin.shape)
    q = 2.0 * gammaincinv(1.5, erf(nsigma / np.sqrt(2.0)))  # the filter's χ²₃ quantile
    half = np.minimum(np.sqrt(q * np.maximum(var, 1e-12)), span / 2)
    return np.log(4.0 / 3.0 * np.pi) + np.sum(np.log(half), axis=1)


def cluster_like_sd(parallax: float) -> np.ndarray:
    """The intrinsic spreads (pmra, pmdec in mas/yr, parallax in mas) of the hottest bound
    cluster at ``parallax`` (mas) --
    :func:`~vo_ocml.membership.dispersion_bound.fit_pm_sd_bound` at
    :data:`~vo_ocml.membership.centroid.BOUND_VELOCITY_DISPERSION`, and the parallax bound --:
    a field Gaussian narrower than this along an axis would be a cluster."""
    pm = fit_pm_sd_bound(parallax, BOUND_VELOCITY_DISPERSION)
    return np.array([pm, pm, max_parallax_dispersion(max(parallax, MIN_PARALLAX))])


def max_half_radius(parallax: float, r50: float | None = None) -> float:
    """Largest half-number radius (deg) of the profile at a parallax (mas):
    :data:`MAX_HALF_RADIUS_PC`, and at most :data:`R50_TOLERANCE` times ``r50``, the
    half-number radius (deg) a catalogue lists for a named cluster, when given."""
    distance_pc = 1000.0 / max(parallax, MIN_PARALLAX)
    largest = float(np.degrees(MAX_HALF_RADIUS_PC / distance_pc))
    return largest if r50 is None else min(largest, R50_TOLERANCE * float(r50))


def max_profile_scale(parallax: float) -> float:
    """Largest profile scale radius (deg) at a parallax (mas): :data:`MAX_CORE_RADIUS_PC`."""
    distance_pc = 1000.0 / max(parallax, MIN_PARALLAX)
    return float(np.degrees(MAX_CORE_RADIUS_PC / distance_pc))


def mean_covariance(cluster_cov: np.ndarray, p: np.ndarray, S: np.ndarray | None) -> np.ndarray:
    """Covariance of the fitted cluster mean, (Σ_i P_i (Σ_c + S_i)⁻¹)⁻¹.

    Each member weighs as its errors and the cluster's intrinsic spread allow: faint members
    with large errors add little, and the intrinsic spread bounds what bright ones add.
    """
    total = cluster_cov[None] + (S if S is not None else np.zeros((len(p), 3, 3)))
    return np.linalg.inv(np.einsum("n,nij->ij", p, np.linalg.inv(total)))


def gmm(Z: np.ndarray, target: np.ndarray, target_var: np.ndarray, *, n_components: int | str,
        max_components: int, random_state: int | None
        ) -> tuple[np.ndarray, dict, GaussianMixture]:
    """The paper's mixture: scikit-learn's Gaussian mixture over standardised 5-D ``Z``.

    Raises
    ------
    TooFewStars
        Fewer than 5 stars per component for every choice of components.
    """
    choices = list(range(2, max_components + 1)) if n_components == "bic" else \
        [AUTO_GMM_COMPONENTS] if n_components == "auto" else [int(n_components)]
    near = np.sum((Z - target) ** 2, axis=1)
    core = near <= np.quantile(near, CORE_QUANTILE)
    fits, bics = [], {}
    for k in choices:
        if len(Z) < 5 * k:
            continue
        model = GaussianMixture(k, covariance_type="full", random_state=random_state,
                                n_init=1 if k == 2 else 3, reg_covar=1e-5)
        if k == 2:  # deterministic start: the stars nearest the cluster vs the rest
            model.set_params(means_init=np.vstack([Z[core].mean(axis=0), Z[~core].mean(axis=0)]),
                             weights_init=[CORE_QUANTILE, 1 - CORE_QUANTILE],
                             init_params="random_from_data")
        fits.append(model.fit(Z))
        bics[k] = float(model.bic(Z))
    if not fits:
        raise TooFewStars("too few stars for a mixture")
    best = min(fits, key=lambda g: bics[g.n_components])
    from scipy.stats import multivariate_normal  # slow to import; only this mode needs it
    # the cluster: the highest density at the cluster's position, allowing for the
    # uncertainty of that position (so a compact component slightly off-target still wins)
    dens = [float(multivariate_normal(best.means_[k], best.covariances_[k] + np.diag(target_var),
                                      allow_singular=True).logpdf(target))
            for k in range(best.n_components)]
    k = int(np.argmax(dens))
    info = {"model": "gmm", "n_components": best.n_components, "bic": bics,
            "component_log_density": dens, "cluster_component": k,
            "reason": f"component {k} of {best.n_components} has the highest density at the "
                      f"cluster's position and centroid (weight {best.weights_[k]:.3f})"}
    return best.predict_proba(Z)[:, k], info, best
