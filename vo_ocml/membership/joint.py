"""Every cluster in the field: seeds from blind detection, one filter → MST per cluster, one joint
mixture (:mod:`vo_ocml.membership.joint_mixture`) per group of clusters that compete for stars.

Used by :class:`~vo_ocml.membership.mstgmm.MSTGMM` when ``clusters`` is not 1. The first cluster
is the named one (centroid given) or the most significant one found; the others are the blind
detection's candidates (:func:`~vo_ocml.membership.detection.find_candidates`) at or above
``min_significance``, each measured where it was found
(:func:`~vo_ocml.membership.centroid.measure_cluster`), at most ``max_clusters`` in all. A
candidate that is the named cluster again (kinematically within
:data:`~vo_ocml.membership.joint_seeds.SAME_CLUSTER` combined
spreads of it, and on the sky within its window when both positions are known) is dropped.
Known clusters (``known_clusters``: ``vo_ocml.run`` passes the catalogued ones the table holds)
that none of these is fill the places left
(:func:`~vo_ocml.membership.joint_seeds.known_seeds`): each must stand out where it
is known, and is kept only if its group's mixture confirms it there (its members crowd where it
is known, its fit stays at its known motion and position), so a poor catalogued neighbour that
the blind detection misses is modelled instead of merged into the first cluster.
Each cluster's filter and MST select its candidate stars. Clusters whose filters share stars
are one group (:func:`~vo_ocml.membership.joint_groups.overlap_groups`), and each group's joint
mixture is fitted on the union of its clusters' candidates. A cluster left with fewer than
``min_members`` stars at P > 0.5, or whose Gaussian would be hotter than a bound cluster can be
without the fit's bound (the single model's test,
:func:`~vo_ocml.membership.dispersion_bound.velocity_dispersion`), is dropped and the mixture
refitted without it. The first cluster alone in its group, or not confirmed by its group's
mixture, or moved by it away from where it was named, is fitted by the single model
(:func:`~vo_ocml.membership.joint_groups.beside`): a several-cluster run finds every cluster a
single run finds.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import reduce
from typing import Any

import numpy as np
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from vo_ocml.errors import InputError
from vo_ocml.membership import dispersion_bound, mixture_step, mst
from vo_ocml.membership.centroid import max_parallax_dispersion
from vo_ocml.membership.deconvolution import error_covariance, take_rows
from vo_ocml.membership.joint_groups import combine, moved_from_name, overlap_groups
from vo_ocml.membership.joint_mixture import JointMixtureFit, JointSeed, fit_joint_mixture
from vo_ocml.membership.joint_sample import fit_sample
from vo_ocml.membership.joint_seeds import (KNOWN_WINDOW_R50, Seed, known_seeds,
                                            left_where_known, measured_seeds, seed_label)
from vo_ocml.membership.scope import DETECTION_SKY_WINDOW
from vo_ocml.membership.sky import tangent_plane
from vo_ocml.membership.sky_prior import Footprint
from vo_ocml.membership.unknown_errors import ErrorLevels, stand_in

#: most refits after dropping clusters that fail the checks
MAX_REFITS = 3
#: the joint EM stops when no star's probability changes by more than this in an iteration
#: (the single model's ``p_tol`` is 5e-4). Its late iterations mostly narrow the field's
#: Gaussians, slowly (extreme deconvolution of stars whose errors exceed the component's
#: width), towards cluster-like widths: on `bench/multi_cluster.py --speed`'s cone the EM
#: stops after 78 iterations instead of 202, with the same clusters' F1 (0.75–0.92), and run
#: to 1,000 it falls to 0.73–0.80. Not in the single model: a cluster named with its r50
#: inside a broad group at its motion (tests/test_mixture_prior.py) sheds the group's stars
#: in those late iterations
JOINT_P_TOL = 1e-3


def check_clusters(clusters: Any) -> None:
    """Refuse a ``clusters`` parameter that is neither ``"all"`` nor an integer ≥ 1.

    Raises
    ------
    InputError
    """
    if not (clusters == "all" or (isinstance(clusters, (int, np.integer))
                                  and not isinstance(clusters, bool) and clusters >= 1)):
        raise InputError(f"clusters must be 'all' or an integer ≥ 1, not {clusters!r}.")


def candidate_rows(kin: np.ndarray, sky: np.ndarray, passed: np.ndarray, *, rule: str,
                   k_sigma: float, n_neighbors: int, min_group: int) -> np.ndarray:
    """The rows of one cluster's filter that survive its MST."""
    i_f = np.flatnonzero(passed)
    if len(i_f) < 10:
        return i_f[:0]
    zf = StandardScaler().fit_transform(np.column_stack([sky[i_f], kin[i_f, 2]]))
    keep = mst.prune(zf, rule=rule, k_sigma=k_sigma, n_neighbors=n_neighbors,
                     min_group=min_group).keep
    return i_f[keep]


