"""DEC: Deep Embedded Clustering membership (the DEC thesis, shared SCIENCE.md §2), automated.

Steps, on the rows with complete astrometry and parallax > 0 (others: stage ``incomplete``,
probability NaN):

1. **Features**: pmra/parallax, pmdec/parallax, parallax and the proper-motion modulus
   (``features="ratios"``, the thesis's choice) or (pmra, pmdec, parallax) (``"raw"``),
   robustly scaled (:mod:`vo_ocml.membership.dec_features`).
2. **k**: when ``n_clusters`` is None, K-Means for every k in ``k_range`` on a subsample, and
   the k with the best silhouette score (computed on a subsample of ``silhouette_rows``).
3. **DEC** (:class:`vo_ocml.membership.dec_model.DecTrainer`): autoencoder pretraining, K-Means in the
   latent space, KL(P‖Q) training until fewer than ``tol`` of the assignments change. When a
   centroid is known (given, or found in the data, step 4), one K-Means centre starts at the
   latent position of the stars nearest it, so that a cluster much smaller than the field
   (e.g. the Hyades in a 434,000-star cone) still gets a group of its own.
4. **Cluster group**, automatically (:func:`vo_ocml.membership.dec_groups.identify_group`): the core group is the one whose
   median (pmra, pmdec, parallax) is nearest the ``centroid`` (distances in units of the
   table's robust spread); without a centroid, nearest the most significant compact
   overdensity that :func:`vo_ocml.membership.detection.find_centroid` finds in proper motion,
   parallax and sky position; when it finds none, the densest group (star count over the
   product of its robust spreads relative to the table's). Adjacent groups as dense as the
   core join it (a rich cluster is split by K-Means into several).
5. **Ensemble**: step 4 runs for ``n_seeds`` seeds (default 32, or 16 above 100,000 rows)
   derived from ``random_state`` (k is chosen once, independently of the seed); the
   probability is the mean over seeds of each run's :func:`~vo_ocml.membership.dec_groups.cluster_probability` (the soft
   assignment to the cluster's groups against the best other group). Runs whose member set
   overlaps the all-run mean's by less than :data:`CONSENSUS` (Jaccard) picked another group
   and are left out of the mean (``details["seeds_dropped"]``).
6. **Quantile filter** (the thesis's step 3, optional, ``quantile_filter=True``): rows outside the
   ``quantiles`` range (default 0.10–0.90) of the P > 0.5 members' features get probability 0
   and stage ``quantile``.

Input checks, the usable rows, their canonical order (so the result does not depend on the
input's row order) and the result for every input row are the shared contract's
(:class:`~vo_ocml.membership.base.MembershipEstimator`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from vo_ocml.errors import InputError
from vo_ocml.membership.base import (
    STAGE_DEC, STAGE_QUANTILE, Centroid, MembershipEstimator, Scores, as_centroid,
    probability_step,
)
from vo_ocml.membership.dec_features import (
    FEATURE_SETS,
    RobustScaler,
    inside,
    quantile_bounds,
    raw_features,
    usable_mask,
)
from vo_ocml.membership.dec_groups import (anchor_rows, cluster_probability, evenly_spaced,
                                           identify_group, jaccard, robust_spread)
from vo_ocml.membership.dec_model import DecRun, DecTrainer

log = logging.getLogger(__name__)

#: a run joins the ensemble only if its member set overlaps the all-run mean's by this Jaccard
CONSENSUS = 0.5
#: default ensemble sizes: tables of up to SMALL_TABLE complete rows get SEEDS_SMALL runs
#: (seed-to-seed member overlap ≥ 0.93 on the shared cones), larger ones SEEDS_LARGE (time)
SMALL_TABLE = 100_000
SEEDS_SMALL = 32
SEEDS_LARGE = 16
#: stars per group needed, at least, to fit k groups
ROWS_PER_GROUP = 5
#: rows on which K-Means runs for the silhouette choice of k
KSELECT_ROWS = 20000


class DEC(MembershipEstimator):
    """Deep Embedded Clustering membership with automatic cluster identification.

    Parameters
    ----------
    n_clusters : int or None
        Number of groups k; None chooses k in ``k_range`` by the best silhouette score.
    features : {"ratios", "raw"}
        ``"ratios"``: pmra/parallax, pmdec/parallax, parallax, proper-motion modulus (thesis);
        ``"raw"``: pmra, pmdec, parallax.
    hidden : tuple of int
        Encoder hidden-layer widths (the decoder mirrors them).
    latent_dim : int
        Latent-space width.
    n_seeds : int or None
        Ensemble size: DEC runs with different seeds whose probabilities are averaged. None:
        32 for tables of up to 100,000 complete rows, 16 for larger ones (speed).
    quantile_filter : bool
        Apply the thesis's quantile filter to the members (off by default: on the shared cones
        it halves completeness — M67 F1 0.70 → 0.44 — and makes the member set less stable
        between seeds).
    quantiles : (float, float)
        The filter's lower and upper quantiles of the members' features.
    centroid : Centroid or (pmra, pmdec, parallax) or None
        When given, the group nearest it is the cluster (mas/yr, mas/yr, mas).
    k_range : (int, int)
        Smallest and largest k tried when ``n_clusters`` is None.
    merge_distance : float
        Groups whose median (pmra, pmdec, parallax) lies within this many of the core group's
        robust spreads (root mean square) of the core's median join the cluster; 0 disables.
    tol : float
        Stop the KL phase when fewer than this fraction of assignments change.
    max_iter : int
        Most target refreshes in the KL phase.
    pretrain_steps : int
        Autoencoder pretraining batches.
    update_interval : int
        Batches between target refreshes.
    batch_size : int
        Rows per batch.
    learning_rate : float
        Adam learning rate.
    silhouette_rows : int
        Rows on which each silhouette score is computed.
    random_state : int
        Seed of everything random (the ensemble's seeds derive from it).
    verbose : bool
        Show a progress bar while training.

    Attributes
    ----------
    result_ : MembershipResult
        Probabilities, stages, step counts, centroid, parameters, details, ``ocml_dec_group``.
    probability_ : ndarray, shape (n,)
        Membership probability per input row (NaN for incomplete rows).
    labels_ : ndarray of int, shape (n,)
        Group of each row in the representative seed's run (-1 for incomplete rows).
    cluster_group_ : int
        The cluster's core group in ``labels_``.
    cluster_groups_ : list of int
        All of the cluster's groups in ``labels_`` (core first, then merged ones).
    n_clusters_ : int
        The k used.
    """

    def __init__(
        self,
        n_clusters: int | None = None,
        features: str = "ratios",
        hidden: tuple[int, ...] = (32, 32),
        latent_dim: int = 4,
        n_seeds: int | None = None,
        quantile_filter: bool = False,
        quantiles: tuple[float, float] = (0.10, 0.90),
        centroid: Centroid | tuple[float, float, float] | None = None,
        k_range: tuple[int, int] = (4, 12),
        merge_distance: float = 2.0,
        tol: float = 0.001,
        max_iter: int = 20,
        pretrain_steps: int = 600,
        update_interval: int = 40,
        batch_size: int = 1024,
        learning_rate: float = 0.003,
        silhouette_rows: int = 4000,
        random_state: int = 0,
        verbose: bool = False,
    ) -> None:
        self.n_clusters = n_clusters
        self.features = features
        self.hidden = hidden
        self.latent_dim = latent_dim
        self.n_seeds = n_seeds
        self.quantile_filter = quantile_filter
        self.quantiles = quantiles
        self.centroid = centroid
        self.k_range = k_range
        self.merge_distance = merge_distance
        self.tol = tol
        self.max_iter = max_iter
        self.pretrain_steps = pretrain_steps
        self.update_interval = update_interval
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.silhouette_rows = silhouette_rows
        self.random_state = random_state
        self.verbose = verbose

    method = "dec"
    complete_rows = "finite ra, dec, pmra, pmdec and parallax > 0"

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        if self.features not in FEATURE_SETS:
            raise InputError(f"DEC features must be one of {sorted(FEATURE_SETS)}; got {self.features!r}.")
        if self.n_clusters is not None and (not isinstance(self.n_clusters, (int, np.integer)) or self.n_clusters < 2):
            raise InputError(f"DEC n_clusters must be an integer ≥ 2 or None (automatic); got {self.n_clusters!r}.")
        lo, hi = self.k_range
        if not 2 <= lo <= hi:
            raise InputError(f"DEC k_range must be (low, high) with 2 ≤ low ≤ high; got {self.k_range!r}.")
        q_lo, q_hi = self.quantiles
        if not 0.0 <= q_lo < q_hi <= 1.0:
            raise InputError(f"DEC quantiles must satisfy 0 ≤ low < high ≤ 1; got {self.quantiles!r}.")
        if self.n_seeds is not None and self.n_seeds < 1:
            raise InputError(f"DEC n_seeds must be ≥ 1; got {self.n_seeds!r}.")
        as_centroid(self.centroid)

    def _scorable(self, X: np.ndarray) -> np.ndarray:
        return usable_mask(X)

    @property
    def labels_(self) -> np.ndarray:
        """Group of each input row in the representative seed's run (-1: not scored)."""
        return self.result_.extra_columns["ocml_dec_group"]

    # ------------------------------------------------------------------ fit
    def _fit_rows(self, Xc: np.ndarray, err: np.ndarray | None) -> Scores:
        """Cluster the usable rows ``Xc`` (canonical order) and score the cluster's groups."""
        centroid = as_centroid(self.centroid)
        m = len(Xc)
        k_low = self.n_clusters if self.n_clusters is not None else self.k_range[0]
        if m < ROWS_PER_GROUP * k_low:
            raise InputError(
                f"DEC needs at least {ROWS_PER_GROUP * k_low} stars with complete astrometry (finite ra, "
                f"dec, pmra, pmdec and parallax > 0) to form {k_low} groups; the table has {m} "
                "such stars. Use a larger cone or a smaller n_clusters."
            )
        names = FEATURE_SETS[self.features]
        F = raw_features(Xc, self.features)
        scaler = RobustScaler.fit(F, names)
        Z = scaler.transform(F)
        n_distinct = len(np.unique(Z, axis=0))
        if n_distinct < k_low:
            raise InputError(
                f"DEC cannot form {k_low} groups: the {m} complete stars have only {n_distinct} "
                "distinct (pmra, pmdec, parallax) values (identical rows?); DEC needs at least as "
                "many distinct stars as groups."
            )
        k, silhouettes = self._choose_k(Z, n_distinct)
        n_seeds = self.n_seeds or (SEEDS_SMALL if len(Z) <= SMALL_TABLE else SEEDS_LARGE)
        seeds = [int(s) for s in np.random.SeedSequence(self.random_state).generate_state(n_seeds)]
        guide, detection = (centroid, None) if centroid is not None else self._detect(Xc, err)
        runs, groups, why = self._ensemble(Z, k, seeds, Xc[:, 2:], guide)
        probs = np.stack([cluster_probability(run.q, g) for run, g in zip(runs, groups)])
        first = probs.mean(axis=0) > 0.5
        kept = [i for i, p in enumerate(probs) if jaccard(p > 0.5, first) >= CONSENSUS] or list(range(len(runs)))
        ens = probs[kept].mean(axis=0)
        members = ens > 0.5
        agreement = [round(jaccard(p > 0.5, members), 4) for p in probs]
        rep = max(kept, key=lambda i: agreement[i])
        bounds = quantile_bounds(F, members, self.quantiles) if self.quantile_filter else None
        keep = inside(F, bounds) if self.quantile_filter else np.ones(m, dtype=bool)
        prob_c = np.where(keep, ens, 0.0)
        final = prob_c > 0.5
        steps = {
            "dec_group": int(members.sum()),
            "quantile_filter": int((members & keep).sum()),
            probability_step(0.5): int(final.sum()),
            probability_step(0.8): int((prob_c > 0.8).sum()),
        }
        member_centroid = self._member_centroid(Xc, final, centroid)
        self.n_clusters_ = k
        self.cluster_group_ = groups[rep][0]
        self.cluster_groups_ = groups[rep]
        self.scaler_ = scaler
        self.bounds_ = bounds
        self.runs_ = [runs[i] for i in kept]
        self.groups_ = [groups[i] for i in kept]
        return Scores(
            probability=prob_c,
            stage=np.where(members & ~keep, STAGE_QUANTILE, STAGE_DEC),
            steps=steps,
            centroid=centroid if centroid is not None else member_centroid,
            details={
                "n_clusters": k,
                "k_choice": "given" if self.n_clusters is not None else "best silhouette score",
                "silhouette": silhouettes,
                "seeds": seeds,
                "cluster_group_per_seed": groups,
                "group_choice": why[rep],
                "detection": detection,
                "seed_agreement_jaccard": agreement,
                "seeds_dropped": [seeds[i] for i in range(len(runs)) if i not in kept],
                "representative_seed": seeds[rep],
                "converged": [r.converged for r in runs],
                "kl_refreshes": [r.n_iter for r in runs],
                "quantile_bounds": None if bounds is None else
                    {nm: [float(b[0]), float(b[1])] for nm, b in zip(names, bounds.T)},
                "member_centroid": None if member_centroid is None else member_centroid.as_array().round(4).tolist(),
            },
            extra_columns={"ocml_dec_group": (np.asarray(runs[rep].labels, dtype=int), -1)},
        )

    def _detect(self, Xc: np.ndarray, err: np.ndarray | None) -> tuple[Centroid | None, dict | None]:
        """Without a centroid: the cluster's overdensity found in the data, to pick the group near it.

        Uses :func:`vo_ocml.membership.detection.find_centroid` on (pmra, pmdec, parallax) and the
        sky; returns (None, None) when it finds nothing (the densest group is then chosen).
        """
        from vo_ocml.membership.detection import find_centroid
        from vo_ocml.membership.sky import sky_centre, tangent_plane

        sky = tangent_plane(Xc[:, 0], Xc[:, 1], *sky_centre(Xc[:, 0], Xc[:, 1]))
        found = find_centroid(Xc[:, 2:], err, sky, random_state=self.random_state)
        if found is None:
            return None, None
        c = found.centre
        info = {"centre": c.round(4).tolist(), "kernel": found.scale.round(4).tolist(),
                "significance": round(found.significance, 2), "n_peak": found.n_peak}
        log.info("DEC: overdensity found at %s (significance %.1f)", c, found.significance)
        spread = tuple(float(v) for v in found.scale)
        return Centroid(float(c[0]), float(c[1]), float(c[2]), source="data", spread=spread), info

    def _choose_k(self, Z: np.ndarray, n_distinct: int) -> tuple[int, dict[int, float]]:
        """k: the given ``n_clusters``, or the best silhouette over ``k_range`` on subsamples.

        Choosing k is model selection, not part of the seed ensemble: it uses evenly spaced rows
        of the canonically ordered table and fixed K-Means seeds (5 starts), so every
        ``random_state`` gets the same k. (With 2 starts seeded by ``random_state``, NGC 2477
        got k = 4 for seed 0 and k = 5 for seed 1, and the two member sets overlapped 0.88.)
        """
        if self.n_clusters is not None:
            return int(self.n_clusters), {}
        sub = Z[evenly_spaced(len(Z), KSELECT_ROWS)]
        scored = sub[evenly_spaced(len(sub), self.silhouette_rows)]
        hi = min(self.k_range[1], n_distinct - 1, len(sub) // ROWS_PER_GROUP)
        scores: dict[int, float] = {}
        for k in range(self.k_range[0], max(hi, self.k_range[0]) + 1):
            model = KMeans(k, n_init=5, random_state=0).fit(sub)
            labels = model.predict(scored)
            if len(np.unique(labels)) < 2:
                continue
            scores[k] = round(float(silhouette_score(scored, labels)), 4)
        if not scores:
            raise InputError("DEC could not split the stars into groups: every star has nearly the same "
                             "proper motion and parallax.")
        best = max(scores, key=scores.get)
        log.info("DEC: k = %d by silhouette %s", best, scores)
        return best, scores

    def _ensemble(
        self, Z: np.ndarray, k: int, seeds: list[int], pm_plx: np.ndarray, centroid: Centroid | None
    ) -> tuple[list[DecRun], list[list[int]], list[dict[str, Any]]]:
        """Run DEC once per seed and identify the cluster group of each run."""
        from tqdm.auto import tqdm

        anchor = None if centroid is None else anchor_rows(pm_plx, centroid)
        trainer = DecTrainer(Z, k, hidden=tuple(self.hidden), latent_dim=self.latent_dim,
                             batch_size=self.batch_size, learning_rate=self.learning_rate)
        self.trainer_ = trainer
        per_run = self.pretrain_steps + self.max_iter * self.update_interval
        runs, groups, why = [], [], []
        with tqdm(total=per_run * len(seeds), desc="DEC", unit="batch", disable=not self.verbose) as bar:
            for i, seed in enumerate(seeds):
                run = trainer.run(
                    seed, pretrain_steps=self.pretrain_steps, update_interval=self.update_interval,
                    tol=self.tol, max_iter=self.max_iter, anchor=anchor, progress=bar.update,
                )
                bar.n = per_run * (i + 1)
                bar.refresh()
                g, reason = identify_group(pm_plx, run.labels, k, centroid, self.merge_distance)
                runs.append(run)
                groups.append(g)
                why.append(reason)
                log.info("DEC seed %d: cluster groups %s of %d (%s)", seed, g, k, reason["rule"])
        return runs, groups, why

    @staticmethod
    def _member_centroid(Xc: np.ndarray, members: np.ndarray, given: Centroid | None) -> Centroid | None:
        """Median (pmra, pmdec, parallax) and mean sky position of the members."""
        if not members.any():
            return None
        V = Xc[members]
        pm_plx = np.median(V[:, 2:], axis=0)
        return Centroid(
            float(pm_plx[0]), float(pm_plx[1]), float(pm_plx[2]), source="data",
            name=None if given is None else given.name,
            ra=float(np.median(V[:, 0])), dec=float(np.median(V[:, 1])),
            spread=tuple(float(s) for s in robust_spread(V[:, 2:])),
        )

    # ------------------------------------------------------------------ predict
    def _predict_rows(self, X: np.ndarray, err: np.ndarray | None) -> np.ndarray:
        """Membership of usable new rows: the kept runs' mean soft assignment (and quantile filter)."""
        F = raw_features(X, self.features)
        Z = self.scaler_.transform(F)
        p = np.mean([cluster_probability(self.trainer_.soft_assign(run, Z), g)
                     for run, g in zip(self.runs_, self.groups_)], axis=0)
        if self.quantile_filter:
            p = np.where(inside(F, self.bounds_), p, 0.0)
        return p
