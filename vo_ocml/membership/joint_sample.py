"""The stars a joint mixture of a large table is fitted on: those near the clusters, and a
weighted random draw of the rest (:func:`fit_sample`)."""

from __future__ import annotations

import numpy as np

from vo_ocml.membership.joint_mixture import JointSeed

#: smallest variance (mas², (mas/yr)²) in :func:`fit_sample`'s densities (a seed without errors)
_TINY_VARIANCE = 1e-12
#: share of :func:`fit_sample`'s rows that are its highest-density stars. On a simulated
#: 2,000,000-row cone with five 400-member clusters (bench/multi_cluster.py --speed, seed 1),
#: ½, ¼ and ⅛ gave F1 0.69–0.81, 0.70–0.88 and 0.71–0.81, and ½ ran EM to 535 iterations
#: (its weight-one field stars held two clusters' totals at twice the truth); ¼ was kept
PRECISE_SHARE = 0.25


def fit_sample(kin: np.ndarray, errors: np.ndarray | None, seeds: list[JointSeed], size: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Rows to fit on (at most ``size``, sorted) and how many stars each stands for.

    A share :data:`PRECISE_SHARE` of the sample is the stars to which a cluster's Gaussian (its
    seed's intrinsic spread plus the star's errors) gives the highest density -- members with
    precise astrometry and the field stars that look like them -- each standing for itself;
    the rest is drawn at random from the other stars, each weighted by the inverse of its
    draw's fraction. A uniform sample of a table of millions, where the filters pass hundreds
    of thousands of field stars, keeps a dozen members per cluster; so did a sample whose first
    half was drawn from the stars within 2σ of a seed, which faint stars' errors made most of
    the table (a 2,000,000-row cone with five clusters: 454,691 of its 509,431 candidates, and
    58 of its 1,984 members in the sample).
    """
    var = 0.0 if errors is None else (errors**2 if errors.ndim == 2
                                      else np.diagonal(errors, axis1=1, axis2=2))
    density = np.full(len(kin), -np.inf)
    for s in seeds:
        v = np.maximum(np.asarray(s.intrinsic, float) ** 2 + var, _TINY_VARIANCE)
        density = np.maximum(density, -0.5 * np.sum((kin - s.mean) ** 2 / v + np.log(v), axis=1))
    n_top = min(int(size * PRECISE_SHARE), len(kin))
    top = np.argpartition(-density, n_top - 1)[:n_top] if n_top else np.empty(0, int)
    others = np.ones(len(kin), bool)
    others[top] = False
    rest = np.flatnonzero(others)
    take = min(len(rest), size - n_top)
    drawn = rng.choice(rest, take, replace=False)
    rows = np.concatenate([top, drawn])
    weights = np.concatenate([np.ones(n_top), np.full(take, len(rest) / max(take, 1))])
    order = np.argsort(rows)
    return rows[order], weights[order]
