"""DEC with sky position on the core's candidates (``features="sky"``, the default).

1. The core's front end (:func:`vo_ocml.membership.scope.candidates`) seeds the cluster, measures
   it and keeps the stars that pass its adaptive filter; only these are clustered, so DEC does
   not spend its k groups on the whole cone.
2. DEC clusters their tangent-plane (ξ, η) and their offsets from the cluster's centroid in
   pmra, pmdec and parallax in units of each star's own expected scatter,
   (v − v_c) / √(σ_int² + σ_i²) (the quantities the filter thresholds; the cluster's observed
   spread when errors are unknown), robustly scaled. In those units a faint member is as close
   to the cluster as a bright one, and the field of the same cell is still spread over the sky.
   Each run's cluster is its densest group in the five features, and DEC's score is the seed
   ensemble's soft assignment to it.
3. DEC's soft assignments are a ranking, not probabilities. The probability is the default
   method's deconvolved cluster + field likelihood ratio
   (:func:`vo_ocml.membership.mixture_step.radial`: the model whose calibration the injection
   benchmark checks), fitted by EM on the candidates from the core's centroid and spreads, its
   sky profile started where DEC's cluster groups lie on the sky. (A prior that rose with DEC's score
   instead failed where DEC splits a cluster that fills its table into several groups:
   Pleiades completeness 0.34.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vo_ocml.membership import dispersion_bound, mixture_step
from vo_ocml.membership.base import STAGE_DEC, STAGE_FILTER, STAGE_NO_CLUSTER, Centroid, StarColumns
from vo_ocml.membership.centroid import max_parallax_dispersion
from vo_ocml.membership.dec_features import FEATURE_SETS, RobustScaler
from vo_ocml.membership.dec_groups import Ensemble, Outcome, ensemble_details, run_ensemble, scores
from vo_ocml.membership.deconvolution import error_covariance
from vo_ocml.membership.radial_mixture import RadialMixtureFit
from vo_ocml.membership.scope import FILTER_NSIGMA, VELOCITY_DISPERSION, Scope, adaptive_filter, candidates
from vo_ocml.membership.sky import from_tangent_plane, sky_centre, tangent_plane
from vo_ocml.membership.sky_prior import Footprint
from vo_ocml.membership.unknown_errors import stand_in

if TYPE_CHECKING:
    from vo_ocml.membership.dec import DEC

log = logging.getLogger(__name__)

#: stars per mixture component the likelihood ratio needs (as :func:`mixture_step.radial`
#: and the joint fit of :mod:`vo_ocml.membership.joint` require)
STARS_PER_COMPONENT = 20
#: fewest candidates (stars passing the filter) to cluster: enough for the cluster + field
#: likelihood ratio that scores them
MIN_CANDIDATES = 2 * STARS_PER_COMPONENT
#: fewest members (P > 0.5) of a cluster declared found (as the default method's min_members)
MIN_MEMBERS = 10
#: fewest consensus members (ensemble score > 0.5) to place the likelihood ratio's sky profile
MIN_SIDE = 4
#: parallax (mas) above which the likelihood ratio models the perspective gradient of the
#: cluster's mean proper motion across the field (as the default method does)
NEARBY_PARALLAX = 2.0
#: the likelihood ratio is fitted on at most this many candidates (a random sample), then
#: every candidate is scored (speed on cones of millions of stars)
MAX_FIT_STARS = 20000



@dataclass
class SkyModel:
    """The fitted sky-feature DEC, to score new rows."""

    origin: tuple[float, float]
    scope: Scope
    nsigma: float
    scaler: RobustScaler
    ensemble: Ensemble
    mixture: RadialMixtureFit
    span: np.ndarray

    def predict(self, X: np.ndarray, errors: np.ndarray | None, stars: StarColumns) -> np.ndarray:
        """Probability of complete rows ``X`` (ra, dec, pmra, pmdec, parallax); 0 outside the filter."""
        kin = X[:, 2:]
        s = self.scope
        passed = adaptive_filter(kin, stand_in(errors, len(kin)), s.centre, s.observed_spread,
                                 s.intrinsic_spread, self.nsigma)
        p = np.zeros(len(X))
        if passed.any():
            sky = tangent_plane(X[passed, 0], X[passed, 1], *self.origin)
            sel = stars.rows(np.flatnonzero(passed))
            e = None if errors is None else errors[passed]
            cov = None if e is None else error_covariance(e, sel.correlations)
            p[passed] = self.mixture.predict(kin[passed], cov, sky, sel.magnitude,
                                             window(kin[passed], e, s, self.span), sel.colour)
        return p


@dataclass
class NoClusterModel:
    """What a fit that found no cluster predicts: probability 0."""

    def predict(self, X: np.ndarray, errors: np.ndarray | None, stars: StarColumns) -> np.ndarray:
        """Zeros for every row."""
        return np.zeros(len(X))


def standard_offsets(kin: np.ndarray, err: np.ndarray | None, scope: Scope) -> np.ndarray:
    """(v − v_c) / √(σ_int² + σ_i²) per axis (the observed spread when errors are unknown)."""
    var = scope.intrinsic_spread**2 + err**2 if err is not None else scope.observed_spread**2
    return (kin - scope.centre) / np.sqrt(var)


def no_cluster(m: int, counts: dict[str, int], reason: str, details: dict | None = None,
               k: int | None = None) -> Outcome:
    """The outcome of a fit that found no cluster (probability 0, stage ``no_cluster``)."""
    log.info("DEC: no cluster found: %s", reason)  # the shells (CLI, SAMP) warn once
    result = scores(np.zeros(m), np.full(m, STAGE_NO_CLUSTER), np.full(m, -1), counts, None,
                    (details or {}) | {"no_cluster_reason": reason})
    return Outcome(result, NoClusterModel(), [], k)


def window(kin: np.ndarray, err: np.ndarray | None, scope: Scope, span: np.ndarray) -> np.ndarray:
    """log-volume of each star's filter window (:func:`mixture_step.window_log_volume`)."""
    return mixture_step.window_log_volume(kin, stand_in(err, len(kin)), scope.observed_spread,
                                          scope.intrinsic_spread, span, FILTER_NSIGMA)


