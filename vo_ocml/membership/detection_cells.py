"""The cells blind detection tests, and what the field would put in them.

Partitions of the kinematic space (:class:`KinematicGrid`: cells as wide as a cluster at the
cell's parallax is expected to be) and of the sky (squares), the joint cells' counts against
the sky–kinematics independence of the field (:func:`score_partition`), the kinematic-only test
for clusters that fill their table (:func:`kinematic_only`), and the Poisson tail with the
field model's systematic uncertainty (:func:`log_p_upper`). The search itself, its trials
correction and the candidates are in :mod:`vo_ocml.membership.detection`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, ndtri_exp, pdtrc

#: (internal velocity dispersion in km/s, line-of-sight depth in pc) of the clusters searched for
KINEMATIC_SCALES = ((0.5, 2.0), (1.0, 3.0), (2.0, 5.0), (4.0, 8.0))
#: cell half-width in units of the expected observed spread (±1.5σ holds 87 % per axis)
KERNEL_HALF_WIDTH = 1.5
#: parallax floor (mas) for the scales: more distant clusters are searched as if at 10 kpc
PARALLAX_FLOOR = 0.1
#: km/s per (mas/yr × kpc)
KM_S_PER_MAS_YR_KPC = 4.74
#: smallest sky half-width (degrees, 1 arcmin); the ladder doubles from there
SKY_MIN_HALF_WIDTH = 1.0 / 60.0
#: largest sky half-width as a fraction of the field's smaller extent
SKY_MAX_FRACTION = 0.3
#: plausible cluster sizes (pc) for a sky half-width at the cell's parallax
SKY_SIZES_PC = (0.5, 20.0)
#: fractional uncertainty of the field model; the expected count is inflated by it
FIELD_SYSTEMATIC = 0.2
#: local significance below which a cell is not kept as a candidate
CANDIDATE_FLOOR = 2.0
#: kinematic-only test: the most populated kinematic cells tested per partition, and as many
#: of the cells that stand out most from their neighbours (:func:`neighbour_contrast`)
KIN_ONLY_CELLS = 5
#: kinematic-only test: the fewest times the smooth field's count a cell must hold. The test is
#: for clusters that dominate their table (pre-selected members), where the sky test has no
#: field to compare with; a smooth field's peak, truncated by a box cut, stays below this
KIN_ONLY_CONTRAST = 3.0
#: kinematic-only test: the least fraction of the outer box inside the table's kinematic
#: bounding box (otherwise the field around the cell is not seen well enough; nor is it when
#: the shells around the cell hold fewer stars than a cell must)
KIN_ONLY_MIN_INSIDE = 0.3
#: kinematic-only test: the box and its two surrounding shells, in box half-widths
SHELLS = (1.0, 2.0, 3.0)
#: points of the parallax stretch's lookup table
_STRETCH_POINTS = 2048


def log_p_upper(count: np.ndarray, expected: np.ndarray,
                extra: np.ndarray | float = 0.0) -> np.ndarray:
    """log P(X ≥ count) for X ~ Poisson(expected · (1 + FIELD_SYSTEMATIC + extra)).

    ``extra`` is any further fractional uncertainty of the expected count.

    Where the tail underflows, the leading term log pmf(count) (a bound within a factor
    1/(1 − μ/(count + 1)) of the tail) is used, so that the ranking stays finite.
    """
    count = np.asarray(count, float)
    mu = np.maximum(np.asarray(expected, float), 1e-3) * (1.0 + FIELD_SYSTEMATIC + extra)
    with np.errstate(divide="ignore"):
        out = np.log(pdtrc(count - 1, mu))  # P(X ≥ count) = P(X > count − 1)
    bad = ~np.isfinite(out)
    if bad.any():  # log pmf(count)
        out[bad] = count[bad] * np.log(mu[bad]) - mu[bad] - gammaln(count[bad] + 1)
    return out


def sigma_from_log_p(log_p: np.ndarray | float) -> np.ndarray:
    """Gaussian-equivalent significance of a one-sided log p-value (0 at p ≥ 0.5)."""
    return np.maximum(-ndtri_exp(np.minimum(np.asarray(log_p, float), 0.0)), 0.0)



def half_widths(parallax: np.ndarray | float, e_pm: float, e_plx: float, sigma_v: float,
                depth: float) -> tuple[np.ndarray, np.ndarray]:
    """Kinematic half-widths (pm in mas/yr, parallax in mas) of a cluster's cell at ``parallax``."""
    plx = np.maximum(parallax, PARALLAX_FLOOR)
    h_pm = KERNEL_HALF_WIDTH * np.hypot(sigma_v * plx / KM_S_PER_MAS_YR_KPC, e_pm)
    h_plx = KERNEL_HALF_WIDTH * np.hypot(depth * plx**2 / 1000.0, e_plx)
    return h_pm, h_plx