@dataclass
class JointOutcome:
    """The joint fit on the candidate rows: posteriors, the seeds kept, the model (None: a
    primary cluster left to the single model), facts."""

    probability: np.ndarray
    seeds: list[Seed]
    model: JointMixtureFit | None
    dropped: list[str]


def fit_seeds(kin: np.ndarray, err: np.ndarray | None, sky: np.ndarray, seeds: list[Seed], *,
              filters: np.ndarray, gradient, min_members: int, velocity_dispersion: float,
              max_fit_stars: int, random_state: int | None, mag: np.ndarray | None = None,
              footprint: Footprint | None = None, log_window: np.ndarray | None = None,
              colour: np.ndarray | None = None, keep_first: bool = True) -> JointOutcome | None:
    """Fit the joint mixture; drop failing non-primary clusters and refit. None: the primary fails.

    With ``keep_first=False`` (a group of clusters other than the primary's) the first seed is
    dropped like any other; None: every cluster failed.

    ``err``: standard errors (n, 3) or covariances (n, 3, 3); ``filters`` (n, K) says which
    cluster's filter each star passed: the field is one Gaussian per cluster's filter region
    (started from its stars) and, with ``log_window`` (n, K: each star's window volume per
    filter, inf outside it), one uniform component over each window.
    ``gradient(centre) -> bool`` says whether a cluster's mean may vary across the sky; ``mag``
    (G) makes the prior depend on magnitude, ``colour`` (BP−RP) adds each cluster's sequence
    in the CMD (:func:`~vo_ocml.membership.joint_mixture.fit_joint_mixture`); ``footprint`` is
    the table's. Each cluster's
    intrinsic proper-motion dispersion is bounded during the fit as in the single-cluster model
    (:func:`~vo_ocml.membership.dispersion_bound.fit_pm_sd_bound`). A cluster alone keeps the
    single model's centre update, so that a field with one cluster gets the single run's
    answer; with several, each takes the EFF profile's own (``JointSeed.eff_centre``). The
    field's Gaussians drift with G (``fit_joint_mixture``'s ``field_drift``) wherever the stars
    fill two magnitude bins: measured on the injection, pairs and catalogued-pair benches
    (docs/multi.md, thirty-sixth session), not chosen by BIC as in the single model.
    """
    dropped: list[str] = []
    for _ in range(MAX_REFITS + 1):
        joint_seeds = [JointSeed(s.centre, s.intrinsic, s.sky, gradient(s.centre),
                                 mixture_step.max_profile_scale(s.centre[2]),
                                 dispersion_bound.fit_pm_sd_bound(s.centre[2], velocity_dispersion),
                                 mixture_step.max_half_radius(s.centre[2], s.r50),
                                 s.window, eff_centre=len(seeds) > 1,
                                 max_parallax_sd=max_parallax_dispersion(s.centre[2]),
                                 r50=s.r50)
                       for s in seeds]
        fit_rows, weights = np.arange(len(kin)), None
        if len(kin) > max_fit_stars:
            fit_rows, weights = fit_sample(kin, err, joint_seeds, max_fit_stars,
                                           np.random.default_rng(random_state))
        with threadpool_limits(mixture_step.MIXTURE_BLAS_THREADS, user_api="blas"):
            model = fit_joint_mixture(
                kin[fit_rows], take_rows(err, fit_rows), sky[fit_rows],
                joint_seeds, mag=None if mag is None else mag[fit_rows], footprint=footprint,
                field_groups=np.argmax(filters[fit_rows], axis=1),
                log_window=None if log_window is None else log_window[fit_rows],
                weights=weights, colour=None if colour is None else colour[fit_rows],
                error_levels=ErrorLevels.start() if err is None else None, p_tol=JOINT_P_TOL,
                field_drift=True)
        P = model.probability if len(fit_rows) == len(kin) else \
            model.predict(kin, err, sky, mag, log_window, colour)
        failing = []
        for k, s in enumerate(seeds):
            n_members = int(np.sum(P[:, k] > 0.5))
            sd, bound = dispersion_bound.fitted_dispersion(
                model.sd_unbounded[k], joint_seeds[k].max_pm_sd, joint_seeds[k].mean[2],
                model.means[k][2])
            if n_members < min_members or sd > bound:
                failing.append((k, f"{n_members} members, intrinsic pm sd {sd:.2f} mas/yr "
                                   f"(bound {bound:.2f})"))
            elif s.known and (why := left_where_known(model, P, k, s, sky)):
                failing.append((k, why))
        if not failing:
            return JointOutcome(P, seeds, model, dropped)
        if (failing[0][0] == 0 and keep_first) or len(failing) == len(seeds):
            return None
        dropped += [f"{seed_label(seeds[k])}: {why}" for k, why in failing]
        kept = [k for k in range(len(seeds)) if k not in {k for k, _ in failing}]
        seeds, filters = [seeds[k] for k in kept], filters[:, kept]
        if log_window is not None:
            log_window = log_window[:, kept]
    return None