def _likelihood_ratio(kin: np.ndarray, err: np.ndarray | None, sky: np.ndarray, start: np.ndarray,
                      scope: Scope, span: np.ndarray, stars: StarColumns, footprint: Footprint,
                      given_spread: np.ndarray | None, random_state: int,
                      photometric: bool) -> tuple[np.ndarray, dict, RadialMixtureFit]:
    """Fit the default method's cluster + field likelihood ratio on the candidates.

    The model and its settings are the default method's mixture step: the field has a
    component uniform over each star's filter window (``span``: the table's range in pmra,
    pmdec, parallax, which clips it); the cluster's intrinsic pm dispersion is bounded at
    :data:`~vo_ocml.membership.scope.VELOCITY_DISPERSION` km/s and its parallax dispersion by
    its depth; a named cluster whose free fit moved more than
    :data:`~vo_ocml.membership.mixture_step.NAMED_TOLERANCE` σ from the given centroid
    (``given_spread``: the centroid's own spread, when known) is refitted with its mean held
    there. The cluster starts from the core's measurement (centroid and intrinsic spread) at
    the sky position of DEC's members ``start``. (Started from the DEC members' own median and
    spread instead, M67's fit settled on a fragment of the cluster: completeness 0.46 against
    0.88.) With ``photometric``, the cluster's sequence in the CMD joins as in the default
    method (``stars.colour``: BP−RP). Returns every candidate's probability, the fit's facts
    and the model.
    """
    corr = None if err is None else stars.correlations
    log_window = window(kin, err, scope, span)

    def fit(fixed_mean: bool) -> tuple[dict, RadialMixtureFit]:
        _, info, model = mixture_step.radial(
            kin, err, sky, scope.centre, scope.intrinsic_spread, np.median(sky[start], axis=0),
            n_field=list(mixture_step.AUTO_FIELD_GAUSSIANS),
            gradient=bool(scope.centre[2] > NEARBY_PARALLAX), max_fit_stars=MAX_FIT_STARS,
            random_state=random_state, mag=stars.magnitude, corr=corr, footprint=footprint,
            log_window=log_window, max_pm_sd=dispersion_bound.fit_pm_sd_bound(scope.centre[2], VELOCITY_DISPERSION),
            max_parallax_sd=max_parallax_dispersion(scope.centre[2]), fixed_mean=fixed_mean,
            colour=stars.colour if photometric else None)
        return info, model

    info, model = mixture_step.refit_if_moved(fit, lambda out: out[0], scope.centre,
                                              given_spread, scope.source != "data")
    # every candidate scored by the fitted model, exactly as predict_proba scores new rows
    post = model.predict(kin, None if err is None else error_covariance(err, corr), sky, stars.magnitude,
                         log_window, stars.colour)
    return post, info, model


def sky_frame(Xc: np.ndarray, centroid: Centroid | None
              ) -> tuple[tuple[float, float], np.ndarray, np.ndarray]:
    """The frame of a DEC run on complete rows ``Xc``: its origin (ra, dec) -- the centroid's
    position when it has one, else the table's centre --, (ξ, η) and (pmra, pmdec, parallax)."""
    if centroid is not None and centroid.ra is not None and centroid.dec is not None:
        origin = (float(centroid.ra), float(centroid.dec))
    else:
        origin = sky_centre(Xc[:, 0], Xc[:, 1])
    return origin, tangent_plane(Xc[:, 0], Xc[:, 1], *origin), Xc[:, 2:]


