"""Minimum-spanning-tree pruning of isolated stars (step 2 of filter → MST → GMM).

Two rules, both from the source study (SCIENCE.md §1):

``"paper"``
    Build a k-nearest-neighbour graph (Minkowski p = 2) over the standardised coordinates,
    take its minimum spanning tree, cut the edges heavier than w̄ + k·σ_w (mean and standard
    deviation of the tree's edge weights), and flag as field the stars left in pieces smaller
    than ``min_group`` stars.
``"code"``
    The authors' published notebooks: 3 neighbours; a star is flagged when the summed weight of
    its tree edges exceeds the mean + k·σ of those sums (k = 1 there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree

RULES = ("paper", "code")
#: each rule's own k (threshold = mean + k·σ): 3 in the paper, 1 in the authors' code
DEFAULT_K = {"paper": 3.0, "code": 1.0}


@dataclass(frozen=True)
class MSTPruning:
    """Outcome of the MST step.

    Attributes
    ----------
    keep : ndarray of bool
        Stars that survive.
    edge_weights : ndarray
        Weights of the minimum spanning tree's edges (for the edge-weight plot).
    threshold : float
        The cut applied (to edge weights for "paper", to per-star sums for "code").
    """

    keep: np.ndarray
    edge_weights: np.ndarray
    threshold: float


def knn_graph(Z: np.ndarray, k: int) -> csr_matrix:
    """Distances to each point's ``k`` nearest other points, as a sparse (n, n) matrix.

    What scikit-learn's ``kneighbors_graph(Z, k, mode="distance")`` gives, from SciPy's
    k-d tree on both cores (half the CPU time on 200,000 points).
    """
    n = len(Z)
    dist, idx = cKDTree(Z).query(Z, k + 1, workers=-1)
    is_self = idx == np.arange(n)[:, None]
    drop = np.where(is_self.any(axis=1), np.argmax(is_self, axis=1), k)  # the point itself
    keep = np.ones((n, k + 1), bool)
    keep[np.arange(n), drop] = False
    rows = np.repeat(np.arange(n), k)
    return csr_matrix((dist[keep], (rows, idx[keep])), shape=(n, n))


def prune(Z: np.ndarray, *, rule: str = "paper", k_sigma: float = 3.0, n_neighbors: int = 10,
          min_group: int = 5) -> MSTPruning:
    """Prune isolated stars with a minimum spanning tree.

    Parameters
    ----------
    Z : ndarray, shape (n, d)
        Standardised coordinates (vo_ocml uses tangent-plane ξ, η and parallax).
    rule : {"paper", "code"}
        Which rule (see the module docstring).
    k_sigma : float
        Threshold = mean + k_sigma × std.
    n_neighbors : int
        Neighbours of the k-NN graph ("code" always uses 3).
    min_group : int
        "paper" rule: pieces smaller than this are field.

    Returns
    -------
    MSTPruning
    """
    n = len(Z)
    if rule not in RULES:
        raise ValueError(f"unknown MST rule {rule!r}; use one of {RULES}")
    if n < 3:
        return MSTPruning(np.ones(n, bool), np.zeros(0), np.nan)
    k = 3 if rule == "code" else n_neighbors
    # SciPy reads the graph as undirected (an edge in either direction is one edge, the
    # lighter weight counts): the k-NN graph's tree without building its symmetric copy
    tree = coo_matrix(minimum_spanning_tree(knn_graph(Z, min(k, n - 1))))
    weights = tree.data
    if rule == "paper":
        threshold = float(weights.mean() + k_sigma * weights.std())
        light = weights <= threshold
        kept = coo_matrix((np.ones(light.sum()), (tree.row[light], tree.col[light])), shape=(n, n))
        _, labels = connected_components(kept, directed=False)
        sizes = np.bincount(labels)
        keep = sizes[labels] >= min_group
    else:
        sums = np.bincount(tree.row, weights, minlength=n) + np.bincount(tree.col, weights, minlength=n)
        threshold = float(sums.mean() + k_sigma * sums.std())
        keep = sums <= threshold
    return MSTPruning(keep=keep, edge_weights=np.sort(weights), threshold=threshold)
