"""DEC's groups: the choice of k, the seed ensemble, and which groups are the cluster.

Shared by both feature sets of :class:`~vo_ocml.membership.dec.DEC`: ``"sky"`` (the default,
on the stars the core's filter keeps) and the thesis's ``"thesis"``/``"raw"`` (the whole cone).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from vo_ocml.errors import InputError
from vo_ocml.membership.base import Centroid, Scores, probability_step
from vo_ocml.membership.dec_model import DecRun

log = logging.getLogger(__name__)

#: a group needs at least this many stars to be considered the cluster
MIN_GROUP = 10
#: a group merges into the cluster's core only if its density is within this factor of the core's
MERGE_DENSITY_RATIO = 5.0
#: a run joins the ensemble only if its member set overlaps the all-run mean's by this Jaccard
CONSENSUS = 0.5
#: stars nearest the centroid whose mean latent position starts one DEC centre
ANCHOR_STARS = 30
#: stars per group needed, at least, to fit k groups
ROWS_PER_GROUP = 5
#: rows on which K-Means runs for the silhouette choice of k
KSELECT_ROWS = 20000
#: K-Means starts per k in the silhouette choice (fixed seed: k must not depend on random_state)
KSELECT_STARTS = 5


def evenly_spaced(n: int, size: int) -> np.ndarray:
    """``size`` row indices spread evenly over ``range(n)`` (all rows when n ≤ size)."""
    return np.arange(n) if n <= size else np.linspace(0, n - 1, size).astype(int)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard overlap of two boolean member masks (1 when both are empty)."""
    union = int(np.count_nonzero(a | b))
    return 1.0 if union == 0 else int(np.count_nonzero(a & b)) / union


def robust_spread(V: np.ndarray) -> np.ndarray:
    """1.4826 × median absolute deviation per column, floored at 1e-9."""
    return np.maximum(1.4826 * np.median(np.abs(V - np.median(V, axis=0)), axis=0), 1e-9)


def cluster_probability(q: np.ndarray, groups: list[int]) -> np.ndarray:
    """DEC's cluster score: q of the cluster's groups against the best other group.

    P = q_C / (q_C + max_{j ∉ C} q_j) with q_C = Σ_{j ∈ C} q_j, so P > 0.5 exactly when the
    star's hard assignment is a cluster group. Unlike q_C alone it stays meaningful for stars far
    from every centre, whose Student-t q is nearly flat over all groups.
    """
    in_cluster = np.zeros(q.shape[1], dtype=bool)
    in_cluster[groups] = True
    q_c = q[:, in_cluster].sum(axis=1)
    q_other = q[:, ~in_cluster].max(axis=1) if (~in_cluster).any() else np.zeros(len(q))
    return q_c / np.maximum(q_c + q_other, 1e-30)


def anchor_rows(pm_plx: np.ndarray, centroid: Centroid) -> np.ndarray:
    """The :data:`ANCHOR_STARS` stars nearest the centroid (distances in units of the table's robust spread)."""
    d = np.sum(((pm_plx - centroid.as_array()) / robust_spread(pm_plx)) ** 2, axis=1)
    k = min(ANCHOR_STARS, len(d))
    return np.sort(np.argpartition(d, k - 1)[:k])


