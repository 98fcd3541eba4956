"""The field's surface density over the table's footprint, from the table's own stars.

The mixture's field was uniform over the footprint. Real tables are not: crowding takes faint
stars out of a rich cluster's core, dust is patchy, and a table may come from a selection that
thins towards its edge (the NGC 2477 cone of ../shared holds 140,000 stars/deg² within 0.05° of
its centre and 3,800 at 0.2–0.3°). A cluster component would then take the field's own
excess. The field's stars have sky and kinematic distributions that are nearly independent
(the assumption the blind detection rests on, :mod:`~vo_ocml.membership.detection`), so the
stars *outside* the cluster's kinematic filter -- none of them members -- trace where the
field's stars inside it lie. Their density, smoothed, is the field's sky term.

The estimate is a histogram on a grid over the footprint's bounding box, smoothed with a
Gaussian kernel by normalised convolution (divided by the smoothed fraction of each cell inside
the footprint, so the edge is not biased low), floored at :data:`FLOOR` of the mean density
(no star is declared impossible for the field) and normalised to one over the footprint. The kernel holds about
:data:`KERNEL_STARS` of those stars (its shot noise ~5 %), within
:data:`BANDWIDTH_FRACTION` of the footprint's size: wide enough to wash out any other
cluster's trace, narrow enough to follow a selection's or the dust's gradient. With fewer than
:data:`MIN_STARS` such stars (tables pre-cut to the cluster's box) the field stays uniform.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates

#: cells per side of the density grid, and points per cell side measuring its coverage
GRID_CELLS, SUBCELLS = 64, 4
#: stars (outside the filter) that a kernel aims to hold: a shot noise of 1/√400 = 5 %
KERNEL_STARS = 400
#: the kernel's σ, as fractions of the footprint's size (radius of a disc of its area)
BANDWIDTH_FRACTION = (0.1, 0.5)
#: fewest stars outside the filter for a density estimate; below, the field is uniform
MIN_STARS = 500
#: most of those stars used (an even sample beyond): the kernel's floor of 0.1 of the size
#: then still holds ~4,000 of them
MAX_STARS = 200_000
#: lowest field density allowed, as a fraction of the footprint's mean
FLOOR = 0.1
#: smallest smoothed coverage of a cell for the density to be extrapolated there (a cell about
#: 3 kernel σ beyond a straight edge of the footprint)
MIN_KERNEL_WEIGHT = 1e-3


class FieldDensity:
    """The field's smoothed surface density (normalised to one over the footprint).

    Parameters
    ----------
    footprint : Footprint
        The table's footprint (:class:`~vo_ocml.membership.sky_prior.Footprint`).
    sky : ndarray, shape (n, 2)
        Tangent-plane positions (deg) of stars that trace the field (those outside the
        cluster's kinematic filter); at least :data:`MIN_STARS` (at most :data:`MAX_STARS`
        are used).
    """

    def __init__(self, footprint, sky: np.ndarray) -> None:
        sky = np.asarray(sky, float)
        if len(sky) > MAX_STARS:
            sky = sky[:: int(np.ceil(len(sky) / MAX_STARS))]
        lo, hi = footprint.vertices.min(axis=0), footprint.vertices.max(axis=0)
        self.lo = lo
        self.cell = float(np.max(hi - lo)) / GRID_CELLS
        self.bandwidth = footprint.size * float(np.clip(
            np.sqrt(KERNEL_STARS / (2.0 * len(sky))), *BANDWIDTH_FRACTION))
        edges = [lo[k] + self.cell * np.arange(GRID_CELLS + 1) for k in range(2)]
        counts = np.histogram2d(sky[:, 0], sky[:, 1], bins=edges)[0]
        cover = self._coverage(footprint, lo)
        sigma = self.bandwidth / self.cell
        weight = gaussian_filter(cover, sigma, mode="constant")
        smoothed = gaussian_filter(counts, sigma, mode="constant")
        # cells the kernel barely reaches from the footprint (a bounding box's far corners) get
        # no extrapolation: a ratio of two vanishing numbers there overflowed
        reached = weight > MIN_KERNEL_WEIGHT
        density = np.divide(smoothed, weight, out=np.zeros_like(smoothed), where=reached)
        # cells just outside the footprint keep the convolution's extrapolation, so that a star
        # near the edge is not interpolated towards an empty cell
        mean = counts.sum() / np.sum(cover)  # stars per cell of the footprint
        density = np.maximum(density, FLOOR * mean)
        # normalised over the footprint: Σ density × covered area = 1
        total = np.sum(density * cover) * self.cell**2
        self.log_grid = np.log(density / total)

    def _coverage(self, footprint, lo: np.ndarray) -> np.ndarray:
        """Fraction of each grid cell inside the footprint (:data:`SUBCELLS`² points a cell)."""
        sub = (np.arange(GRID_CELLS * SUBCELLS) + 0.5) * self.cell / SUBCELLS
        points = np.stack(np.meshgrid(lo[0] + sub, lo[1] + sub, indexing="ij"), axis=-1)
        inside = footprint.contains(points.reshape(-1, 2)).reshape(
            GRID_CELLS, SUBCELLS, GRID_CELLS, SUBCELLS)
        return inside.mean(axis=(1, 3))

    def log_density(self, points: np.ndarray) -> np.ndarray:
        """log of the field's surface density (per deg²) at tangent-plane ``points`` (m, 2)."""
        index = (np.asarray(points, float) - self.lo) / self.cell - 0.5
        return map_coordinates(self.log_grid, index.T, order=1, mode="nearest")
