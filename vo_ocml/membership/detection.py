"""Blind detection of open clusters: multi-scale overdensities in proper motion, parallax and sky.

A cluster is a group of stars that share a place on the sky *and* a motion and parallax. The
field's stars, whatever cuts the table went through (a cone, a proper-motion or parallax box, a
magnitude limit), have sky and kinematic distributions that are nearly independent of each
other. Partition the kinematic space into cells K and the sky into cells A; under that
independence the expected number of stars in the joint cell K × A is

    μ = n(K) · n(A) / N,

with n(K), n(A) the numbers of stars in the cell's kinematic and sky projections, counted in the
table itself. Those marginal counts carry every cut of the table with them -- a box cut in
proper motion or parallax, a cone's edge, a magnitude limit changes the marginal and the joint
counts alike -- so a cut neither creates edge "clusters" nor hides real ones. The Poisson tail of
the observed joint count given μ is a cell's local significance.

Scales: the kinematic cells are boxes of half-width ``KERNEL_HALF_WIDTH`` times the spread a
cluster at the cell's parallax ϖ is expected to show (:data:`KINEMATIC_SCALES`): proper motion
``sqrt((σ_v ϖ / 4.74)² + e_pm²)``, parallax ``sqrt((R ϖ² / 1000)² + e_ϖ²)`` for internal
velocity dispersions σ_v and depths R, e being the searched stars' median errors (the parallax
axis is stretched so that these widths vary with ϖ). The sky cells are squares of half-width
1′, 2′, 4′, … up to :data:`SKY_MAX_FRACTION` of the field, each used only where it spans
0.5–20 pc at the cell's parallax (:data:`SKY_SIZES_PC`). Every partition is tried at
:data:`GRID_SHIFTS` offsets so that a cluster is never split badly by a cell edge.

Calibration: the field model is trusted to :data:`FIELD_SYSTEMATIC` (μ is inflated by that
fraction: real fields are not exactly separable, e.g. under patchy extinction), and the local
p-value is multiplied by the number of cells tested -- every cell of every partition that holds
at least ``min_stars`` stars (Bonferroni; conservative, because shifted and nested cells are
correlated). The reported significance is the Gaussian-equivalent of that global p-value.
A mean shift with the winning cell's box then finds each peak's centre.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import product

import numpy as np
from scipy.special import gammaln, ndtri_exp, pdtrc

log = logging.getLogger(__name__)

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
#: offsets (in cells) of the shifted partitions, in kinematics and, independently, on the sky
GRID_SHIFTS = (0.0, 0.5)
#: fractional uncertainty of the field model; the expected count is inflated by it
FIELD_SYSTEMATIC = 0.2
#: errors assumed when the table has none (mas/yr, mas: Gaia at G ≈ 17.5)
DEFAULT_ERROR = 0.1
#: stars beyond these quantiles of any axis are left out of the search (absurd values, tails)
SEARCH_QUANTILES = (0.0005, 0.9995)
#: most candidates reported
MAX_CANDIDATES = 5
#: local significance below which a cell is not kept as a candidate
CANDIDATE_FLOOR = 2.0
#: kinematic-only test: the most populated kinematic cells tested per partition
KIN_ONLY_CELLS = 5
#: kinematic-only test: the fewest times the smooth field's count a cell must hold. The test is
#: for clusters that dominate their table (pre-selected members), where the sky test has no
#: field to compare with; a smooth field's peak, truncated by a box cut, stays below this
KIN_ONLY_CONTRAST = 3.0
#: kinematic-only test: the least fraction of the outer box inside the table's kinematic
#: bounding box (otherwise the field around the cell is not seen well enough)
KIN_ONLY_MIN_INSIDE = 0.3
#: kinematic-only test: the box and its two surrounding shells, in box half-widths
SHELLS = (1.0, 2.0, 3.0)
#: the mean shift only looks at stars within this many box half-widths of its start
MEAN_SHIFT_REACH = 4.0
#: points of the parallax stretch's lookup table
_STRETCH_POINTS = 2048


@dataclass(frozen=True)
class Detection:
    """A compact overdensity found jointly in (pmra, pmdec, parallax) and on the sky.

    Attributes
    ----------
    centre : ndarray, shape (3,)
        (pmra, pmdec, parallax) of the peak, mas/yr and mas.
    scale : ndarray, shape (3,)
        Expected observed spread (σ) of such a cluster per axis (mas/yr, mas/yr, mas): the
        kinematic cell's half-width over :data:`KERNEL_HALF_WIDTH`.
    significance : float
        Global significance: the Gaussian-equivalent of the local p-value times the number of
        cells tested (``n_trials``).
    n_peak : int
        Stars in the winning cell (in the searched subsample).
    sky_centre : ndarray, shape (2,) or None
        Tangent-plane (ξ, η) of the peak in degrees.
    sky_scale : float
        Sky cell half-width in degrees.
    local_significance : float
        Gaussian-equivalent of the cell's local Poisson p-value.
    expected : float
        The field's expected count in the cell (before the systematic inflation).
    n_trials : float
        Cells tested (the trials factor).
    """

    centre: np.ndarray
    scale: np.ndarray
    significance: float
    n_peak: int
    sky_centre: np.ndarray | None = None
    sky_scale: float = np.inf
    local_significance: float = np.nan
    expected: float = np.nan
    n_trials: float = 1.0

    def describe(self) -> str:
        """One line (ASCII, for PARAMs and messages): where, how significant, how many stars."""
        where = "" if self.sky_centre is None else \
            f" at (xi, eta) = ({self.sky_centre[0]:+.3f}, {self.sky_centre[1]:+.3f}) deg, box " \
            f"+-{60 * self.sky_scale:.0f} arcmin"
        return (f"pm ({self.centre[0]:.2f}, {self.centre[1]:.2f}) mas/yr, parallax "
                f"{self.centre[2]:.3f} mas{where}: {self.significance:.1f} sigma global "
                f"({self.local_significance:.1f} sigma local; {self.n_peak} stars where the field "
                f"gives {self.expected:.1f})")


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


def _typical_errors(errors: np.ndarray | None) -> tuple[float, float]:
    if errors is None:
        return DEFAULT_ERROR, DEFAULT_ERROR
    e = np.nanmedian(errors, axis=0)
    e = np.where(np.isfinite(e) & (e > 0), e, DEFAULT_ERROR)
    return float(np.sqrt(0.5 * (e[0] ** 2 + e[1] ** 2))), float(e[2])


def half_widths(parallax: np.ndarray | float, e_pm: float, e_plx: float, sigma_v: float,
                depth: float) -> tuple[np.ndarray, np.ndarray]:
    """Kinematic half-widths (pm in mas/yr, parallax in mas) of a cluster's cell at ``parallax``."""
    plx = np.maximum(parallax, PARALLAX_FLOOR)
    h_pm = KERNEL_HALF_WIDTH * np.hypot(sigma_v * plx / KM_S_PER_MAS_YR_KPC, e_pm)
    h_plx = KERNEL_HALF_WIDTH * np.hypot(depth * plx**2 / 1000.0, e_plx)
    return h_pm, h_plx


