"""filter → MST → GMM membership (SCIENCE.md §1), with a data-driven, adaptive front end.

1. **Centroid.** From the user, a catalogue (a :class:`Centroid`), or the data
   (:func:`vo_ocml.membership.detection.find_candidates`); then, unless ``refine=False``,
   measured around that seed with a local two-component mixture: the cluster's observed and
   intrinsic spreads (and a data seed's refined centre; a given centroid stays put, so that a
   neighbouring cluster cannot pull it away).
2. **Filter.** ``"adaptive"`` (default): a star passes when its χ² distance to the centroid
   in (pmra, pmdec, parallax), with per-star variance σ_int² + σ_i² (intrinsic spread plus the
   star's own error; the observed spread when errors are unknown), is below the χ²₃ quantile of
   ±``filter_nsigma`` σ. ``"fixed"``: the paper's box |x − x̄| < δ, δ = ``fixed_widths``
   (0.5, 0.5 mas/yr, 0.2 mas), centred on the unrefined centroid.
3. **MST** over standardised tangent-plane (ξ, η) and parallax (:mod:`vo_ocml.membership.mst`).
4. **GMM** over standardised (ξ, η, pmra, pmdec, parallax) of the survivors: 2 components by
   default (``n_components="auto"``), or ``n_components="bic"`` (2…``max_components`` by BIC)
   for fields with a second cluster. The cluster is the component whose (pmra, pmdec,
   parallax) marginal density at the centroid is highest -- compact and centred on it; its
   posterior is the probability.

Input checks, the complete rows, their canonical order and the result for every input row are
the shared contract's (:class:`~vo_ocml.membership.base.MembershipEstimator`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from sklearn.preprocessing import StandardScaler

from vo_ocml.errors import InputError
from vo_ocml.membership import (dispersion_bound, joint, joint_groups, joint_predict, joint_seeds,
                                 mixture_step, mst, unknown_errors)
from vo_ocml.membership.base import (
    STAGE_DTYPE, STAGE_FILTER, STAGE_GMM, STAGE_MST, STAGE_NO_CLUSTER, Centroid,
    MembershipEstimator, Scores, as_centroid, probability_step,
)
from vo_ocml.membership.centroid import max_parallax_dispersion
from vo_ocml.membership.scope import DETECTION_SKY_WINDOW, VELOCITY_DISPERSION, adaptive_filter
from vo_ocml.membership.seed_steps import SeedSteps
from vo_ocml.membership.seeding import CandidateSeeds
from vo_ocml.membership.sky import from_tangent_plane, sky_centre, tangent_plane
from vo_ocml.membership.sky_prior import Footprint

log = logging.getLogger(__name__)

#: parallax (mas) above which pm_gradient="auto" models the perspective gradient
NEARBY_PARALLAX = 2.0
#: the step counting the stars with P > 0.8
STEP_P08 = probability_step(0.8)


class MSTGMM(CandidateSeeds, SeedSteps, MembershipEstimator):
    """Open-cluster membership by filter → minimum spanning tree → Gaussian mixture.

    Parameters
    ----------
    centroid : Centroid or sequence of 3 floats, optional
        (pmra, pmdec, parallax) of the cluster in mas/yr and mas; None finds it in the data.
    filter : {"adaptive", "fixed"}
        Initial-filter mode (see the module docstring).
    filter_nsigma : float
        Adaptive filter half-width in standard deviations (3 keeps 99.7 % of members).
    fixed_widths : sequence of 3 floats
        Fixed-mode half-widths δ for (pmra, pmdec, parallax), mas/yr and mas.
    refine : bool
        Measure the cluster's spreads (and re-centre a data-found seed) from the data.
    mst_rule : {"paper", "code"}
        MST rule (see :mod:`vo_ocml.membership.mst`).
    mst_k : float or None
        Threshold = mean + ``mst_k`` × std; None: the rule's own (3 for "paper", 1 for "code",
        :data:`vo_ocml.membership.mst.DEFAULT_K`).
    mst_neighbors : int
        Neighbours of the k-NN graph for the "paper" rule.
    mst_min_group : int
        "paper" rule: pieces with fewer stars after the cut are field.
    n_components : int, "auto" or "bic"
        Mixture components (one is the cluster), or "bic" to choose 2…``max_components`` by
        BIC. "auto" (default): the radial mixture chooses by BIC between a field of one or two
        Gaussians (:data:`~vo_ocml.membership.mixture_step.AUTO_FIELD_GAUSSIANS`), the paper's
        mixture has 2 components.
    max_components : int
        Upper bound for "bic".
    mixture : {"radial", "gmm"}
        "radial" (default): cluster + field Gaussians in (pmra, pmdec, parallax), deconvolved
        with each star's errors, with a member fraction that varies with distance from the
        cluster's centre (:mod:`vo_ocml.membership.radial_mixture`); "gmm": the paper's
        scikit-learn Gaussian mixture over standardised (ξ, η, pmra, pmdec, parallax).
    pm_gradient : bool or "auto"
        "radial" mixture: let the cluster's mean proper motion and parallax vary linearly
        across the field (the perspective effect of a nearby cluster's space motion). "auto":
        only for clusters with parallax > 2 mas (closer than 500 pc).
    min_significance : float
        Global (trials-corrected, Gaussian-equivalent) detection significance below which no
        cluster is declared (data-driven centroid only; :mod:`vo_ocml.membership.detection`).
    min_members : int
        Fewest stars with P > 0.5 for a cluster to be declared found.
    max_velocity_dispersion : float
        km/s. A candidate whose intrinsic proper-motion dispersion exceeds this at its parallax
        (σ_pm > σ_v ϖ / 4.74, and > 0.5 mas/yr) is a feature of the field, not a bound cluster:
        no cluster is declared; the mixture's cluster Gaussian is bounded there too (open
        clusters: σ_v ≲ 1–2 km/s, :data:`~.centroid.BOUND_VELOCITY_DISPERSION`).
    clusters : int or "all"
        How many clusters to model together with the field: 1 (default) models the named or
        most significant cluster alone; N > 1 or "all" (up to ``max_clusters``) adds every
        other significant cluster found in the table (:mod:`vo_ocml.membership.joint`), so
        each star gets a probability per cluster and for the field ("radial" mixture only).
    max_clusters : int
        Most clusters a ``clusters="all"`` run models (the blind detection's candidates above
        ``min_significance``, best first).
    known_clusters : sequence of Centroid
        Clusters known to be in the table, each with ``ra``, ``dec`` and ``r50`` (``vo_ocml.run``
        passes the catalogued ones). A run of several clusters seeds those the detection did
        not find, a single-cluster run those whose stars its fit took
        (:func:`~vo_ocml.membership.joint.rivals`), each kept where the joint mixture confirms
        it (:func:`~vo_ocml.membership.joint_seeds.known_seeds`).
    max_fit_stars : int
        "radial" mixture: fit on a random sample of at most this many of the MST's survivors
        (speed on cones of millions of stars), then score every survivor with the fitted model.
    photometric : bool
        "radial" mixture: add the cluster's sequence in the CMD (BP−RP given G) against the
        field's colours (:mod:`vo_ocml.membership.photometry`), when the table has G and BP−RP
        (default: docs/injection.md, seventh session). False: kinematics and position alone.
    random_state : int or None
        Seed for every random step.

    Attributes
    ----------
    result_ : MembershipResult
        Probabilities, stages, step counts (cone, complete, filter, mst, gmm: P > 0.5 after
        the mixture, p_gt_08), centroid and details for every input row.
    probability_ : ndarray
        ``result_.probability``.
    centre_ : ndarray
        Refined (pmra, pmdec, parallax).
    intrinsic_spread_, observed_spread_ : ndarray
        The cluster's spreads per axis.
    mixture_ : RadialMixtureFit or JointMixtureFit or GaussianMixture or None
        The fitted mixture (for "gmm": in the standardised 5-D space of ``scaler_``).
    candidates_ : list of Detection
        Data-driven centroid only: the most significant overdensities found, best first
        (:func:`vo_ocml.membership.detection.find_candidates`). A single-cluster run fits the
        first that the filter, MST and mixture confirm as a cluster
        (:mod:`vo_ocml.membership.seeding`).
    cluster_component_ : int
        "gmm" only: index of the mixture component that is the cluster (-1 otherwise).
    fits_apart_ : list of (list of Seed, JointMixtureFit)
        Groups of clusters fitted apart from the first cluster's (several-cluster runs), whose
        posteriors :meth:`predict_cluster_proba` combines with the first's, as the fit did.
    first_alone_ : bool
        Several-cluster runs: the first cluster was fitted alone because its group's mixture
        moved it, and the rest of its group on the stars it left.
    """

    def __init__(self, centroid: Centroid | tuple[float, float, float] | None = None, *,
                 filter: str = "adaptive", filter_nsigma: float = 3.0,
                 fixed_widths: tuple[float, float, float] = (0.5, 0.5, 0.2),
                 refine: bool = True, mst_rule: str = "paper", mst_k: float | None = None,
                 mst_neighbors: int = 10, mst_min_group: int = 5,
                 n_components: int | str = "auto", max_components: int = 4,
                 mixture: str = "radial", pm_gradient: bool | str = "auto",
                 min_significance: float = 3.0, min_members: int = 10,
                 max_velocity_dispersion: float = VELOCITY_DISPERSION, clusters: int | str = 1,
                 max_clusters: int = 8, known_clusters: tuple[Centroid, ...] = (),
                 max_fit_stars: int = 20000, photometric: bool = True,
                 random_state: int | None = 0) -> None:
        self.centroid = centroid
        self.filter = filter
        self.filter_nsigma = filter_nsigma
        self.fixed_widths = fixed_widths
        self.refine = refine
        self.mst_rule = mst_rule
        self.mst_k = mst_k
        self.mst_neighbors = mst_neighbors
        self.mst_min_group = mst_min_group
        self.n_components = n_components
        self.max_components = max_components
        self.mixture = mixture
        self.pm_gradient = pm_gradient
        self.min_significance = min_significance
        self.min_members = min_members
        self.max_velocity_dispersion = max_velocity_dispersion
        self.clusters = clusters
        self.max_clusters = max_clusters
        self.known_clusters = known_clusters
        self.max_fit_stars = max_fit_stars
        self.photometric = photometric
        self.random_state = random_state

    method = "mstgmm"

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        if self.filter not in ("adaptive", "fixed"):
            raise InputError(f"filter must be 'adaptive' or 'fixed', not {self.filter!r}.")
        if self.mst_rule not in mst.RULES:
            raise InputError(f"mst_rule must be one of {mst.RULES}, not {self.mst_rule!r}.")
        if not (isinstance(self.n_components, int) and self.n_components >= 2) \
                and self.n_components not in ("auto", "bic"):
            raise InputError(f"n_components must be an integer ≥ 2, 'auto' or 'bic', not "
                             f"{self.n_components!r}.")
        if self.pm_gradient not in ("auto", True, False):
            raise InputError(f"pm_gradient must be 'auto', True or False, not {self.pm_gradient!r}.")
        if self.mixture not in ("radial", "gmm"):
            raise InputError(f"mixture must be 'radial' or 'gmm', not {self.mixture!r}.")
        joint.check_clusters(self.clusters)
        if self.clusters != 1 and self.mixture != "radial":
            raise InputError("clusters other than 1 needs mixture='radial' (the paper's "
                             "'gmm' mode separates clusters with n_components='bic').")
        joint_seeds.check_known(self.known_clusters)
        if self.filter_nsigma <= 0 or any(w <= 0 for w in self.fixed_widths):
            raise InputError("filter widths (filter_nsigma, fixed_widths) must be positive.")
        as_centroid(self.centroid)

    def _n_clusters(self) -> int:
        """Most clusters modelled together: 1 unless ``clusters`` asks for more."""
        return self.max_clusters if self.clusters == "all" else int(self.clusters)

    def _mst_k(self) -> float:
        """The MST threshold's k in use: ``mst_k``, else the rule's own default."""
        return float(self.mst_k) if self.mst_k is not None else mst.DEFAULT_K[self.mst_rule]

    def _parameters(self) -> dict[str, Any]:
        return super()._parameters() | {"mst_k": self._mst_k()}

    # ------------------------------------------------------------------ steps
    def _filter(self, kin: np.ndarray, err: np.ndarray | None, centre: np.ndarray,
                observed: np.ndarray, intrinsic: np.ndarray) -> np.ndarray:
        if self.filter == "fixed":
            return np.all(np.abs(kin - centre) < np.asarray(self.fixed_widths), axis=1)
        return adaptive_filter(kin, unknown_errors.stand_in(err, len(kin)), centre, observed,
                               intrinsic, self.filter_nsigma)

    def _window_log_volume(self, kin: np.ndarray, err: np.ndarray | None) -> np.ndarray:
        """log-volume of each star's filter window (:func:`mixture_step.window_log_volume`)."""
        return mixture_step.window_log_volume(
            kin, unknown_errors.stand_in(err, len(kin)), self.observed_spread_,
            self.intrinsic_spread_, self.kinematic_range_, self.filter_nsigma,
            None if self.filter != "fixed" else self.fixed_widths)

    def _gradient(self, centre: np.ndarray) -> bool:
        return bool(centre[2] > NEARBY_PARALLAX if self.pm_gradient == "auto" else self.pm_gradient)

    def _mixture(self, kin, err, sky, centre, observed, intrinsic, target, rows, footprint,
                 held=False, named_at=None):
        """:mod:`~vo_ocml.membership.mixture_step`: posterior, facts, model, scaler (``held``:
        the cluster's mean at ``centre``, its sky centre at ``named_at`` when given)."""
        fixed_centre = held and named_at is not None
        if self.mixture == "radial":
            stars = self._stars.rows(rows)
            post, info, model = mixture_step.radial(
                kin, err, sky, centre, intrinsic, named_at if fixed_centre else target,
                n_field=mixture_step.field_choices(self.n_components, self.max_components),
                gradient=self._gradient(centre), max_fit_stars=self.max_fit_stars,
                random_state=self.random_state, mag=stars.magnitude,
                corr=None if err is None else stars.correlations, footprint=footprint,
                log_window=self._window_log_volume(kin, err),
                max_pm_sd=dispersion_bound.fit_pm_sd_bound(centre[2], self.max_velocity_dispersion),
                max_parallax_sd=max_parallax_dispersion(centre[2]), fixed_mean=held,
                fixed_centre=fixed_centre, colour=stars.colour if self.photometric else None,
                r50=getattr(as_centroid(self.centroid), "r50", None))
            return post, info, model, None
        feats = np.column_stack([sky, kin])
        scaler = StandardScaler().fit(feats)
        t5 = (np.concatenate([target, centre]) - scaler.mean_) / scaler.scale_
        var5 = np.concatenate([np.full(2, 0.25), (observed / scaler.scale_[2:]) ** 2])
        post, info, model = mixture_step.gmm(
            scaler.transform(feats), t5, var5, n_components=self.n_components,
            max_components=self.max_components, random_state=self.random_state)
        return post, info, model, scaler

    # ------------------------------------------------------------------ the contract
    def _fit_rows(self, X: np.ndarray, err: np.ndarray | None) -> Scores:
        """filter → MST → mixture on the complete rows ``X`` (canonical order)."""
        kin = X[:, 2:5]
        c = as_centroid(self.centroid)
        # a named position is the tangent plane's origin
        named_at = np.zeros(2) if c is not None and None not in (c.ra, c.dec) else None
        ra0, dec0 = (c.ra, c.dec) if named_at is not None else sky_centre(X[:, 0], X[:, 1])
        sky = tangent_plane(X[:, 0], X[:, 1], ra0, dec0)
        self.sky_origin_ = (ra0, dec0)
        self.centre_ = self.observed_spread_ = self.intrinsic_spread_ = None
        self.mixture_, self.scaler_, self.cluster_component_, self.clusters_ = None, None, -1, []
        self.fits_apart_: list = []
        self.first_alone_ = False
        probability = np.zeros(len(X))
        stage = np.full(len(X), STAGE_FILTER, dtype=STAGE_DTYPE)
        counts: dict[str, int] = {}

        def no_cluster(reason: str) -> Scores:
            log.info("no cluster found: %s", reason)  # the shells (CLI, SAMP) warn once
            probability[:] = 0.0
            stage[:] = STAGE_NO_CLUSTER
            details: dict[str, Any] = {"no_cluster_reason": reason}
            if self.candidates_:
                details["detection_significance"] = self.candidates_[0].significance
                details["detection_candidates"] = "; ".join(
                    f"{i + 1}. {d.describe(self.sky_origin_)}"
                    for i, d in enumerate(self.candidates_))
            return Scores(probability, stage, counts, None, details)

        def attempt(seed) -> Scores | str:
            """filter → MST → mixture around one seed: the result, or why it is no cluster.

            A several-cluster run models the cluster with the others (measured beside its
            significant neighbours), and the single model fits it when it is alone in its group;
            a blind candidate found in kinematics alone must first be confirmed as a single run
            confirms it: beside other clusters a kinematic feature of the field can pass for
            one, and the single model's spatial profile refuses it."""
            probability[:] = 0.0
            stage[:] = STAGE_FILTER
            counts.clear()
            _, _, source, name, significance = seed
            several_run = self._n_clusters() > 1
            others = joint_seeds.neighbours(self.candidates_, self.min_significance,
                                            but=self._detection()) \
                if several_run else (None, None)
            gated = several_run and source == "data" and self._detection().sky_centre is None
            found = self._steps(kin, err, sky, seed, (None, None) if gated else others, counts)
            if isinstance(found, str):
                return found
            first = self._found_seed(kin, sky, seed, found)

            def jointly(primary, steps) -> Scores:
                """The several-cluster run's scores (``joint_seeds_``: its cluster's group)."""
                return joint.joint_result(self, kin, err, sky, primary, self._n_clusters(),
                                          DETECTION_SKY_WINDOW, (steps.passed, steps.rows))

            several = jointly(first, found) if several_run and not gated else None
            if several is not None and len(self.joint_seeds_) > 1:  # else the single fit
                return several
            centre, observed, intrinsic, passed, i_m, pruning = found
            stage[np.flatnonzero(passed)[~pruning.keep]] = STAGE_MST
            e_m = err[i_m] if err is not None else None
            try:
                self.centre_, self.observed_spread_ = centre, observed
                self.intrinsic_spread_ = intrinsic
                self.kinematic_range_ = np.ptp(kin, axis=0)
                footprint = Footprint(sky, field_sky=sky[~passed])
                post, mix_info, model, scaler = mixture_step.refit_if_moved(
                    lambda held: self._mixture(kin[i_m], e_m, sky[i_m], centre, observed, intrinsic,
                                               first.sky, i_m, footprint, held, named_at),
                    lambda out: out[1], centre, None if c is None else c.spread, source != "data",
                    named_at)
            except ValueError as why:  # TooFewStars: too few stars, or not concentrated
                return f"{len(i_m)} stars survive the MST, no mixture: {why}"
            probability[i_m] = post
            stage[i_m] = STAGE_GMM
            counts["gmm"] = int(np.sum(post > 0.5))
            counts[STEP_P08] = int(np.sum(post > 0.8))
            if counts["gmm"] < self.min_members:
                return (f"the cluster component holds only {counts['gmm']} stars with P > 0.5 "
                        f"(fewer than min_members={self.min_members})")
            too_hot = dispersion_bound.too_hot(post, kin[i_m], e_m, centre, mix_info,
                                               self.max_velocity_dispersion)
            if too_hot:
                return too_hot
            if gated:  # confirmed as a single run confirms it: measured again, beside the others
                beside = found if others[0] is None else self._steps(kin, err, sky, seed, others)
                beside = found if isinstance(beside, str) else beside  # not measured beside them
                several = jointly(first if beside is found else
                                  self._found_seed(kin, sky, seed, beside), beside)
                if len(self.joint_seeds_) > 1:  # else the single fit, the others beside it
                    return several
            rivalled = None if self._n_clusters() > 1 or not self.known_clusters else \
                joint.beside_rivals(self, kin, err, sky, first, probability, (passed, i_m))
            if rivalled is not None:  # a single run's cluster fitted beside its rivals
                return rivalled
            mxi, meta = np.average(sky[i_m], axis=0, weights=post)
            ra_c, dec_c = from_tangent_plane(mxi, meta, ra0, dec0)
            fitted = np.asarray(mix_info.get("cluster_mean",
                                             np.average(kin[i_m], axis=0, weights=post)))
            centroid = Centroid(*map(float, fitted), source=source,
                                name=name if name else (c.name if c is not None else None),
                                ra=ra_c, dec=dec_c, spread=tuple(map(float, intrinsic)))
            details = {
                "detection_significance": significance,
                **({"detection": self._detection().describe(self.sky_origin_)}
                   if source == "data" else {}),
                "seed": np.asarray(seed[0], float).tolist(),
                "filter_centre": centre.tolist(),
                "observed_spread": observed.tolist(),
                "intrinsic_spread": intrinsic.tolist(),
                "cluster_component_reason": mix_info.pop("reason"),
                "mixture": mix_info,
                "mst_edge_weights": pruning.edge_weights,
                "mst_threshold": pruning.threshold,
            }
            self.centre_, self.observed_spread_ = centre, observed
            self.intrinsic_spread_ = intrinsic
            self.mixture_, self.scaler_ = model, scaler
            self.cluster_component_ = mix_info.get("cluster_component", -1)
            named = {} if self._n_clusters() == 1 else \
                joint_groups.beside(several, probability, centroid, details, counts)
            return Scores(probability, stage, counts, centroid, details, **named)

        seed = self._seed(kin, err, sky)
        if seed is None:
            return no_cluster("no overdensity in proper motion, parallax and sky reached "
                              f"{self.min_significance} sigma (global)")
        # a blind run goes on to the next significant candidate when one is no cluster
        # (vo_ocml.membership.seeding)
        refused = None
        for k in self._seed_order(seed):
            self._chosen = k
            outcome = attempt(self._data_seed(k) if k else seed)
            if isinstance(outcome, Scores):
                return outcome
            if refused is None:  # the most significant candidate's reason, and its step counts
                refused, refused_counts = outcome, dict(counts)
        self._chosen = 0
        counts.clear()
        counts.update(refused_counts)
        return no_cluster(refused)

    def _predict_cluster_rows(self, X: np.ndarray, err: np.ndarray | None) -> np.ndarray:
        """New stars pass the fitted filters and get each cluster's posterior and the field's
        (:func:`~vo_ocml.membership.joint_predict.cluster_posteriors`; a single-cluster fit
        beside rivals: its cluster's and the rest). The MST pruning is not re-applied."""
        P = joint_predict.cluster_posteriors(self, X, err)
        return P if self._n_clusters() > 1 else np.column_stack([P[:, 0], 1.0 - P[:, 0]])
