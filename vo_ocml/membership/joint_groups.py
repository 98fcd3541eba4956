"""Which clusters of a several-cluster run are fitted together, and how a cluster fitted by the
single model sits beside the others (used by :mod:`vo_ocml.membership.joint`).

Clusters whose filter windows share no more than a few stars do not compete for members: each
group of clusters that do is fitted by its own joint mixture, and the first (named or most
significant) cluster, when alone in its group, by the single-cluster model, so that a
several-cluster run gives it the single run's answer.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.sparse.csgraph import connected_components

from vo_ocml.membership import mixture_step

if TYPE_CHECKING:
    from vo_ocml.membership.joint import JointOutcome
    from vo_ocml.membership.joint_seeds import Seed

#: two clusters whose filters share at most this fraction of the larger filter's stars (stars
#: whose errors span both windows) are fitted apart: so few stars move the larger cluster's F1
#: and Σ P by about that fraction, inside the 0.01 by which a cluster's F1 may differ from its
#: single-cluster run's; the shared stars' posteriors are then combined (:func:`combine`)
SHARED_FRACTION = 0.01


def overlap_groups(filters: np.ndarray) -> list[list[int]]:
    """The clusters linked through stars their filters share (``filters``: (n, K) booleans):
    more than :data:`SHARED_FRACTION` of the larger filter's.

    Groups are in the order of their first cluster, so the primary's comes first. Clusters of
    different groups are fitted apart: a cluster whose window no other shares gets the same
    model as in a single-cluster run.
    """
    K, n = filters.shape[1], filters.sum(axis=0)
    shared = np.array([[np.sum(filters[:, a] & filters[:, b]) > SHARED_FRACTION * max(n[a], n[b])
                        for b in range(K)] for a in range(K)])
    labels = connected_components(shared, directed=False)[1]
    return [list(np.flatnonzero(labels == g)) for g in dict.fromkeys(labels)]


def moved_from_name(est, primary: Seed, outcome: JointOutcome) -> bool:
    """Whether the joint fit took a named primary cluster away from the centroid or the position
    it was named at: the single model's test
    (:func:`~vo_ocml.membership.mixture_step.refit_if_moved`), which then refits it held there."""
    from vo_ocml.membership.base import as_centroid

    c = as_centroid(est.centroid)
    if primary.source == "data" or c is None:
        return False
    named_at = np.zeros(2) if None not in (c.ra, c.dec) else None  # the tangent plane's origin
    return moved(outcome.model, outcome.probability, 0, primary.centre, c.spread, named_at)


def moved(model, probability: np.ndarray, k: int, given: np.ndarray, given_spread: Any,
          given_sky: np.ndarray | None) -> bool:
    """Whether cluster ``k`` of a joint fit (``model``, its posteriors ``probability``) lies
    beyond :data:`~vo_ocml.membership.mixture_step.NAMED_TOLERANCE` σ of the centroid
    ``given`` (with its spread ``given_spread``, when known) or beyond
    :data:`~vo_ocml.membership.mixture_step.NAMED_SKY_TOLERANCE` of its own half-number radii
    from ``given_sky`` (the tangent plane; None: not tested), as the single model tests a
    named cluster."""
    profile = model.profiles[k]
    members = max(float(probability[:, k].sum()), 1.0)
    info = {"cluster_mean": model.means[k], "cluster_intrinsic_sd": np.sqrt(np.diag(model.covs[k])),
            "cluster_mean_cov": model.covs[k] / members,  # the mean's, from its members' spread
            "profile_centre_deg": profile.centre, "profile_scale_deg": profile.scale,
            "profile_slope": profile.slope}
    return (mixture_step.named_offset(info, given, given_spread) > mixture_step.NAMED_TOLERANCE
            or mixture_step.sky_offset(info, given_sky) > mixture_step.NAMED_SKY_TOLERANCE)


#: the joint run's facts a single-model fit of the first cluster keeps in its details
JOINT_FACTS = ("n_clusters", "n_fitted_apart", "clusters_dropped")
#: the second probability step a fit counts (``p_gt_08``), besides the members
CONFIDENT = 0.8


def combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One posterior over the clusters of two fits made apart, and the field.

    ``a`` (n, K_a + 1) and ``b`` (n, K_b + 1): each fit's cluster posteriors, then its field's.
    Each cluster keeps its odds against the field (exact where the field's density at a star is
    the same in both fits); where one fit gives a star wholly to the field, the other's
    posterior is unchanged. A star each fit gives wholly to its own clusters gets half of each.

    Returns
    -------
    ndarray, shape (n, K_a + K_b + 1)
    """
    fa, fb = a[:, -1:], b[:, -1:]
    joint = np.column_stack([a[:, :-1] * fb, b[:, :-1] * fa, fa * fb])
    total = joint.sum(axis=1, keepdims=True)
    halves = np.column_stack([a[:, :-1], b[:, :-1], np.zeros_like(fa)]) / 2.0
    return np.where(total > 0, joint / np.where(total > 0, total, 1.0), halves)


def beside(scores, probability: np.ndarray, centroid, details: dict[str, Any],
           counts: dict[str, int]) -> dict[str, Any]:
    """A primary cluster fitted by the single model
    (:func:`~vo_ocml.membership.joint.joint_scores` left it to it): its posterior
    ``probability`` and ``centroid`` in place of the joint run's first cluster (``scores``), the
    clusters fitted apart from it beside it (:func:`combine`), the field the rest.
    ``probability`` (and the members it counts in ``counts``) is updated in place where a
    cluster fitted apart shares stars with it, and the joint run's facts (:data:`JOINT_FACTS`)
    are added to the single fit's ``details``.

    Returns
    -------
    dict
        The :class:`~vo_ocml.membership.base.Scores` fields ``clusters`` and
        ``cluster_probability``.
    """
    from vo_ocml.membership.base import MEMBER_THRESHOLD, STAGE_GMM, probability_step

    details.update({k: scores.details[k] for k in JOINT_FACTS if k in scores.details})
    P = combine(np.column_stack([probability, 1.0 - probability]),
                scores.cluster_probability[:, 1:])
    probability[:] = P[:, 0]
    counts[STAGE_GMM] = int(np.sum(probability > MEMBER_THRESHOLD))  # as the single fit counts
    counts[probability_step(CONFIDENT)] = int(np.sum(probability > CONFIDENT))
    clusters = [replace(scores.clusters[0], centroid=centroid), *scores.clusters[1:]]
    return {"clusters": clusters, "cluster_probability": P}