def identify_group(
    V: np.ndarray,
    labels: np.ndarray,
    n_clusters: int,
    centroid: Centroid | None,
    merge_distance: float,
    names: str = "(pmra, pmdec, parallax)",
) -> tuple[list[int], dict[str, Any]]:
    """Pick the groups that are the cluster, automatically.

    The core group is the one whose median is nearest ``centroid`` (in (pmra, pmdec, parallax);
    ``V`` must then be those three columns), else the densest in ``V`` (density:
    log N − Σ log(group spread / table spread)). Other groups whose median lies within
    ``merge_distance`` core spreads of the core's median (root mean square over the columns) and
    whose density is within a factor :data:`MERGE_DENSITY_RATIO` of the core's join it: a rich
    cluster that dominates its table is split by K-Means into several adjacent, similarly dense
    groups, while broad field groups stay out.

    Parameters
    ----------
    V : ndarray, shape (m, d)
        The features groups are compared in (e.g. (pmra, pmdec, parallax), or (ξ, η, pmra,
        pmdec, parallax)).
    labels : ndarray of int, shape (m,)
        Hard group assignment of each row.
    n_clusters : int
        Number of groups.
    centroid : Centroid or None
        When given, the core is the group whose median is nearest it.
    merge_distance : float
        Merge radius in core spreads (0: no merging).
    names : str
        The columns of ``V``, for the rule's text.

    Returns
    -------
    groups : list of int
        The cluster's groups, the core first.
    why : dict
        ``rule``, ``core``, ``merged`` and per group its size, median, spreads, score and
        distance to the core.
    """
    scale = robust_spread(V)
    info: list[dict[str, Any]] = []
    medians = np.zeros((n_clusters, V.shape[1]))
    for g in range(n_clusters):
        W = V[labels == g]
        if len(W) == 0:
            info.append({"group": g, "n": 0, "score": -math.inf})
            continue
        medians[g] = np.median(W, axis=0)
        spread = robust_spread(W)
        density = float(np.log(len(W)) - np.sum(np.log(spread / scale))) if len(W) >= MIN_GROUP else -math.inf
        if centroid is not None:
            score = -float(np.linalg.norm((medians[g] - centroid.as_array()) / scale))
        else:
            score = density
        info.append({"group": g, "n": int(len(W)), "median": medians[g].round(4).tolist(),
                     "spread": spread.round(4).tolist(), "log_density": round(density, 4), "score": round(score, 4)})
    core = max(range(n_clusters), key=lambda g: info[g]["score"])
    if centroid is not None and centroid.spread is not None:
        origin, unit = centroid.as_array(), np.asarray(centroid.spread, dtype=float)
        basis = "the centroid's spread"
    else:
        origin, unit = medians[core], np.asarray(info[core].get("spread", scale))
        basis = "the core group's spread"
    merged = []
    for g in range(n_clusters):
        if g == core or info[g]["n"] == 0:
            continue
        distance = float(np.sqrt(np.mean(((medians[g] - origin) / np.maximum(unit, 1e-9)) ** 2)))
        info[g]["merge_distance"] = round(distance, 3)
        similar = abs(info[g]["log_density"] - info[core].get("log_density", math.inf)) <= math.log(MERGE_DENSITY_RATIO)
        if distance < merge_distance and similar:
            merged.append(g)
    rule = (
        f"core: nearest the centroid ({centroid.source}) in {names}, distance in units of "
        "the table's robust spread"
        if centroid is not None
        else f"core: highest density in {names}, log N - sum log(group spread / table spread)"
    )
    rule += (f"; merged: groups whose median lies within {merge_distance} × {basis} (rms over {names}) "
             f"of the {'centroid' if basis.startswith('the centroid') else 'core'} and whose density "
             f"is within a factor {MERGE_DENSITY_RATIO:g} of the core's")
    return [core, *merged], {"rule": rule, "core": core, "merged": merged, "groups": info}


