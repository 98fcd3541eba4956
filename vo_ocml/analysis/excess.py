"""How many members a cluster has at each magnitude, without a member list.

A reference-free count: inside a circle around the cluster's centre, the stars whose proper
motion and parallax agree with the cluster's (a χ² window of its intrinsic spread plus each
star's errors), minus the number of field stars the same window holds over the same area, as
measured far from the centre. Only the cluster's centroid, intrinsic spread and centre are
used, not any star's membership probability, so the count checks what the probabilities add
up to (Σ P) and how deep a published member list goes, on real fields where the truth is not
known:

    excess_b = (N_inner,b − f · N_outer,b) / c

for the stars of magnitude bin b, with N_inner the window's stars in the circle, N_outer those
of a region far from the centre, c the window's completeness for members
(:data:`WINDOW_COMPLETENESS`) and f the inner region's effective area over the outer one's,
measured on the stars *outside* the window (the field alone: footprint edges, holes and
crowding losses cancel). Its error is Poisson on both counts and on f. The field is assumed
to have the same motions across the table, the members' errors to be what the table states,
and the far region to hold no members: a halo or tidal tails there are taken for field and the
count comes out low (M67 in its 2° proper-motion box, whose halo reaches beyond 5 r50: 1,000 ±
83 counted inside 2.5 r50 where Gaia Collaboration (2018) lists 1,103).

``bench/member_excess.py`` applies it to the six distant boxes and to simulated cones.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from astropy.table import Table
from scipy.stats import chi2

#: the members the window holds if their errors are what the table states (its χ²: that
#: quantile with 3 degrees of freedom, 11.34)
WINDOW_COMPLETENESS = 0.99


def kinematic_excess(inner: np.ndarray, outer: np.ndarray, kin: np.ndarray, err: np.ndarray,
                     mag: np.ndarray, mean: np.ndarray, intrinsic_sd: np.ndarray, *,
                     edges: np.ndarray, sums: Mapping[str, np.ndarray] | None = None,
                     completeness: float = WINDOW_COMPLETENESS) -> Table:
    """Background-subtracted counts of stars at the cluster's motion, per magnitude bin.

    Parameters
    ----------
    inner, outer : ndarray of bool, shape (n,)
        The stars of the region counted (a circle around the cluster's centre) and of the
        region where the window's stars are field (far from any cluster); disjoint.
    kin, err : ndarray, shape (n, 3)
        (pmra, pmdec, parallax) and their standard errors (mas/yr, mas). Stars with a
        non-finite value are left out.
    mag : ndarray, shape (n,)
        G magnitudes (stars with NaN are left out of every bin).
    mean, intrinsic_sd : ndarray, shape (3,)
        The cluster's mean (pmra, pmdec, parallax) and intrinsic dispersions.
    edges : ndarray
        Magnitude bin edges.
    sums : mapping of str to ndarray (n,), optional
        Per-star quantities summed over each bin's stars in ``inner`` that have finite
        astrometry and errors, as columns of the same name (e.g. membership probabilities, a
        reference flag).
    completeness : float
        The share of a member's Gaussian (intrinsic spread plus its errors) inside the window,
        0 < c < 1: the window's χ² is its quantile with 3 degrees of freedom. If the errors
        are right, every choice gives the same count within its errors; counts that fall as
        the window narrows say the members scatter more than their errors.

    Returns
    -------
    astropy.table.Table
        One row per bin: ``g_min``, ``g_max``, ``n_inner`` (the window's stars in ``inner``),
        ``n_field`` (the field stars expected among them), ``excess`` and ``excess_error``
        (the members there, corrected for the window's completeness), and the ``sums``.

    Raises
    ------
    ValueError
        Shapes that disagree, fewer than two increasing edges, regions that overlap, or no
        star outside the window in either region (the area ratio cannot be measured).
    """
    inner, outer = np.asarray(inner, bool), np.asarray(outer, bool)
    kin, err, mag = np.asarray(kin, float), np.asarray(err, float), np.asarray(mag, float)
    n = len(inner)
    if outer.shape != (n,) or kin.shape != (n, 3) or err.shape != (n, 3) or mag.shape != (n,):
        raise ValueError(f"inner, outer and mag ({n},), kin and err ({n}, 3) expected; got "
                         f"{inner.shape}, {outer.shape}, {mag.shape}, {kin.shape}, {err.shape}")
    edges = np.asarray(edges, float)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"edges must be at least two increasing magnitudes; got {edges}")
    if not 0 < completeness < 1:
        raise ValueError(f"completeness must be in (0, 1); got {completeness}")
    if np.any(inner & outer):
        raise ValueError(f"{np.sum(inner & outer)} stars are in both regions: they must be "
                         "disjoint")
    d2 = np.sum((kin - np.asarray(mean, float)) ** 2
                / (np.asarray(intrinsic_sd, float) ** 2 + err ** 2), axis=1)
    placed = np.isfinite(d2)
    window = placed & (d2 < chi2.ppf(completeness, 3))
    inner, outer = placed & inner, placed & outer
    field_inner, field_outer = np.sum(inner & ~window), np.sum(outer & ~window)
    if field_inner == 0 or field_outer == 0:
        raise ValueError("no star outside the kinematic window in one of the regions: the "
                         "area ratio cannot be measured")
    ratio = field_inner / field_outer
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (mag >= low) & (mag < high)
        n_inner = int(np.sum(window & inner & in_bin))
        n_outer = int(np.sum(window & outer & in_bin))
        field = ratio * n_outer
        variance = n_inner + ratio**2 * n_outer \
            + field**2 * (1.0 / field_inner + 1.0 / field_outer)
        row = {"g_min": low, "g_max": high, "n_inner": n_inner, "n_field": field,
               "excess": (n_inner - field) / completeness,
               "excess_error": np.sqrt(variance) / completeness}
        for name, values in (sums or {}).items():
            row[name] = float(np.sum(np.asarray(values, float)[inner & in_bin]))
        rows.append(row)
    return Table(rows=rows)