#: a known cluster competes with a single run's cluster when its centroid passes that cluster's
#: filter for a star this precise: the errors of the table's least precise tenth (the filter
#: windows of fainter stars, which both clusters' windows hold, are wider still)
COMPETING_ERROR_QUANTILE = 90


def competing(known: tuple, primary: Seed, err: np.ndarray | None,
              nsigma: float) -> tuple:
    """The known clusters (Centroids) whose centroid lies within ``nsigma`` × (the primary's
    observed spread ⊕ its own spread ⊕ the table's :data:`COMPETING_ERROR_QUANTILE` th
    percentile error) of the primary's on every axis: those whose members its filter takes."""
    if not known:
        return ()
    error = np.nanpercentile(stand_in(err, 1 if err is None else len(err)),
                             COMPETING_ERROR_QUANTILE, axis=0)
    def spread(c) -> np.ndarray:
        return np.zeros(3) if c.spread is None else np.nan_to_num(np.asarray(c.spread, float))
    return tuple(c for c in known if np.all(
        np.abs(c.as_array() - primary.centre)
        <= nsigma * np.sqrt(primary.observed**2 + spread(c)**2 + error**2)))


def rivals(est, primary: Seed, err: np.ndarray | None, sky: np.ndarray,
           probability: np.ndarray) -> tuple:
    """The known clusters (``est.known_clusters``) that rival a single run's cluster for
    stars: :func:`competing` ones where its fit (``probability``, every row) gave at least
    half of ``min_members`` of probability within :data:`KNOWN_WINDOW_R50` × r50 of their
    position -- a cluster whose stars the fit did not take cannot have taken them."""
    rows = np.flatnonzero(probability > 0)
    out = []
    for c in competing(est.known_clusters, primary, err, est.filter_nsigma):
        target = tangent_plane(np.array([c.ra]), np.array([c.dec]), *est.sky_origin_)[0]
        near = np.hypot(*(sky[rows] - target).T) <= KNOWN_WINDOW_R50 * c.r50
        if probability[rows[near]].sum() >= est.min_members / 2:
            out.append(c)
    return tuple(out)


