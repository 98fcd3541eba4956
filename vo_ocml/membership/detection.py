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

Scales: the kinematic cells are boxes of half-width 1.5 times the spread a cluster at the
cell's parallax ϖ is expected to show: proper motion ``sqrt((σ_v ϖ / 4.74)² + e_pm²)``,
parallax ``sqrt((R ϖ² / 1000)² + e_ϖ²)`` for internal velocity dispersions σ_v and depths R
(:data:`~vo_ocml.membership.detection_cells.KINEMATIC_SCALES`), e being the searched stars'
median errors (the parallax axis is stretched so that these widths vary with ϖ). The sky cells
are squares of half-width 1′, 2′, 4′, … up to 30 % of the field, each used only where it spans
0.5–20 pc at the cell's parallax. Every partition is also tried shifted by half a cell
(:data:`GRID_SHIFTS`) so that a cluster is never split badly by a cell edge.

A cluster that fills its table on the sky (a proper-motion box of members) cannot break the
independence; for it the most populated kinematic cells are also tested against the smooth
kinematic field around them (:func:`~vo_ocml.membership.detection_cells.kinematic_only`).

The search runs twice when the stars have errors: over all of them, then over the better-
measured half with cells scaled to its errors (:data:`PRECISE_QUANTILE`).

Calibration: μ is inflated by 20 % (real fields are not exactly separable, e.g. under patchy
extinction), and the local p-value is multiplied by the number of cells tested -- every cell
of every partition that holds at least ``min_stars`` stars, in both searches (Bonferroni); the
reported significance is the Gaussian-equivalent of that global p-value. It ranks
candidates, it is no false-alarm rate: on empty simulated cones the best candidate reaches 3σ
in 3-15 % of them (bench/detection_null.py), almost always through the kinematic-only test,
whose field estimate's error only inflates the expected count by 1σ; the filter, MST and
mixture decide what is a cluster. A mean shift with the winning cell's box finds each peak.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import log_ndtr

from vo_ocml.membership.detection_cells import (
    CANDIDATE_FLOOR, KERNEL_HALF_WIDTH, KINEMATIC_SCALES, Cell, KinematicGrid, kinematic_only,
    labels, score_partition, sigma_from_log_p, sky_ladder,
)

log = logging.getLogger(__name__)

#: offsets (in cells) of the shifted partitions, in kinematics and, independently, on the sky
GRID_SHIFTS = (0.0, 0.5)
#: errors assumed when the table has none (mas/yr, mas: Gaia at G ≈ 17.5)
DEFAULT_ERROR = 0.1
#: stars beyond these quantiles of any axis are left out of the search (absurd values, tails)
SEARCH_QUANTILES = (0.0005, 0.9995)
#: most candidates reported
MAX_CANDIDATES = 5
#: the mean shift only looks at stars within this many box half-widths of its start
MEAN_SHIFT_REACH = 4.0
#: several-cluster runs list up to this many times the candidates asked for before
#: :func:`_resolved` (the same cluster found at several scales takes several places)
RESOLVE_ROOM = 2
#: the search is repeated on the stars whose proper-motion error is at most this quantile of
#: the searched stars' (the median: two halves), with cells scaled to their errors: a distant
#: or poor cluster's brighter members stand out there against a faint field whose errors widen
#: every cell
PRECISE_QUANTILE = 0.5
#: a peak that the search over all the stars finds at least this significant (global σ; the
#: estimator's default ``min_significance``) keeps that search's description (its centre,
#: scale and sky window), ranked by the better significance of the two searches: the same
#: cluster described anew would start the mixture elsewhere for nothing (on a 30,000-row tiled
#: cone, bench/samp_latency.py, EM took 306 iterations instead of 178 for the same members)
FIRST_SEARCH_KEEPS = 3.0


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

    def describe(self, origin: tuple[float, float] | None = None) -> str:
        """One line (ASCII, for PARAMs and messages): where, how significant, how many stars.

        With the tangent plane's ``origin`` (ra, dec in degrees) the sky centre is given in
        (ra, dec); otherwise in tangent-plane (xi, eta).
        """
        where = ""
        if self.sky_centre is not None:
            if origin is not None:
                from vo_ocml.membership.sky import from_tangent_plane

                ra, dec = from_tangent_plane(*self.sky_centre, *origin)
                where = f" at (ra, dec) = ({float(ra):.3f}, {float(dec):+.3f}) deg"
            else:
                where = f" at (xi, eta) = ({self.sky_centre[0]:+.3f}, " \
                        f"{self.sky_centre[1]:+.3f}) deg"
            where += f", box +-{60 * self.sky_scale:.0f} arcmin"
        return (f"pm ({self.centre[0]:.2f}, {self.centre[1]:.2f}) mas/yr, parallax "
                f"{self.centre[2]:.3f} mas{where}: {self.significance:.1f} sigma global "
                f"({self.local_significance:.1f} sigma local; {self.n_peak} stars where the field "
                f"gives {self.expected:.1f})")