def _labels(cells: np.ndarray) -> np.ndarray:
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


class _KinematicGrid:
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

    def cells(self, shift: float) -> tuple[np.ndarray, np.ndarray]:
        """Cell label of every star for a partition shifted by ``shift`` cells, and its ϖ."""
        u = np.interp(self.X[:, 2], self.grid, self.u) + shift
        slab = np.floor(u)
        plx_centre = np.interp(slab + 0.5 - shift, self.u, self.grid)
        h_pm, _ = half_widths(plx_centre, *self.params)
        a = np.floor(self.X[:, 0] / (2.0 * h_pm) + shift)
        b = np.floor(self.X[:, 1] / (2.0 * h_pm) + shift)
        return _labels(np.column_stack([slab, a, b])), plx_centre

    def half_width_at(self, parallax: float) -> np.ndarray:
        h_pm, h_plx = half_widths(parallax, *self.params)
        return np.array([h_pm, h_pm, h_plx], dtype=float)


def _sky_ladder(extent: float) -> np.ndarray:
    top = SKY_MAX_FRACTION * extent
    if top < SKY_MIN_HALF_WIDTH:
        return np.array([max(top, 1e-6)])
    return SKY_MIN_HALF_WIDTH * 2.0 ** np.arange(int(np.log2(top / SKY_MIN_HALF_WIDTH)) + 1)


def _plausible(theta: float, parallax: np.ndarray) -> np.ndarray:
    """Whether a sky half-width ``theta`` (deg) spans a cluster-like size at ``parallax``."""
    size_pc = np.radians(theta) * 1000.0 / np.maximum(parallax, PARALLAX_FLOOR)
    return (size_pc >= SKY_SIZES_PC[0]) & (size_pc <= SKY_SIZES_PC[1])