def labels(cells: np.ndarray) -> np.ndarray:
    """Dense labels 0…m−1 of integer cell coordinates (rows of ``cells``)."""
    cells = cells.astype(np.int64)
    cells -= cells.min(axis=0)
    span = cells.max(axis=0) + 1
    if np.sum(np.log2(span.astype(float))) > 62:  # too many cells for one integer key
        return np.unique(cells, axis=0, return_inverse=True)[1].ravel()
    key = np.zeros(len(cells), dtype=np.int64)
    for d in range(cells.shape[1]):
        key = key * int(span[d]) + cells[:, d]
    return np.unique(key, return_inverse=True)[1].ravel()


class KinematicGrid:
    """A partition of (pmra, pmdec, parallax) into cells whose size follows the parallax."""

    def __init__(self, X: np.ndarray, e_pm: float, e_plx: float, sigma_v: float,
                 depth: float) -> None:
        self.params = (e_pm, e_plx, sigma_v, depth)
        lo, hi = float(X[:, 2].min()), float(X[:, 2].max())
        grid = np.linspace(lo, hi + 1e-9, _STRETCH_POINTS)
        _, h_plx = half_widths(grid, *self.params)
        # u(ϖ) = ∫ dϖ / (2 h_plx(ϖ)): one unit of u is one cell
        steps = np.diff(grid) / (h_plx[1:] + h_plx[:-1])
        self.grid = grid
        self.u = np.concatenate([[0.0], np.cumsum(steps)])
        self.X = X

    def cells(self, shift: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cell label of every star for a partition shifted by ``shift`` cells, its ϖ, and
        its cell's integer coordinates (parallax slab, pmra, pmdec; shape (n, 3))."""
        u = np.interp(self.X[:, 2], self.grid, self.u) + shift
        slab = np.floor(u)
        plx_centre = np.interp(slab + 0.5 - shift, self.u, self.grid)
        h_pm, _ = half_widths(plx_centre, *self.params)
        a = np.floor(self.X[:, 0] / (2.0 * h_pm) + shift)
        b = np.floor(self.X[:, 1] / (2.0 * h_pm) + shift)
        coords = np.column_stack([slab, a, b]).astype(np.int64)
        return labels(coords), plx_centre, coords

    def half_width_at(self, parallax: float) -> np.ndarray:
        h_pm, h_plx = half_widths(parallax, *self.params)
        return np.array([h_pm, h_pm, h_plx], dtype=float)


def sky_ladder(extent: float) -> np.ndarray:
    top = SKY_MAX_FRACTION * extent
    if top < SKY_MIN_HALF_WIDTH:
        return np.array([max(top, 1e-6)])
    return SKY_MIN_HALF_WIDTH * 2.0 ** np.arange(int(np.log2(top / SKY_MIN_HALF_WIDTH)) + 1)


def plausible(theta: float, parallax: np.ndarray) -> np.ndarray:
    """Whether a sky half-width ``theta`` (deg) spans a cluster-like size at ``parallax``."""
    size_pc = np.radians(theta) * 1000.0 / np.maximum(parallax, PARALLAX_FLOOR)
    return (size_pc >= SKY_SIZES_PC[0]) & (size_pc <= SKY_SIZES_PC[1])


@dataclass
class Cell:
    log_p: float
    count: int
    expected: float
    members: np.ndarray      # indices of the stars in the cell
    half: np.ndarray         # kinematic half-widths at the cell
    theta: float             # sky half-width


def score_partition(kin_label: np.ndarray, plx_centre: np.ndarray, sky_label: np.ndarray,
                    theta: float, min_stars: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                           np.ndarray, int]:
    """Joint-cell counts, expected counts and log p for one partition.

    Returns (joint label per star, count, expected, log p per joint cell, cells tested).
    """
    n = len(kin_label)
    n_kin = np.bincount(kin_label)
    n_sky = np.bincount(sky_label)
    joint_key = kin_label.astype(np.int64) * (int(sky_label.max()) + 1) + sky_label
    keys, joint, count = np.unique(joint_key, return_inverse=True, return_counts=True)
    joint = joint.ravel()
    first = np.zeros(len(keys), dtype=np.int64)
    first[joint[::-1]] = np.arange(n)[::-1]  # one star of each joint cell
    expected = n_kin[kin_label[first]] * n_sky[sky_label[first]] / n
    testable = (count >= min_stars) & plausible(theta, plx_centre[first])
    log_p = np.zeros(len(keys))
    mu_eff = expected * (1.0 + FIELD_SYSTEMATIC)
    promising = testable & (count > mu_eff + CANDIDATE_FLOOR * np.sqrt(mu_eff))
    log_p[promising] = log_p_upper(count[promising], expected[promising])
    return joint, count, expected, log_p, int(testable.sum())


def box_fraction(centre: np.ndarray, half: np.ndarray, lo: np.ndarray,
                 hi: np.ndarray) -> np.ndarray:
    """Fraction of the box ``centre ± half`` inside the table's kinematic bounding box, per
    axis (the box's fraction is their product)."""
    inside = np.clip(np.minimum(centre + half, hi) - np.maximum(centre - half, lo), 0.0, None)
    return inside / (2.0 * half)


def _mean_square_radius(r0: float, r1: float, dims: int) -> float:
    """Mean squared box radius (max-norm) of points uniform between the boxes of half-widths
    ``r0`` and ``r1`` in ``dims`` dimensions: the density's quadratic term weighs a shell by it."""
    return dims / (dims + 2) * (r1 ** (dims + 2) - r0 ** (dims + 2)) / (r1**dims - r0**dims)


def neighbour_contrast(kin_label: np.ndarray, coords: np.ndarray, n_kin: np.ndarray) -> np.ndarray:
    """Each kinematic cell's count over the mean count of its 26 neighbours (plus one).

    ``coords`` are the stars' integer cell coordinates (:meth:`KinematicGrid.cells`), ``n_kin``
    the count of each label. Zero for every cell when the grid is too large to key.
    """
    first = np.unique(kin_label, return_index=True)[1]
    cell = coords[first] - coords.min(axis=0) + 1  # one empty layer around every cell
    span = cell.max(axis=0) + 2
    if np.sum(np.log2(span.astype(float))) > 62:  # too many cells for one integer key
        return np.zeros(len(cell))
    key = (cell[:, 0] * span[1] + cell[:, 1]) * span[2] + cell[:, 2]
    order = np.argsort(key)
    total = np.zeros(len(cell))
    for offset in np.ndindex(3, 3, 3):
        d = np.asarray(offset) - 1
        if not d.any():
            continue
        other = ((cell[:, 0] + d[0]) * span[1] + cell[:, 1] + d[1]) * span[2] + cell[:, 2] + d[2]
        at = np.clip(np.searchsorted(key, other, sorter=order), 0, len(key) - 1)
        hit = key[order[at]] == other
        total[hit] += n_kin[order[at[hit]]]
    return n_kin / (total / 26.0 + 1.0)


def kinematic_only(X: np.ndarray, kin_label: np.ndarray, coords: np.ndarray,
                   grid: "KinematicGrid", bounds: tuple[np.ndarray, np.ndarray],
                   min_stars: int) -> tuple[list, int]:
    """Test kinematic cells against the smooth kinematic field around them.

    The cells tested are the :data:`KIN_ONLY_CELLS` most populated and the as many that
    stand out most from their 26 neighbouring cells (:func:`neighbour_contrast`): a nearby
    cluster that fills the table on the sky but not its kinematics (one larger than the cone)
    holds fewer stars per cell than the distant field's peak. Every cell with ``min_stars``
    counts as a trial all the same. The field's density at the cell's box is extrapolated from
    two surrounding shells (the boxes 1–2× and 2–3× as wide), assuming a density quadratic in
    the distance, which a smooth field's peak is; box volumes are truncated at the table's
    kinematic bounding box (a pre-cut box). Axes along which the outermost box spans the
    whole table are left out (the boxes and shells are then slabs in the other axes): a
    proper-motion box narrower than a nearby cluster's spread, which the cluster fills, leaves
    only its parallax to stand out. Returns the candidate cells and the number of cells that
    could be tested.
    """
    n_kin = np.bincount(kin_label)
    tested = int(np.sum(n_kin >= min_stars))
    populated = np.argsort(n_kin)[::-1][:KIN_ONLY_CELLS]
    contrast = np.where(n_kin >= min_stars, neighbour_contrast(kin_label, coords, n_kin), 0.0)
    standing_out = np.argsort(contrast)[::-1][:KIN_ONLY_CELLS]
    out = []
    for j in dict.fromkeys(np.concatenate([populated, standing_out]).tolist()):
        if n_kin[j] < min_stars:
            continue
        centre = X[kin_label == j].mean(axis=0)
        half = grid.half_width_at(float(centre[2]))
        axes = np.ones(3, bool)
        if np.prod(box_fraction(centre, SHELLS[-1] * half, *bounds)) < KIN_ONLY_MIN_INSIDE:
            # the outer box is mostly outside the table: leave out the axes along which it
            # spans the whole table (every box sees the same field along them: a proper-
            # motion box narrower than the cluster) and test the cell along the others
            outer = SHELLS[-1] * half
            axes = ~((centre - outer <= bounds[0]) & (centre + outer >= bounds[1]))
            if not axes.any():
                continue
        far = np.max(np.abs(X - centre)[:, axes] / half[axes], axis=1)  # box "radius"
        counts = [int(np.sum(far <= r)) for r in SHELLS]
        inside = [np.prod(box_fraction(centre, r * half, *bounds)[axes]) for r in SHELLS]
        if inside[-1] < KIN_ONLY_MIN_INSIDE or counts[-1] - counts[0] < min_stars:
            continue  # the field around the cell is not seen well enough
        dims = int(axes.sum())
        volume = [f * r**dims for f, r in zip(inside, SHELLS)]
        rho = []
        for k in (1, 2):
            dv = volume[k] - volume[k - 1]
            rho.append((counts[k] - counts[k - 1]) / dv if dv > 0 else np.nan)
        if not np.all(np.isfinite(rho)):
            continue
        m_in, m1, m2 = (_mean_square_radius(r0, r1, dims)
                        for r0, r1 in zip((0.0, *SHELLS[:2]), SHELLS))
        slope = (rho[0] - rho[1]) / (m1 - m2)
        # floor: a quarter of the shells' mean density (a peak's extrapolation can reach
        # zero, and an empty nearer shell says little); where the table's edge cuts the
        # shells and the density rises away from the cell, the nearer shell's: the field's
        # slope, seen on one side only, extrapolated inwards would make a valley no field has
        shells = (counts[2] - counts[0]) / (volume[2] - volume[0])
        one_sided = inside[-1] < 1.0 and rho[0] < rho[1]
        floor = rho[0] if one_sided else 0.25 * max(rho[0], shells)
        density = max(rho[0] + slope * (m_in - m1), floor)
        expected = density * volume[0]
        if counts[0] < KIN_ONLY_CONTRAST * expected:
            continue
        # the field estimate's own Poisson error (one sigma, from the nearer shell's count)
        noise = 1.0 / np.sqrt(max(counts[1] - counts[0], 1))
        log_p = float(log_p_upper(np.array([counts[0]]), np.array([expected]), noise)[0])
        members = np.flatnonzero(far <= 1.0)
        out.append(Cell(log_p, counts[0], float(expected), members, half, np.inf))
    return out, tested
