"""DEC's feature spaces, robust scaling, and the thesis's quantile filter.

``features="sky"`` (default): tangent-plane (ξ, η) beside the offsets from the cluster in pmra,
pmdec, parallax in units of each star's expected scatter (:mod:`~vo_ocml.membership.dec_sky`). The DEC thesis
(shared SCIENCE.md §2, ``features="thesis"``) clusters four features chosen by silhouette score:
pmra/parallax, pmdec/parallax, parallax and the proper-motion modulus sqrt(pmra² + pmdec²);
``features="raw"`` uses (pmra, pmdec, parallax) instead. All are scaled robustly (median and
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
    "sky": ("xi", "eta", "z_pmra", "z_pmdec", "z_parallax"),
    "thesis": ("pmra/parallax", "pmdec/parallax", "parallax", "pm"),
    "raw": ("pmra", "pmdec", "parallax"),
}
#: scaled values beyond ± this many robust standard deviations are compressed with asinh
COMPRESS = 20.0


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


def raw_features(X: np.ndarray, features: str) -> np.ndarray:
    """The unscaled thesis-style DEC features of complete rows (``"sky"``: see :mod:`~vo_ocml.membership.dec_sky`).

    Parameters
    ----------
    X : ndarray, shape (m, 5)
        Complete rows (ra, dec, pmra, pmdec, parallax), parallax > 0.
    features : {"thesis", "raw"}
        Which feature set (see :data:`FEATURE_SETS`).

    Returns
    -------
    ndarray, shape (m, 4) or (m, 3)
    """
    pmra, pmdec, plx = X[:, 2], X[:, 3], X[:, 4]
    if features == "thesis":
        return np.column_stack([pmra / plx, pmdec / plx, plx, np.hypot(pmra, pmdec)])
    return np.column_stack([pmra, pmdec, plx])


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
        flat = [name for name, s, c in zip(names, spread, centre) if not s > 1e-9 * (1.0 + abs(c))]
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