@dataclass
class _Cell:
    log_p: float
    count: int
    expected: float
    members: np.ndarray      # indices of the stars in the cell
    half: np.ndarray         # kinematic half-widths at the cell
    theta: float             # sky half-width


def _test_partition(kin_label: np.ndarray, plx_centre: np.ndarray, sky_label: np.ndarray,
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
    testable = (count >= min_stars) & _plausible(theta, plx_centre[first])
    log_p = np.zeros(len(keys))
    mu_eff = expected * (1.0 + FIELD_SYSTEMATIC)
    promising = testable & (count > mu_eff + CANDIDATE_FLOOR * np.sqrt(mu_eff))
    log_p[promising] = log_p_upper(count[promising], expected[promising])
    return joint, count, expected, log_p, int(testable.sum())


def _box_fraction(centre: np.ndarray, half: np.ndarray, lo: np.ndarray,
                  hi: np.ndarray) -> float:
    """Fraction of the box ``centre ± half`` inside the table's kinematic bounding box."""
    inside = np.clip(np.minimum(centre + half, hi) - np.maximum(centre - half, lo), 0.0, None)
    return float(np.prod(inside / (2.0 * half)))


def _kinematic_only(X: np.ndarray, kin_label: np.ndarray, grid: "_KinematicGrid",
                    bounds: tuple[np.ndarray, np.ndarray], min_stars: int) -> tuple[list, int]:
    """Test the most populated kinematic cells against the smooth kinematic field around them.

    The field's density at the cell's box is extrapolated from two surrounding shells (the
    boxes 1–2× and 2–3× as wide), assuming a density quadratic in the distance, which a
    smooth field's peak is; box volumes are truncated at the table's kinematic bounding box
    (a pre-cut box). Returns the candidate cells and the number of cells that could be tested.
    """
    n_kin = np.bincount(kin_label)
    tested = int(np.sum(n_kin >= min_stars))
    out = []
    for j in np.argsort(n_kin)[::-1][:KIN_ONLY_CELLS]:
        if n_kin[j] < min_stars:
            break
        centre = X[kin_label == j].mean(axis=0)
        half = grid.half_width_at(float(centre[2]))
        far = np.max(np.abs(X - centre) / half, axis=1)  # box "radius" in half-widths
        counts = [int(np.sum(far <= r)) for r in SHELLS]
        inside = [_box_fraction(centre, r * half, *bounds) for r in SHELLS]
        if inside[-1] < KIN_ONLY_MIN_INSIDE:
            continue
        volume = [f * r**3 for f, r in zip(inside, SHELLS)]
        second = [r**2 for r in SHELLS]  # mean squared box radius ∝ r² inside a box of size r
        rho = []
        for k in (1, 2):
            dv = volume[k] - volume[k - 1]
            rho.append((counts[k] - counts[k - 1]) / dv if dv > 0 else np.nan)
        if not np.all(np.isfinite(rho)):
            continue
        m_in = second[0] * 0.6
        m1 = 0.6 * (SHELLS[1] ** 5 - SHELLS[0] ** 5) / (SHELLS[1] ** 3 - SHELLS[0] ** 3)
        m2 = 0.6 * (SHELLS[2] ** 5 - SHELLS[1] ** 5) / (SHELLS[2] ** 3 - SHELLS[1] ** 3)
        slope = (rho[0] - rho[1]) / (m1 - m2)
        density = max(rho[0] + slope * (m_in - m1), 0.25 * rho[0])
        expected = density * volume[0]
        if counts[0] < KIN_ONLY_CONTRAST * expected:
            continue
        # the field estimate's own Poisson error (one sigma, from the nearer shell's count)
        noise = 1.0 / np.sqrt(max(counts[1] - counts[0], 1))
        log_p = float(log_p_upper(np.array([counts[0]]), np.array([expected]), noise)[0])
        members = np.flatnonzero(far <= 1.0)
        out.append(_Cell(log_p, counts[0], float(expected), members, half, np.inf))
    return out, tested


def _mean_shift(points: np.ndarray, start: np.ndarray, half: np.ndarray,
                min_stars: int = 8, iterations: int = 20) -> np.ndarray:
    """Climb to the local mean of the stars within the box ``start ± half``, then refine
    with boxes half as wide while they hold ``min_stars`` (the field inside a wide box pulls
    the mean toward the field's own density gradient; a narrower box sits on the peak).
    """
    centre = start.copy()
    # the climb stays near its start: search only the stars within a few boxes of it
    points = points[np.all(np.abs(points - start) <= MEAN_SHIFT_REACH * half, axis=1)]
    for box in (half, 0.5 * half):
        for _ in range(iterations):
            near = np.all(np.abs(points - centre) <= box, axis=1)
            if near.sum() < min_stars:
                return centre
            new = points[near].mean(axis=0)
            if np.all(np.abs(new - centre) <= 1e-3 * box):
                break
            centre = new
    return centre


def _same_peak(a: Detection, b: Detection) -> bool:
    """Whether two detections are the same overdensity (within two cells of each other).

    A kinematic-only detection and a sky one are the same only when their kinematic centres
    agree within the smaller cell (a broad kinematic peak may hold several sky clusters).
    """
    if a.sky_centre is None or b.sky_centre is None:
        reach = 2.0 * KERNEL_HALF_WIDTH * np.minimum(a.scale, b.scale)
        return bool(np.all(np.abs(a.centre - b.centre) <= reach))
    reach = 2.0 * KERNEL_HALF_WIDTH * np.maximum(a.scale, b.scale)
    if np.any(np.abs(a.centre - b.centre) > reach):
        return False
    return bool(np.all(np.abs(a.sky_centre - b.sky_centre) <= 2.0 * max(a.sky_scale, b.sky_scale)))


def search_subsample(pm_plx: np.ndarray, sky: np.ndarray | None) -> np.ndarray:
    """Indices of the stars the search may use: finite, and inside the central quantiles.

    Values in the extreme tails (or absurd ones, such as 1e300) can be neither part of a
    cluster's core nor of its field model; leaving them out keeps every count finite.
    """
    Z = pm_plx if sky is None else np.hstack([pm_plx, sky])
    ok = np.all(np.isfinite(Z), axis=1)
    if ok.sum() == 0:
        return np.flatnonzero(ok)
    lo, hi = np.quantile(Z[ok], SEARCH_QUANTILES, axis=0)
    with np.errstate(invalid="ignore"):
        ok &= np.all((Z >= lo) & (Z <= hi), axis=1)
    return np.flatnonzero(ok)


def detect(pm_plx: np.ndarray, errors: np.ndarray | None, sky: np.ndarray, *,
           min_stars: int = 8, max_candidates: int = MAX_CANDIDATES) -> list[Detection]:
    """The most significant distinct overdensities among the given stars, best first.

    Parameters
    ----------
    pm_plx : ndarray, shape (n, 3)
        (pmra, pmdec, parallax), mas/yr and mas (a searchable subsample: see
        :func:`search_subsample`).
    errors : ndarray, shape (n, 3) or None
        Their standard errors (their medians set the kinematic scales).
    sky : ndarray, shape (n, 2)
        Tangent-plane (ξ, η) in degrees.
    min_stars : int
        Fewest stars a cell must hold to be tested.
    max_candidates : int
        Most candidates returned (and kept per partition).

    Returns
    -------
    list of Detection
        At most ``max_candidates``, most significant first (possibly empty).
    """
    n = len(pm_plx)
    if n < 3 * min_stars:
        return []
    e_pm, e_plx = _typical_errors(errors)
    ladder = _sky_ladder(float(np.min(np.ptp(sky, axis=0))))
    bounds = (pm_plx.min(axis=0), pm_plx.max(axis=0))
    sky_labels = {}
    for theta in ladder:
        for shift in GRID_SHIFTS:
            sky_labels[theta, shift] = _labels(np.floor(sky / (2.0 * theta) + shift))
    n_trials = 0
    cells: list[_Cell] = []
    for sigma_v, depth in KINEMATIC_SCALES:
        grid = _KinematicGrid(pm_plx, e_pm, e_plx, sigma_v, depth)
        for kin_shift in GRID_SHIFTS:
            kin_label, plx_centre = grid.cells(kin_shift)
            kin_cells, tested = _kinematic_only(pm_plx, kin_label, grid, bounds, min_stars)
            cells += kin_cells
            n_trials += tested
            for (theta, _), sky_label in sky_labels.items():
                joint, count, expected, log_p, tested = _test_partition(
                    kin_label, plx_centre, sky_label, float(theta), min_stars)
                n_trials += tested
                best = np.argpartition(log_p, max_candidates)[:max_candidates] \
                    if len(log_p) > max_candidates else np.arange(len(log_p))
                for j in best[log_p[best] < 0]:
                    members = np.flatnonzero(joint == j)
                    half = grid.half_width_at(float(np.median(plx_centre[members])))
                    cells.append(_Cell(float(log_p[j]), int(count[j]), float(expected[j]),
                                       members, half, float(theta)))
    n_trials = max(n_trials, 1)
    cells.sort(key=lambda c: c.log_p)
    points = np.hstack([sky, pm_plx])
    found: list[Detection] = []
    for cell in cells:
        if len(found) >= max_candidates or sigma_from_log_p(cell.log_p) < CANDIDATE_FLOOR:
            break
        if any(_same_peak(_refine(cell, points, n_trials, climb=False), other)
               for other in found):
            continue  # a cell of a peak already found (another scale or shift)
        det = _refine(cell, points, n_trials)
        if not any(_same_peak(det, other) for other in found):
            found.append(det)
    return found


def _refine(cell: _Cell, points: np.ndarray, n_trials: int, climb: bool = True) -> Detection:
    """Mean-shift from the cell's stars with the cell's box and describe the peak.

    Without ``climb`` the peak is the mean of the cell's stars (a quick look).
    """
    log_global = min(0.0, cell.log_p + float(np.log(n_trials)))
    if np.isfinite(cell.theta):
        half = np.concatenate([[cell.theta, cell.theta], cell.half])
        centre = points[cell.members].mean(axis=0)
        centre = _mean_shift(points, centre, half) if climb else centre
        kin, sky = centre[2:], centre[:2]
    else:
        kin = points[cell.members, 2:].mean(axis=0)
        kin = _mean_shift(points[:, 2:], kin, cell.half) if climb else kin
        sky = None
    return Detection(centre=kin, scale=cell.half / KERNEL_HALF_WIDTH,
                     significance=float(sigma_from_log_p(log_global)), n_peak=cell.count,
                     sky_centre=sky, sky_scale=cell.theta,
                     local_significance=float(sigma_from_log_p(cell.log_p)),
                     expected=cell.expected, n_trials=float(n_trials))

def find_candidates(pm_plx: np.ndarray, errors: np.ndarray | None = None,
                    sky: np.ndarray | None = None, *, max_stars: int = 40000,
                    min_stars: int = 8, max_candidates: int = MAX_CANDIDATES,
                    random_state: int | None = 0) -> list[Detection]:
    """The most significant distinct overdensities in a table, best first.

    Parameters
    ----------
    pm_plx : ndarray, shape (n, 3)
        (pmra, pmdec, parallax) of complete stars, mas/yr and mas.
    errors : ndarray, shape (n, 3), optional
        Their standard errors; when given, the ``max_stars`` best-measured stars are searched,
        otherwise a random subsample.
    sky : ndarray, shape (n, 2), optional
        Tangent-plane positions (ξ, η) in degrees. Without them nothing can be found (a
        cluster is an overdensity on the sky and in kinematics at once).
    max_stars : int
        Size of the searched subsample (speed on cones of millions of stars).
    min_stars : int
        Fewest stars a peak's box must hold.
    max_candidates : int
        Most candidates returned.
    random_state : int or None
        Seed of the subsample when errors are unknown.

    Returns
    -------
    list of Detection
        At most ``max_candidates``, most significant first; empty when there are too few
        stars to search.
    """
    from vo_ocml.membership.centroid import best_measured

    if sky is None:
        return []
    pick = best_measured(errors, len(pm_plx), max_stars, random_state)
    usable = search_subsample(pm_plx[pick], sky[pick])
    pick = pick[usable]
    found = detect(pm_plx[pick], None if errors is None else errors[pick], sky[pick],
                   min_stars=min_stars, max_candidates=max_candidates)
    for d in found:
        log.debug("candidate: %s", d.describe())
    return found


def find_centroid(pm_plx: np.ndarray, errors: np.ndarray | None = None,
                  sky: np.ndarray | None = None, **kwargs) -> Detection | None:
    """The most significant overdensity (:func:`find_candidates`), or None when there is none.

    Keyword arguments are those of :func:`find_candidates`.
    """
    found = find_candidates(pm_plx, errors, sky, **kwargs)
    return found[0] if found else None