def choose_k(Z: np.ndarray, n_distinct: int, k_range: tuple[int, int], silhouette_rows: int) -> tuple[int, dict[int, float]]:
    """The k in ``k_range`` with the best silhouette score, on evenly spaced rows.

    Choosing k is model selection, not part of the seed ensemble: it uses evenly spaced rows
    of the canonically ordered table and fixed K-Means seeds, so every ``random_state`` gets the
    same k. (With 2 starts seeded by ``random_state``, NGC 2477 got k = 4 for seed 0 and k = 5
    for seed 1, and the two member sets overlapped 0.88.)
    """
    sub = Z[evenly_spaced(len(Z), KSELECT_ROWS)]
    scored = sub[evenly_spaced(len(sub), silhouette_rows)]
    hi = min(k_range[1], n_distinct - 1, len(sub) // ROWS_PER_GROUP)
    scores: dict[int, float] = {}
    for k in range(k_range[0], max(hi, k_range[0]) + 1):
        model = KMeans(k, n_init=KSELECT_STARTS, random_state=0).fit(sub)
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


@dataclass
class Ensemble:
    """The seed ensemble's outcome.

    Attributes
    ----------
    runs : list of DecRun
        Every seed's run.
    groups, why : list
        Per run, the cluster's groups and the reason (:func:`identify_group`).
    probs : ndarray, shape (n_runs, m)
        Per run, :func:`cluster_probability`.
    kept : list of int
        Runs that agree with the consensus (Jaccard ≥ :data:`CONSENSUS`).
    score : ndarray, shape (m,)
        Mean of ``probs`` over the kept runs.
    agreement : list of float
        Each run's member-set Jaccard overlap with the ensemble's.
    representative : int
        The kept run that agrees best.
    trainer : object
        The trainer (for :meth:`soft_assign` on new rows).
    """

    runs: list[DecRun]
    groups: list[list[int]]
    why: list[dict[str, Any]]
    probs: np.ndarray
    kept: list[int]
    score: np.ndarray
    agreement: list[float]
    representative: int
    trainer: Any


def run_ensemble(Z: np.ndarray, k: int, seeds: list[int], V: np.ndarray, centroid: Centroid | None, *,
                 backend: str, anchor: np.ndarray | None, training: dict[str, Any], network: dict[str, Any],
                 merge_distance: float, names: str, verbose: bool) -> Ensemble:
    """Run DEC once per seed, identify each run's cluster groups and form the consensus.

    ``training``: pretrain_steps, update_interval, tol, max_iter; ``network``: hidden,
    latent_dim, batch_size, learning_rate. ``backend`` ``"numpy"`` trains every seed at once
    (:mod:`~vo_ocml.membership.dec_numpy`); ``"tensorflow"`` one seed after another
    (:mod:`~vo_ocml.membership.dec_model`, which uses a GPU when TensorFlow sees one).
    """
    from tqdm.auto import tqdm

    started = time.perf_counter()
    if backend == "numpy":
        from vo_ocml.membership.dec_numpy import NumpyDecTrainer as Trainer
    else:
        from vo_ocml.membership.dec_model import DecTrainer as Trainer
    trainer = Trainer(Z, k, **network)
    per_run = training["pretrain_steps"] + training["max_iter"] * training["update_interval"]
    log.info("DEC: training %d seed(s) with k = %d on %d stars (%s backend)", len(seeds), k, len(Z), backend)
    with tqdm(total=per_run * (1 if backend == "numpy" else len(seeds)), desc="DEC", unit="batch",
              disable=not verbose) as bar:
        if backend == "numpy":
            runs = trainer.run_many(seeds, anchor=anchor, progress=bar.update, **training)
        else:
            runs = []
            for i, seed in enumerate(seeds):
                runs.append(trainer.run(seed, anchor=anchor, progress=bar.update, **training))
                log.info("DEC: seed %d/%d done (%.1f s)", i + 1, len(seeds), time.perf_counter() - started)
    groups, why = [], []
    for run in runs:
        g, reason = identify_group(V, run.labels, k, centroid, merge_distance, names)
        groups.append(g)
        why.append(reason)
    probs = np.stack([cluster_probability(run.q, g) for run, g in zip(runs, groups)])
    first = probs.mean(axis=0) > 0.5
    kept = [i for i, p in enumerate(probs) if jaccard(p > 0.5, first) >= CONSENSUS] or list(range(len(runs)))
    score = probs[kept].mean(axis=0)
    members = score > 0.5
    agreement = [round(jaccard(p > 0.5, members), 4) for p in probs]
    rep = max(kept, key=lambda i: agreement[i])
    log.info("DEC: %d seed(s) trained in %.1f s; %d agree with the consensus", len(seeds),
             time.perf_counter() - started, len(kept))
    return Ensemble(runs, groups, why, probs, kept, score, agreement, rep, trainer)


@dataclass
class Outcome:
    """What one of DEC's feature sets returns for the complete rows (canonical order).

    Attributes
    ----------
    scores : Scores
        Probabilities, stages, steps, centroid, details and the ``ocml_dec_group`` column.
    model : object
        Has ``predict(X, errors) -> probability`` for new complete rows.
    cluster_groups : list of int
        The cluster's groups in the representative run.
    n_clusters : int or None
        The k used (None: DEC did not run).
    """

    scores: Scores
    model: Any
    cluster_groups: list[int]
    n_clusters: int | None


def scores(probability: np.ndarray, stage: np.ndarray, labels: np.ndarray, steps: dict[str, int],
           centroid: Centroid | None, details: dict[str, Any]) -> Scores:
    """:class:`Scores` with the P > 0.5 and P > 0.8 counts and the ``ocml_dec_group`` column."""
    steps = steps | {probability_step(0.5): int(np.sum(probability > 0.5)),
                     probability_step(0.8): int(np.sum(probability > 0.8))}
    return Scores(probability=probability, stage=np.asarray(stage).astype(str), steps=steps, centroid=centroid,
                  details=details, extra_columns={"ocml_dec_group": (np.asarray(labels, dtype=int), -1)})


def ensemble_details(ens: Ensemble, seeds: list[int], k: int, silhouettes: dict[int, float],
                     k_given: bool) -> dict[str, Any]:
    """The ensemble's facts for ``MembershipResult.details``."""
    return {
        "n_clusters": k,
        "k_choice": "given" if k_given else "best silhouette score",
        "silhouette": silhouettes,
        "seeds": seeds,
        "cluster_group_per_seed": ens.groups,
        "group_choice": ens.why[ens.representative],
        "seed_agreement_jaccard": ens.agreement,
        "seeds_dropped": [seeds[i] for i in range(len(ens.runs)) if i not in ens.kept],
        "representative_seed": seeds[ens.representative],
        "converged": [r.converged for r in ens.runs],
        "kl_refreshes": [r.n_iter for r in ens.runs],
    }


def ensemble_score(ens: Ensemble, Z: np.ndarray) -> np.ndarray:
    """DEC's cluster score of new scaled rows ``Z`` with the kept runs."""
    return np.mean([cluster_probability(ens.trainer.soft_assign(ens.runs[i], Z), ens.groups[i])
                    for i in ens.kept], axis=0)