def fit_sky(est: "DEC", Xc: np.ndarray, err: np.ndarray | None, centroid: Centroid | None,
            stars: StarColumns) -> Outcome:
    """DEC on (ξ, η, pmra, pmdec, parallax) of the filtered stars of ``Xc`` (canonical order)."""
    m = len(Xc)
    origin, sky, kin = sky_frame(Xc, centroid)
    scope, reason = candidates(kin, err, sky, centroid, random_state=est.random_state)
    if scope is None:
        return no_cluster(m, {}, reason)
    cand = np.flatnonzero(scope.passed)
    counts = {"filter": int(len(cand))}
    front = {"filter_centre": scope.centre.round(4).tolist(),
             "observed_spread": scope.observed_spread.round(4).tolist(),
             "intrinsic_spread": scope.intrinsic_spread.round(4).tolist(),
             "detection_significance": scope.significance}
    if len(cand) < MIN_CANDIDATES:
        return no_cluster(m, counts, f"only {len(cand)} stars pass the filter (DEC needs {MIN_CANDIDATES})", front)
    e_c = None if err is None else err[cand]
    V = np.column_stack([sky[cand], standard_offsets(kin[cand], e_c, scope)])
    scaler = RobustScaler.fit(V, FEATURE_SETS["sky"])
    Z = scaler.transform(V)
    k, silhouettes = est._k(Z, "stars passing the filter")
    seeds = est._seeds(len(Z))
    training, network = est._network()
    ens = run_ensemble(Z, k, seeds, V, None, backend=est.backend, anchor=None, training=training,
                       network=network, merge_distance=est.merge_distance if est.merge_distance is not None else 0.0,
                       names="(ξ, η, z_pmra, z_pmdec, z_parallax)",
                       verbose=est.verbose)
    start = ens.score > 0.5
    counts["dec_group"] = int(start.sum())
    details = front | ensemble_details(ens, seeds, k, silhouettes, est.n_clusters is not None)
    if start.sum() < MIN_SIDE:
        # the seeds picked different groups (no consensus): place the profile with the
        # representative run's cluster groups (each holds at least MIN_GROUP stars)
        start = np.isin(ens.runs[ens.representative].labels, ens.groups[ens.representative])
        details["sky_start"] = "the representative run's cluster groups (the seeds did not agree)"
    span = np.ptp(kin, axis=0)
    given_spread = None if centroid is None or centroid.spread is None else np.asarray(centroid.spread, float)
    post, info, mix = _likelihood_ratio(kin[cand], e_c, sky[cand], start, scope, span, stars.rows(cand),
                                        Footprint(sky, field_sky=sky[~scope.passed]), given_spread,
                                        est.random_state, est.photometric)
    probability = np.zeros(m)
    probability[cand] = post
    members = post > 0.5
    info.pop("reason", None)
    details |= {"likelihood_ratio": info | {
        "start": "the core's centroid and intrinsic spread, at the median sky position of DEC's "
                 "cluster group(s)"}}
    if members.sum() < MIN_MEMBERS:
        return no_cluster(m, counts, f"the cluster holds only {int(members.sum())} stars with P > 0.5 "
                           f"(fewer than {MIN_MEMBERS})", details, k)
    wanted, bound = dispersion_bound.velocity_dispersion(post, kin[cand], e_c, scope.centre, info,
                                                         VELOCITY_DISPERSION)
    if wanted > bound:  # the default method's test: the Gaussian models the field's peak
        return no_cluster(m, counts, f"the cluster's intrinsic proper-motion dispersion, "
                          f"{wanted:.2f} mas/yr, exceeds what a bound cluster can have at its "
                          f"parallax ({bound:.2f} mas/yr)", details, k)
    stage = np.full(m, STAGE_FILTER, dtype=object)
    stage[cand] = STAGE_DEC
    labels = np.full(m, -1)
    labels[cand] = ens.runs[ens.representative].labels
    xi, eta = np.median(sky[cand][members], axis=0)
    ra, dec = from_tangent_plane(xi, eta, *origin)
    fitted = Centroid(*map(float, mix.cluster_mean), source=scope.source,
                      name=None if centroid is None else centroid.name, ra=ra, dec=dec,
                      spread=tuple(float(v) for v in np.sqrt(np.diag(mix.cluster_cov))))
    return Outcome(scores(probability, stage, labels, counts, fitted, details),
                   SkyModel(origin, scope, FILTER_NSIGMA, scaler, ens, mix, span), ens.groups[ens.representative], k)