def beside_rivals(est, kin: np.ndarray, err: np.ndarray | None, sky: np.ndarray,
                  primary: Seed, probability: np.ndarray,
                  primary_rows: tuple[np.ndarray, np.ndarray]):
    """A single run's cluster fitted jointly with its :func:`rivals` (``probability``: its
    single fit), reported alone; None (``est`` as the single fit left it) when no rival stands
    out where it is known or the joint mixture confirms none beside it.

    The rivals are seeded as a several-cluster run seeds known clusters
    (:func:`~vo_ocml.membership.joint_seeds.known_seeds`, also against the stars at the same
    distance from the cluster's centre) and only the cluster's group is fitted
    (:func:`joint_scores`). Returns the primary's
    :class:`~vo_ocml.membership.base.Scores`, the rivals kept named in
    ``details["competitors_modelled"]``.
    """
    known = rivals(est, primary, err, sky, probability)
    if not known:
        return None
    scores = joint_result(est, kin, err, sky, primary, est.max_clusters, DETECTION_SKY_WINDOW,
                          primary_rows, competitors=known)
    if scores is None or len(est.joint_seeds_) > 1:
        return scores
    est.clusters_, est.fits_apart_, est.first_alone_ = [], [], False  # the single fit's
    del est.joint_seeds_
    return None