def _typical_errors(errors: np.ndarray | None) -> tuple[float, float]:
    if errors is None:
        return DEFAULT_ERROR, DEFAULT_ERROR
    e = np.nanmedian(errors, axis=0)
    e = np.where(np.isfinite(e) & (e > 0), e, DEFAULT_ERROR)
    return float(np.sqrt(0.5 * (e[0] ** 2 + e[1] ** 2))), float(e[2])


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


def _same_peak(a: Detection, b: Detection, keep_sky: bool = False) -> bool:
    """Whether two detections are the same overdensity (within two cells of each other).

    A kinematic-only detection and a sky one are the same only when their kinematic centres
    agree within the smaller cell (a broad kinematic peak may hold several sky clusters);
    with ``keep_sky`` never (both are kept: :func:`find_candidates`), and two sky ones are
    the same only within the smaller cell too (a coarse cell may hold two finer clusters;
    :func:`_resolved` decides).
    """
    if (a.sky_centre is None) != (b.sky_centre is None) and keep_sky:
        return False
    if a.sky_centre is None or b.sky_centre is None:
        reach = 2.0 * KERNEL_HALF_WIDTH * np.minimum(a.scale, b.scale)
        return bool(np.all(np.abs(a.centre - b.centre) <= reach))
    reach = 2.0 * KERNEL_HALF_WIDTH * (np.minimum if keep_sky else np.maximum)(a.scale, b.scale)
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
           min_stars: int = 8, max_candidates: int = MAX_CANDIDATES,
           keep_sky: bool = False) -> tuple[list[Detection], int]:
    """The most significant distinct overdensities among the given stars, best first, and the
    number of cells tested (one search; :func:`find_candidates` makes two).

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
    keep_sky : bool
        Keep sky-resolved detections inside a kinematic-only one (see :func:`find_candidates`).

    Returns
    -------
    list of Detection
        At most ``max_candidates``, most significant first (possibly empty).
    int
        The cells tested (the trials behind each detection's global significance).
    """
    n = len(pm_plx)
    if n < 3 * min_stars:
        return [], 0
    e_pm, e_plx = _typical_errors(errors)
    ladder = sky_ladder(float(np.min(np.ptp(sky, axis=0))))
    bounds = (pm_plx.min(axis=0), pm_plx.max(axis=0))
    sky_labels = {}
    for theta in ladder:
        for shift in GRID_SHIFTS:
            sky_labels[theta, shift] = labels(np.floor(sky / (2.0 * theta) + shift))
    n_trials = 0
    cells: list[Cell] = []
    for sigma_v, depth in KINEMATIC_SCALES:
        grid = KinematicGrid(pm_plx, e_pm, e_plx, sigma_v, depth)
        for kin_shift in GRID_SHIFTS:
            kin_label, plx_centre, coords = grid.cells(kin_shift)
            kin_cells, tested = kinematic_only(pm_plx, kin_label, coords, grid, bounds,
                                               min_stars)
            cells += kin_cells
            n_trials += tested
            for (theta, _), sky_label in sky_labels.items():
                joint, count, expected, log_p, tested = score_partition(
                    kin_label, plx_centre, sky_label, float(theta), min_stars)
                n_trials += tested
                best = np.argpartition(log_p, max_candidates)[:max_candidates] \
                    if len(log_p) > max_candidates else np.arange(len(log_p))
                for j in best[log_p[best] < 0]:
                    members = np.flatnonzero(joint == j)
                    half = grid.half_width_at(float(np.median(plx_centre[members])))
                    cells.append(Cell(float(log_p[j]), int(count[j]), float(expected[j]),
                                       members, half, float(theta)))
    n_trials = max(n_trials, 1)
    cells.sort(key=lambda c: c.log_p)
    points = np.hstack([sky, pm_plx])
    found: list[Detection] = []
    for cell in cells:
        if len(found) >= max_candidates or sigma_from_log_p(cell.log_p) < CANDIDATE_FLOOR:
            break
        if any(_same_peak(_refine(cell, points, n_trials, climb=False), other, keep_sky)
               for other in found):
            continue  # a cell of a peak already found (another scale or shift)
        det = _refine(cell, points, n_trials)
        if not any(_same_peak(det, other, keep_sky) for other in found):
            found.append(det)
    return found, n_trials


