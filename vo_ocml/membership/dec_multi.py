"""DEC with several clusters (``clusters`` N > 1 or ``"all"``; sky features only).

1. **Seeds**: the named or most significant cluster (the single-cluster front end,
   :func:`vo_ocml.membership.scope.candidates`) and the blind detection's other significant
   candidates, each measured where it was found, duplicates dropped — the default method's
   seeds (:func:`vo_ocml.membership.joint_seeds.measured_seeds`).
2. **DEC** on the stars that pass any seed's adaptive filter, with tangent-plane (ξ, η) and
   (pmra, pmdec, parallax) robustly scaled (the single-cluster run's error-scaled offsets are
   relative to one cluster, so they cannot hold several). Each seed's group in each run is the
   group (of at least :data:`~vo_ocml.membership.dec_groups.MIN_GROUP` stars) whose median is
   nearest the seed, on the sky too when the detection placed it there; DEC's score per seed is
   the ensemble's mean soft assignment to that group, and the seed's sky start is the median
   position of the stars it scores above 0.5.
3. **Probability**: the default method's joint K-cluster + field mixture
   (:func:`vo_ocml.membership.joint.fit_seeds`, deconvolved, magnitude- and sky-dependent
   prior) started from the seeds' centroids and intrinsic spreads at DEC's sky positions, one
   per group of clusters whose filters share stars
   (:func:`~vo_ocml.membership.joint_groups.overlap_groups`, as the default method groups
   them), on the stars of the group's filters; the groups' posteriors are combined
   (:func:`~vo_ocml.membership.joint_groups.combine`), so that each star's probabilities of
   every cluster and of the field sum to one and a cluster far from the first in motion does
   not change the first's. A non-primary cluster with fewer than
   :data:`~vo_ocml.membership.dec_sky.MIN_MEMBERS` members or hotter than a bound cluster is
   dropped and its group's mixture refitted; if the first fails, no cluster is found.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING

import numpy as np

from vo_ocml.membership import joint, joint_seeds, mixture_step
from vo_ocml.membership.base import STAGE_DEC, STAGE_FILTER, Centroid, ClusterFound, StarColumns
from vo_ocml.membership.dec_features import RobustScaler
from vo_ocml.membership.dec_groups import (MIN_GROUP, Ensemble, Outcome, cluster_probability,
                                           ensemble_details, robust_spread, run_ensemble, scores)
from vo_ocml.membership.dec_sky import (MAX_FIT_STARS, MIN_MEMBERS, MIN_SIDE, STARS_PER_COMPONENT,
                                        NEARBY_PARALLAX, no_cluster, sky_frame)
from vo_ocml.membership.deconvolution import error_covariance
from vo_ocml.membership.detection import MAX_CANDIDATES, find_candidates
from vo_ocml.membership.joint_groups import combine, overlap_groups
from vo_ocml.membership.joint_mixture import JointMixtureFit
from vo_ocml.membership.scope import (DETECTION_SKY_WINDOW, FILTER_NSIGMA, MIN_SIGNIFICANCE,
                                      VELOCITY_DISPERSION, adaptive_filter, candidates)
from vo_ocml.membership.sky import from_tangent_plane, tangent_plane
from vo_ocml.membership.sky_prior import Footprint
from vo_ocml.membership.unknown_errors import stand_in

if TYPE_CHECKING:
    from vo_ocml.membership.dec import DEC

log = logging.getLogger(__name__)

#: DEC's features here: sky position and raw kinematics (robustly scaled)
FEATURES = ("xi", "eta", "pmra", "pmdec", "parallax")


@dataclass
class SeveralModel:
    """The fitted several-cluster DEC, to score new rows (each cluster's probability, then the
    field's): one joint mixture per group of clusters (its seeds and model), combined."""

    origin: tuple[float, float]
    fits: list[tuple[list[joint_seeds.Seed], JointMixtureFit]]
    span: np.ndarray

    def predict(self, X: np.ndarray, errors: np.ndarray | None, stars: StarColumns) -> np.ndarray:
        """Posteriors (n, K + 1) of complete rows ``X``; the field's outside every seed's filter."""
        kin = X[:, 2:]
        blocks = []
        for seeds, mixture in self.fits:
            filters, log_window = windows(kin, errors, seeds, self.span)
            passed = filters.any(axis=1)
            P = np.zeros((len(X), len(seeds) + 1))
            P[:, -1] = 1.0
            if passed.any():
                sel = stars.rows(np.flatnonzero(passed))
                cov = None if errors is None else error_covariance(errors[passed], sel.correlations)
                sky = tangent_plane(X[passed, 0], X[passed, 1], *self.origin)
                P[passed] = mixture.predict(kin[passed], cov, sky, sel.magnitude,
                                            log_window[passed], sel.colour)
            blocks.append(P)
        return reduce(combine, blocks)


def windows(kin: np.ndarray, err: np.ndarray | None, seeds: list[joint_seeds.Seed],
            span: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which stars pass each seed's adaptive filter (n, K), and the log-volumes of their filter
    windows (n, K; inf outside), clipped by the table's range ``span`` (as the default method's)."""
    err = stand_in(err, len(kin))  # unknown errors: their widest level (unknown_errors)
    passed = np.column_stack([adaptive_filter(kin, err, s.centre, s.observed, s.intrinsic, FILTER_NSIGMA)
                              for s in seeds])
    volume = np.column_stack([mixture_step.window_log_volume(kin, err, s.observed, s.intrinsic, span,
                                                             FILTER_NSIGMA) for s in seeds])
    return passed, np.where(passed, volume, np.inf)


def seed_groups(W: np.ndarray, labels: np.ndarray, k: int, seed: joint_seeds.Seed) -> list[int]:
    """The group of one DEC run nearest ``seed``: its median nearest the seed's centroid (and its
    detected sky position, when the detection resolved one), in units of the stars' robust
    spread; groups of fewer than :data:`MIN_GROUP` stars are not considered."""
    use_sky = bool(np.isfinite(seed.window))
    target = np.concatenate([seed.sky, seed.centre])
    cols = slice(0, 5) if use_sky else slice(2, 5)
    scale = robust_spread(W)[cols]
    best, best_d = 0, np.inf
    for g in range(k):
        inside = labels == g
        if inside.sum() < MIN_GROUP:
            continue
        d = float(np.linalg.norm((np.median(W[inside], axis=0)[cols] - target[cols]) / scale))
        if d < best_d:
            best, best_d = g, d
    return [best]


def sky_starts(ens: Ensemble, W: np.ndarray, k: int, seeds: list[joint_seeds.Seed]) -> tuple[list[np.ndarray], list[dict]]:
    """Each seed's sky start from DEC's groups, and the facts of how it was placed."""
    starts, facts = [], []
    for s in seeds:
        groups = [seed_groups(W, run.labels, k, s) for run in ens.runs]
        score = np.mean([cluster_probability(ens.runs[i].q, groups[i]) for i in ens.kept], axis=0)
        side = score > 0.5
        how = "the kept runs' consensus (ensemble score > 0.5)"
        if side.sum() < MIN_SIDE:
            side = ens.runs[ens.representative].labels == groups[ens.representative][0]
            how = "the representative run's group (the runs did not agree)"
        starts.append(np.median(W[side, :2], axis=0))
        facts.append({"group_per_seed": [g[0] for g in groups], "dec_members": int(side.sum()),
                      "sky_start": np.round(starts[-1], 5).tolist(), "from": how})
    return starts, facts


def _fit_group(est: "DEC", kin: np.ndarray, err: np.ndarray | None, sky: np.ndarray,
               stars: StarColumns, seeds: list[joint_seeds.Seed], rows: np.ndarray,
               filters: np.ndarray, log_window: np.ndarray,
               first: bool) -> tuple[joint.JointOutcome, np.ndarray] | None:
    """One group's joint mixture on its filters' stars ``rows`` (``filters``, ``log_window``:
    the group's columns, every row), and its posteriors (every row: the field's outside
    ``rows``). None: too few stars, or the mixture confirmed none of its clusters (with
    ``first``, the primary's group: not its first cluster)."""
    if len(rows) < STARS_PER_COMPONENT * (len(seeds) + 1):
        return None
    sub = stars.rows(rows)
    cov = None if err is None else error_covariance(err[rows], sub.correlations)
    outcome = joint.fit_seeds(kin[rows], cov, sky[rows], seeds, filters=filters[rows],
                              log_window=log_window[rows],
                              gradient=lambda c: bool(c[2] > NEARBY_PARALLAX), min_members=MIN_MEMBERS,
                              velocity_dispersion=VELOCITY_DISPERSION, max_fit_stars=MAX_FIT_STARS,
                              random_state=est.random_state, mag=sub.magnitude,
                              footprint=Footprint(sky, field_sky=sky[~filters.any(axis=1)]),
                              colour=sub.colour if est.photometric else None, keep_first=first)
    if outcome is None:
        return None
    P = np.zeros((len(kin), len(outcome.seeds) + 1))
    P[:, -1] = 1.0
    # every star of the group scored by the fitted model, exactly as predict_proba scores new rows
    kept = [next(i for i, t in enumerate(seeds) if t is s) for s in outcome.seeds]
    P[rows] = outcome.model.predict(kin[rows], cov, sky[rows], sub.magnitude,
                                    log_window[rows][:, kept], sub.colour)
    return outcome, P


def fit_several(est: "DEC", Xc: np.ndarray, err: np.ndarray | None, centroid: Centroid | None,
                stars: StarColumns, max_clusters: int) -> Outcome:
    """Several clusters and the field on the complete rows ``Xc`` (canonical order)."""
    m = len(Xc)
    origin, sky, kin = sky_frame(Xc, centroid)
    detections = find_candidates(kin, err, sky, max_candidates=max(MAX_CANDIDATES, max_clusters),
                                 resolve_sky=MIN_SIGNIFICANCE, random_state=est.random_state)
    scope, reason = candidates(kin, err, sky, centroid, random_state=est.random_state,
                               detections=detections)
    if scope is None:
        return no_cluster(m, {}, reason)
    found = detections[0] if scope.source == "data" else None
    if found is not None and found.sky_centre is not None:
        target, window = np.asarray(found.sky_centre, float), DETECTION_SKY_WINDOW * found.sky_scale
    else:
        target, window = np.median(sky[scope.passed], axis=0) if scope.passed.any() else np.zeros(2), np.inf
    primary = joint_seeds.Seed(
        scope.centre, scope.observed_spread, scope.intrinsic_spread, target, scope.significance,
        scope.source, None if centroid is None else centroid.name, window=window, detection=found)
    seeds = joint_seeds.measured_seeds(
        kin, err, sky, primary, detections, max_clusters=max_clusters,
        min_significance=MIN_SIGNIFICANCE, sky_window=DETECTION_SKY_WINDOW,
        velocity_dispersion=VELOCITY_DISPERSION, random_state=est.random_state)
    seeds, not_seeded = joint_seeds.known_seeds(
        kin, err, sky, seeds, tuple(est.known_clusters), origin, max_clusters=max_clusters,
        min_significance=MIN_SIGNIFICANCE, min_members=MIN_MEMBERS, nsigma=FILTER_NSIGMA,
        velocity_dispersion=VELOCITY_DISPERSION, random_state=est.random_state)
    span = np.ptp(kin, axis=0)
    filters, log_window = windows(kin, err, seeds, span)
    cand = np.flatnonzero(filters.any(axis=1))
    counts = {"filter": int(len(cand))}
    front = {"filter_centre": scope.centre.round(4).tolist(),
             "observed_spread": scope.observed_spread.round(4).tolist(),
             "intrinsic_spread": scope.intrinsic_spread.round(4).tolist(),
             "detection_significance": scope.significance, "n_seeds_found": len(seeds)}
    groups = overlap_groups(filters[cand])
    needed = STARS_PER_COMPONENT * (len(groups[0]) + 1)  # the first group's mixture's components
    first_rows = cand[filters[np.ix_(cand, groups[0])].any(axis=1)]
    if len(first_rows) < needed:
        return no_cluster(m, counts, f"only {len(first_rows)} stars pass the filters (DEC and the "
                          f"joint mixture of {len(groups[0])} cluster(s) and the field need "
                          f"{needed})", front)
    W = np.column_stack([sky[cand], kin[cand]])
    Z = RobustScaler.fit(W, FEATURES).transform(W)
    k, silhouettes = est._k(Z, "stars passing the filters", k_low=len(seeds) + 1)
    seed_ints = est._seeds(len(Z))
    training, network = est._network()
    ens = run_ensemble(Z, k, seed_ints, kin[cand], Centroid(*scope.centre, source=scope.source),
                       backend=est.backend, anchor=None, training=training, network=network,
                       merge_distance=0.0, names="(pmra, pmdec, parallax)", verbose=est.verbose)
    starts, facts = sky_starts(ens, W, k, seeds)
    for s, start in zip(seeds, starts):
        if not s.known:  # a catalogued cluster starts where it is catalogued
            s.sky = start
    details = front | ensemble_details(ens, seed_ints, k, silhouettes, est.n_clusters is not None)
    details["dec_sky_starts"] = facts
    outcomes, blocks, dropped = [], [], list(not_seeded)
    for g, group in enumerate(groups):
        rows = cand[filters[np.ix_(cand, group)].any(axis=1)]
        fitted = _fit_group(est, kin, err, sky, stars, [seeds[i] for i in group], rows,
                            filters[:, group], log_window[:, group], first=g == 0)
        if fitted is None and g == 0:
            return no_cluster(m, counts, "the cluster was not confirmed by the joint mixture (too "
                              f"few members (< {MIN_MEMBERS}) or too hot for a bound cluster)",
                              details, k)
        if fitted is None:
            dropped.append(f"{len(group)} candidate(s) not confirmed by their mixture "
                           f"({len(rows)} stars in their filters)")
            continue
        outcomes.append(fitted[0])
        blocks.append(fitted[1])
        dropped += fitted[0].dropped
    P = reduce(combine, blocks)
    clusters = []
    for outcome in outcomes:
        for i, s in enumerate(outcome.seeds):
            ra, dec = from_tangent_plane(*outcome.model.centres[i], *origin)
            spread = np.sqrt(np.diag(outcome.model.covs[i]))
            found_i = Centroid(*map(float, outcome.model.means[i]), source=s.source, name=s.name,
                               ra=float(ra), dec=float(dec), spread=tuple(map(float, spread)))
            info = {"seed": np.asarray(s.centre, float).tolist(),
                    "intrinsic_spread": spread.tolist(), "dec_sky_start": np.round(s.sky, 5).tolist()}
            if s.detection is not None:
                info["detection"] = s.detection.describe()
            clusters.append(ClusterFound(f"cluster_{len(clusters) + 1}", found_i,
                                         float(s.significance), info))
    details |= {"n_clusters_found": len(clusters),
                "n_fitted_apart": len(clusters) - len(outcomes[0].seeds),
                "cluster_component_reason": f"first of {len(clusters)} clusters, each group of "
                f"clusters whose filters share stars in a joint mixture with the field, started "
                f"at DEC's sky positions, deconvolved with the stars' errors: "
                f"{'yes' if err is not None else 'no'}"}
    if dropped:
        details["clusters_dropped"] = "; ".join(dropped)
    stage = np.full(m, STAGE_FILTER, dtype=object)
    stage[cand] = STAGE_DEC
    labels = np.full(m, -1)
    labels[cand] = ens.runs[ens.representative].labels
    result = scores(P[:, 0], stage, labels, counts, clusters[0].centroid, details)
    result.clusters, result.cluster_probability = clusters, P
    return Outcome(result, SeveralModel(origin, [(o.seeds, o.model) for o in outcomes], span),
                   ens.groups[ens.representative], k)