def window_columns(est, kin: np.ndarray, err: np.ndarray | None, seeds: list[Seed],
                   first: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Which stars pass each seed's filter (n, K), and their log window volumes (inf outside);
    ``first``: the first seed's filter, when the caller has it already."""
    passed = np.column_stack([
        first if k == 0 and first is not None
        else est._filter(kin, err, s.centre, s.observed, s.intrinsic)
        for k, s in enumerate(seeds)])
    log_window = np.full(passed.shape, np.inf)
    err = stand_in(err, len(kin))  # the filter's errors (unknown: their widest level)
    for k, s in enumerate(seeds):  # computed where the star passed only (millions of rows)
        rows = passed[:, k]
        log_window[rows, k] = mixture_step.window_log_volume(
            kin[rows], err[rows], s.observed, s.intrinsic,
            est.kinematic_range_, est.filter_nsigma,
            None if est.filter != "fixed" else est.fixed_widths)
    return passed, log_window


def joint_scores(est, kin: np.ndarray, err: np.ndarray | None, sky: np.ndarray,
                 primary: Seed, max_clusters: int, sky_window: float,
                 primary_rows: tuple[np.ndarray, np.ndarray], competitors: tuple = ()
                 ) -> tuple[np.ndarray, np.ndarray, dict, list[JointOutcome]] | None:
    """Every cluster's filter → MST, then a joint mixture per group of overlapping clusters
    (:func:`~vo_ocml.membership.joint_groups.overlap_groups`), for ``est`` (an MSTGMM).

    ``primary_rows``: the primary's filter (n,) and the rows its MST kept, from the single
    model's steps (the same filter and MST: not built twice). With ``competitors`` (a
    single-cluster run's :func:`rivals`) only those known clusters are seeded (no blind
    detection; each must also stand out against the stars at its distance from the primary)
    and only the primary's group is fitted.

    The primary cluster alone in its group, or not confirmed by its group's mixture, is left to
    the single model (its outcome's model is None;
    :func:`~vo_ocml.membership.joint_groups.beside`), so that a several-cluster
    run finds every cluster a single run finds.

    Returns
    -------
    (probability (m, K + 1) on every row, stage per row, step counts, one outcome per group
    with the primary's first), or None when ``competitors`` were given and none was seeded
    """
    from vo_ocml.membership.base import STAGE_DTYPE, STAGE_FILTER, STAGE_GMM, STAGE_MST
    from vo_ocml.membership.detection import find_candidates

    candidates = [] if competitors else est.candidates_ or find_candidates(
        kin, err, sky, max_candidates=max_clusters, resolve_sky=est.min_significance,
        random_state=est.random_state)
    seeds = measured_seeds(
        kin, err, sky, primary, candidates, max_clusters=max_clusters,
        min_significance=est.min_significance, sky_window=sky_window,
        velocity_dispersion=est.max_velocity_dispersion, random_state=est.random_state)
    known = competitors or est.known_clusters
    seeds, not_seeded = known_seeds(
        kin, err, sky, seeds, known, est.sky_origin_, max_clusters=max_clusters,
        min_significance=est.min_significance, min_members=est.min_members,
        nsigma=est.filter_nsigma,
        velocity_dispersion=est.max_velocity_dispersion, random_state=est.random_state,
        beside=primary.sky if competitors else None)
    if competitors and len(seeds) == 1:  # no rival stands out: the single fit stands
        return None
    est.kinematic_range_ = np.ptp(kin, axis=0)
    filters, log_window = window_columns(est, kin, err, seeds, primary_rows[0])
    if competitors:  # the clusters of the primary's group alone
        first = overlap_groups(filters)[0]
        seeds, filters, log_window = [seeds[k] for k in first], filters[:, first], \
            log_window[:, first]
    def mst_rows(k: int) -> np.ndarray:
        return candidate_rows(kin, sky, filters[:, k], rule=est.mst_rule, k_sigma=est._mst_k(),
                              n_neighbors=est.mst_neighbors, min_group=est.mst_min_group)

    # the clusters' MSTs are independent: built side by side (their k-NN searches and sorts
    # release the GIL)
    with ThreadPoolExecutor(max(len(seeds) - 1, 1)) as pool:
        rows = [primary_rows[1]] + list(pool.map(mst_rows, range(1, len(seeds))))
    stage = np.full(len(kin), STAGE_FILTER, dtype=STAGE_DTYPE)
    passed = filters.any(axis=1)
    stage[passed] = STAGE_MST

    def union(ks) -> np.ndarray:  # sorted rows any of these MSTs kept (np.unique: ~1 s a call)
        kept = np.zeros(len(kin), bool)
        for k in ks:
            kept[rows[k]] = True
        return np.flatnonzero(kept)

    counts = {"filter": int(passed.sum()), "mst": len(union(range(len(seeds))))}
    outcomes, blocks, skipped = [], [], []
    taken = np.zeros(len(kin), bool)  # the primary's stars, when its group was split
    groups, g, split = overlap_groups(filters), 0, False
    while g < len(groups):
        group = groups[g]
        i_m = union(group)
        i_m = i_m[~taken[i_m]]
        if group == [0]:  # the primary alone: the single model fits it (joint_groups.beside)
            taken[i_m] = split  # after a split the rest of its group fits the stars it leaves
            outcomes.append(JointOutcome(np.zeros((0, 2)), [seeds[0]], None, []))
            blocks.append(np.column_stack([np.zeros(len(kin)), np.ones(len(kin))]))
            g += 1
            continue
        outcome = None
        if len(i_m) >= mixture_step.STARS_PER_COMPONENT * (len(group) + 1):
            stars = est._stars.rows(i_m)
            cov = None if err is None else error_covariance(err[i_m], stars.correlations)
            outcome = fit_seeds(
                kin[i_m], cov, sky[i_m], [seeds[k] for k in group], mag=stars.magnitude,
                filters=filters[np.ix_(i_m, group)],
                footprint=Footprint(sky, field_sky=sky[~filters[:, group].any(axis=1)]),
                log_window=log_window[np.ix_(i_m, group)], gradient=est._gradient,
                min_members=est.min_members, velocity_dispersion=est.max_velocity_dispersion,
                max_fit_stars=est.max_fit_stars, random_state=est.random_state,
                colour=stars.colour if est.photometric else None, keep_first=g == 0)
        if g == 0 and (outcome is None or moved_from_name(est, seeds[0], outcome)):
            # the primary not confirmed beside its neighbours, or taken away from where it was
            # named: it is fitted alone, as a single run fits it, and they together after it
            groups[0:1], split = [[0], group[1:]], True
            continue
        g += 1
        if outcome is None:
            skipped.append(f"{len(group)} candidate(s) not confirmed by their mixture "
                           f"({len(i_m)} stars after the MST)")
            continue
        block = np.zeros((len(kin), len(outcome.seeds) + 1))
        block[:, -1] = 1.0
        block[i_m] = outcome.probability
        stage[i_m] = STAGE_GMM
        outcomes.append(outcome)
        blocks.append(block)
    outcomes[0].dropped.extend(not_seeded + skipped)
    # new stars are combined as these were (joint_predict)
    est.fits_apart_, est.first_alone_ = [(o.seeds, o.model) for o in outcomes[1:]], split
    return reduce(combine, blocks), stage, counts, outcomes


def joint_result(est, kin: np.ndarray, err: np.ndarray | None, sky: np.ndarray, primary: Seed,
                 max_clusters: int, sky_window: float,
                 primary_rows: tuple[np.ndarray, np.ndarray], competitors: tuple = ()):
    """The :class:`~vo_ocml.membership.base.Scores` of a joint run (``primary_rows``: see
    :func:`joint_scores`).

    Sets ``est``'s fitted attributes (``centre_``, spreads, ``mixture_``: the
    :class:`JointMixtureFit`, ``clusters_``, ``joint_seeds_``). With one seed in
    ``joint_seeds_`` the primary is left to the single model and these scores only carry the
    other clusters (:func:`~vo_ocml.membership.joint_groups.beside`). None, ``est``
    untouched, when :func:`joint_scores` seeded none of ``competitors``.
    """
    from vo_ocml.membership.base import Centroid, ClusterFound, Scores, probability_step
    from vo_ocml.membership.sky import from_tangent_plane

    scored = joint_scores(est, kin, err, sky, primary, max_clusters, sky_window, primary_rows,
                          competitors)
    if scored is None:
        return None
    P, stage, counts, outcomes = scored
    clusters = []
    for outcome in outcomes:
        model = outcome.model
        for k, s in enumerate(outcome.seeds):
            if model is None:  # the primary alone, fitted by the single model
                clusters.append(ClusterFound("cluster_1", Centroid(
                    *map(float, s.centre), source=s.source, name=s.name), float(s.significance)))
                continue
            ra, dec = from_tangent_plane(*model.centres[k], *est.sky_origin_)
            intrinsic = np.sqrt(np.diag(model.covs[k]))
            centroid = Centroid(*map(float, model.means[k]), source=s.source, name=s.name,
                                ra=float(ra), dec=float(dec), spread=tuple(map(float, intrinsic)))
            details = {"seed": np.asarray(s.centre, float).tolist(),
                       "intrinsic_spread": intrinsic.tolist()}
            if s.detection is not None:
                details["detection"] = s.detection.describe()
            clusters.append(ClusterFound(f"cluster_{len(clusters) + 1}", centroid,
                                         float(s.significance), details))
    model, n_first = outcomes[0].model, len(outcomes[0].seeds)
    counts["gmm"] = int(np.sum(P[:, 0] > 0.5))
    counts[probability_step(0.8)] = int(np.sum(P[:, 0] > 0.8))
    details = {
        "detection_significance": primary.significance,
        **({"detection": primary.detection.describe()} if primary.detection else {}),
        "seed": np.asarray(primary.centre, float).tolist(),
        "filter_centre": np.asarray(primary.centre, float).tolist(),
        "observed_spread": primary.observed.tolist(),
        "intrinsic_spread": primary.intrinsic.tolist(),
        "cluster_component_reason": (
            f"first of {n_first} clusters of a joint mixture with the field"
            f"{' drifting with G' if model is not None and model.field_slopes is not None else ''}"
            f", deconvolved with the stars' errors: {'yes' if err is not None else 'no'}"),
        "n_clusters": len(clusters),
        "n_fitted_apart": len(clusters) - n_first,
        "photometric": model is not None and model.colour_terms is not None,
    }
    dropped = [why for outcome in outcomes for why in outcome.dropped]
    if dropped:
        details["clusters_dropped"] = "; ".join(dropped)
    est.centre_, est.observed_spread_ = primary.centre, primary.observed
    est.intrinsic_spread_, est.mixture_, est.clusters_ = primary.intrinsic, model, clusters
    est.joint_seeds_ = outcomes[0].seeds
    if competitors:  # a single-cluster run: the primary alone, its competitors named
        details["competitors_modelled"] = ", ".join(str(c.centroid.name) for c in clusters[1:])
        return Scores(P[:, 0], stage, counts, clusters[0].centroid, details)
    return Scores(P[:, 0], stage, counts, clusters[0].centroid, details,
                  clusters=clusters, cluster_probability=P)