def _merged(first: list[Detection], second: list[Detection], n_trials: int,
            max_candidates: int, keep_sky: bool) -> list[Detection]:
    """The detections of two searches of one table (all stars, then the better-measured ones),
    best first, at most ``max_candidates``; every global significance counts both searches'
    trials (``n_trials``). A peak the first search finds at :data:`FIRST_SEARCH_KEEPS` or
    more keeps the first search's description, ranked by the better local significance of the
    two; the second search's other peaks join as they are; the same peak found twice otherwise
    stays once (the more significant)."""
    log_n = float(np.log(max(n_trials, 1)))

    def rescored(found: list[Detection]) -> list[Detection]:
        return [replace(d, significance=float(sigma_from_log_p(min(
            0.0, float(log_ndtr(-d.local_significance)) + log_n))), n_trials=float(n_trials))
            for d in found]
    pool = rescored(first)
    rank = [d.local_significance for d in pool]
    firm = [i for i, d in enumerate(pool) if d.significance >= FIRST_SEARCH_KEEPS]
    for d in rescored(second):
        same = [i for i in firm if _same_peak(d, pool[i])]
        for i in same:
            rank[i] = max(rank[i], d.local_significance)
        if not same:
            pool.append(d)
            rank.append(d.local_significance)
    out: list[Detection] = []
    for i in np.argsort(-np.asarray(rank), kind="stable"):
        d = pool[i]
        if len(out) < max_candidates and not any(_same_peak(d, o, keep_sky) for o in out):
            out.append(d)
    return out


def _refine(cell: Cell, points: np.ndarray, n_trials: int, climb: bool = True) -> Detection:
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

def _resolved(found: list[Detection], min_significance: float) -> list[Detection]:
    """Drop each kinematic-only detection that holds two distinct significant sky-resolved
    ones (kinematic twins side by side); dedupe.

    A kinematic-only detection holding one sky-resolved detection is that cluster, found over
    the whole table as in a single-cluster run, and stays.

    Two sky-resolved detections are kept apart unless they agree within the finer one's cell
    (:func:`_same_peak` with ``keep_sky``): a neighbour a few spreads from a cluster that a
    coarse cell took in with it stays a candidate of its own, and the coarse detection takes
    the neighbour's finer scale (its own was the blend's, not its cluster's).
    """
    out: list[Detection] = []
    for d in found:
        held = [o for o in found if d.sky_centre is None and o.sky_centre is not None
                and o.significance >= min_significance and _same_peak(d, o)]
        if any(not _same_peak(a, b, keep_sky=True) for i, a in enumerate(held)
               for b in held[i + 1:]):
            continue  # kinematic twins side by side on the sky: the sky-resolved ones
        if d.sky_centre is not None:  # a cell that holds a neighbour is wider than its cluster
            inside = [o.scale for o in found if o.sky_centre is not None
                      and o.significance >= min_significance
                      and np.all(o.scale <= d.scale) and np.any(o.scale < d.scale)
                      and _same_peak(d, o) and not _same_peak(d, o, keep_sky=True)]
            if inside:
                d = replace(d, scale=np.max(inside, axis=0))
        if not any(_same_peak(d, o, keep_sky=True) or (
                (d.sky_centre is None) != (o.sky_centre is None) and _same_peak(d, o))
                for o in out):
            out.append(d)
    return out


def find_candidates(pm_plx: np.ndarray, errors: np.ndarray | None = None,
                    sky: np.ndarray | None = None, *, max_stars: int = 40000,
                    min_stars: int = 8, max_candidates: int = MAX_CANDIDATES,
                    resolve_sky: float | None = None,
                    random_state: int | None = 0) -> list[Detection]:
    """The most significant distinct overdensities in a table, best first.

    Parameters
    ----------
    pm_plx : ndarray, shape (n, 3)
        (pmra, pmdec, parallax) of complete stars, mas/yr and mas.
    errors : ndarray, shape (n, 3), optional
        Their standard errors; when given, the ``max_stars`` best-measured stars are searched,
        then again the better-measured of those (:data:`PRECISE_QUANTILE`; the two searches'
        results merged by :func:`_merged`), otherwise a random subsample, once.
    sky : ndarray, shape (n, 2), optional
        Tangent-plane positions (ξ, η) in degrees. Without them nothing can be found (a
        cluster is an overdensity on the sky and in kinematics at once).
    max_stars : int
        Size of the searched subsample (speed on cones of millions of stars).
    min_stars : int
        Fewest stars a peak's box must hold.
    max_candidates : int
        Most candidates returned.
    resolve_sky : float, optional
        Several-cluster runs: a kinematic-only detection that contains sky-resolved ones
        (kinematic twins side by side on the sky, such as NGC 7788 and NGC 7790) is replaced
        by them when they reach this global significance.
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
    keep_sky = resolve_sky is not None
    room = RESOLVE_ROOM * max_candidates if keep_sky else max_candidates
    found, n_trials = detect(pm_plx[pick], None if errors is None else errors[pick], sky[pick],
                             min_stars=min_stars, max_candidates=room, keep_sky=keep_sky)
    e_pm = None if errors is None else np.hypot(errors[pick, 0], errors[pick, 1])
    if e_pm is not None and np.isfinite(e_pm).any():  # the better-measured stars, again
        precise = pick[e_pm <= np.nanquantile(e_pm, PRECISE_QUANTILE)]
        more, extra = detect(pm_plx[precise], errors[precise], sky[precise],
                             min_stars=min_stars, max_candidates=room, keep_sky=keep_sky)
        found = _merged(found, more, n_trials + extra, room, keep_sky)
    if keep_sky:
        found = _resolved(found, resolve_sky)[:max_candidates]
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
