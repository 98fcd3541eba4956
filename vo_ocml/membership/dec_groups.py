"""DEC's cluster groups: which of the K-Means/DEC groups are the cluster, and how probable.

:func:`identify_group` picks the cluster's groups of one DEC run (nearest the centroid, else the
densest, plus adjacent groups as dense); :func:`cluster_probability` turns the soft assignment
into a membership probability. Small helpers for the ensemble (:func:`jaccard`,
:func:`evenly_spaced`) live here too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vo_ocml.membership.result import Centroid

#: a group needs at least this many stars to be considered the cluster
MIN_GROUP = 10
#: a group merges into the cluster's core only if its density is within this factor of the core's
MERGE_DENSITY_RATIO = 5.0
#: stars nearest the centroid whose mean latent position starts one DEC centre
ANCHOR_STARS = 30


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
    """Membership from the soft assignment: q of the cluster's groups against the best other group.

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
    pm_plx: np.ndarray,
    labels: np.ndarray,
    n_clusters: int,
    centroid: Centroid | None,
    merge_distance: float,
) -> tuple[list[int], dict[str, Any]]:
    """Pick the groups that are the cluster, automatically.

    The core group is the one nearest ``centroid`` when given, else the densest in
    (pmra, pmdec, parallax) (density: log N − Σ log(group spread / table spread)). Other groups
    whose median lies within ``merge_distance`` core spreads of the core's median (root mean
    square over pmra, pmdec, parallax) and whose density is within a factor
    :data:`MERGE_DENSITY_RATIO` of the core's join it: a rich cluster that dominates its table is split by K-Means into
    several adjacent, similarly dense groups, while broad field groups stay out.

    Parameters
    ----------
    pm_plx : ndarray, shape (m, 3)
        (pmra, pmdec, parallax) of the complete rows.
    labels : ndarray of int, shape (m,)
        Hard group assignment of each row.
    n_clusters : int
        Number of groups.
    centroid : Centroid or None
        When given, the core is the group whose median is nearest it.
    merge_distance : float
        Merge radius in core spreads (0: no merging).

    Returns
    -------
    groups : list of int
        The cluster's groups, the core first.
    why : dict
        ``rule``, ``core``, ``merged`` and per group its size, median, spreads, score and
        distance to the core.
    """
    scale = robust_spread(pm_plx)
    info: list[dict[str, Any]] = []
    medians = np.zeros((n_clusters, 3))
    for g in range(n_clusters):
        V = pm_plx[labels == g]
        if len(V) == 0:
            info.append({"group": g, "n": 0, "score": -math.inf})
            continue
        medians[g] = np.median(V, axis=0)
        spread = robust_spread(V)
        density = float(np.log(len(V)) - np.sum(np.log(spread / scale))) if len(V) >= MIN_GROUP else -math.inf
        if centroid is not None:
            score = -float(np.linalg.norm((medians[g] - centroid.as_array()) / scale))
        else:
            score = density
        info.append({"group": g, "n": int(len(V)), "median": medians[g].round(4).tolist(),
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
        f"core: nearest the centroid ({centroid.source}) in (pmra, pmdec, parallax), distance in units of "
        "the table's robust spread"
        if centroid is not None
        else "core: highest density in (pmra, pmdec, parallax), log N - sum log(group spread / table spread)"
    )
    rule += (f"; merged: groups whose median lies within {merge_distance} × {basis} (rms over pmra, pmdec, "
             f"parallax) of the {'centroid' if basis.startswith('the centroid') else 'core'} and whose density "
             f"is within a factor {MERGE_DENSITY_RATIO:g} of the core's")
    return [core, *merged], {"rule": rule, "core": core, "merged": merged, "groups": info}
