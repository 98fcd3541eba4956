"""DEC's feature space: the thesis's ratios (or raw astrometry), robust scaling, quantile filter.

The DEC thesis (shared SCIENCE.md §2) clusters four features chosen by silhouette score:
pmra/parallax, pmdec/parallax, parallax and the proper-motion modulus sqrt(pmra² + pmdec²).
``features="raw"`` uses (pmra, pmdec, parallax) instead; the ``"+sky"`` variants add the sky
offsets (x, y) in degrees from the table's centre, which lets DEC use the cluster's
concentration on the sky (the thesis did not). All are scaled robustly (median and
1.4826 × median absolute deviation) and compressed beyond ±:data:`COMPRESS` scale units with
``asinh``, so that the long tails of the ratios (small parallaxes) cannot dominate the
autoencoder's loss while the cluster's core keeps its linear geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vo_ocml.errors import InputError

#: feature sets, name → feature names (in column order)
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "ratios": ("pmra/parallax", "pmdec/parallax", "parallax", "pm"),
    "raw": ("pmra", "pmdec", "parallax"),
    "ratios+sky": ("pmra/parallax", "pmdec/parallax", "parallax", "pm", "x", "y"),
    "raw+sky": ("pmra", "pmdec", "parallax", "x", "y"),
}
#: scaled values beyond ± this many robust standard deviations are compressed with asinh
COMPRESS = 4.0


def usable_mask(X: np.ndarray) -> np.ndarray:
    """Rows DEC can score: every feature finite and parallax > 0.

    Parameters
    ----------
    X : ndarray, shape (n, 5)
        Columns ra, dec, pmra, pmdec, parallax.

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    finite = np.all(np.isfinite(X), axis=1)
    with np.errstate(invalid="ignore"):
        return finite & (X[:, 4] > 0)


def sky_centre(X: np.ndarray) -> tuple[float, float]:
    """The table's sky centre (deg): circular mean of ra, median of dec."""
    ra = np.radians(X[:, 0])
    return float(np.degrees(np.arctan2(np.sin(ra).mean(), np.cos(ra).mean())) % 360.0), float(np.median(X[:, 1]))


def raw_features(X: np.ndarray, features: str, centre: tuple[float, float]) -> np.ndarray:
    """The unscaled DEC features of complete rows.

    Parameters
    ----------
    X : ndarray, shape (m, 5)
        Complete rows (ra, dec, pmra, pmdec, parallax), parallax > 0.
    features : str
        Which feature set (a key of :data:`FEATURE_SETS`).
    centre : (float, float)
        Sky centre (ra, dec) in degrees for the ``+sky`` offsets (see :func:`sky_centre`).

    Returns
    -------
    ndarray, shape (m, len(FEATURE_SETS[features]))
    """
    pmra, pmdec, plx = X[:, 2], X[:, 3], X[:, 4]
    if features.startswith("ratios"):
        columns = [pmra / plx, pmdec / plx, plx, np.hypot(pmra, pmdec)]
    else:
        columns = [pmra, pmdec, plx]
    if features.endswith("+sky"):
        dra = (X[:, 0] - centre[0] + 180.0) % 360.0 - 180.0
        columns += [dra * np.cos(np.radians(centre[1])), X[:, 1] - centre[1]]
    return np.column_stack(columns)


@dataclass(frozen=True)
class RobustScaler:
    """Median / robust-deviation scaling with asinh compression of the tails.

    Attributes
    ----------
    centre, spread : ndarray, shape (d,)
        Per-feature median and robust standard deviation (1.4826 × MAD, or the standard
        deviation where the MAD is zero).
    """

    centre: np.ndarray
    spread: np.ndarray

    @classmethod
    def fit(cls, F: np.ndarray, names: tuple[str, ...]) -> "RobustScaler":
        """Learn the scaling of the raw features ``F`` (shape (m, d)).

        Raises
        ------
        InputError
            When a feature has no spread at all (every star has the same value).
        """
        centre = np.median(F, axis=0)
        spread = 1.4826 * np.median(np.abs(F - centre), axis=0)
        spread = np.where(spread > 0, spread, F.std(axis=0))
        flat = [name for name, s in zip(names, spread) if not s > 0]
        if flat:
            raise InputError(
                f"DEC cannot cluster: the feature(s) {', '.join(flat)} have the same value for "
                "every star with complete astrometry (check the pmra, pmdec and parallax "
                "columns); DEC needs stars that differ in proper motion and parallax."
            )
        return cls(centre=centre, spread=spread)

    def transform(self, F: np.ndarray) -> np.ndarray:
        """Scale and compress ``F``; returns float32 of the same shape."""
        Z = (F - self.centre) / self.spread
        return (COMPRESS * np.arcsinh(Z / COMPRESS)).astype(np.float32)


def quantile_bounds(F: np.ndarray, members: np.ndarray, quantiles: tuple[float, float]) -> np.ndarray | None:
    """The members' quantile range of every feature (the thesis's quantile filter).

    Parameters
    ----------
    F : ndarray, shape (m, d)
        Raw features of all complete rows.
    members : ndarray of bool, shape (m,)
        The cluster group's members, whose quantiles define the bounds.
    quantiles : (float, float)
        Lower and upper quantile, e.g. (0.10, 0.90).

    Returns
    -------
    ndarray, shape (2, d), or None
        Rows: lower and upper bound per feature; None when there are no members.
    """
    if not members.any():
        return None
    return np.quantile(F[members], quantiles, axis=0)


def inside(F: np.ndarray, bounds: np.ndarray | None) -> np.ndarray:
    """Rows of ``F`` within ``bounds`` (from :func:`quantile_bounds`) in every feature."""
    if bounds is None:
        return np.zeros(len(F), dtype=bool)
    return np.all((F >= bounds[0]) & (F <= bounds[1]), axis=1)
