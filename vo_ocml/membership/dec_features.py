"""DEC's feature space: the thesis's ratios (or raw astrometry), robust scaling, quantile filter.

The DEC thesis (shared SCIENCE.md §2) clusters four features chosen by silhouette score:
pmra/parallax, pmdec/parallax, parallax and the proper-motion modulus sqrt(pmra² + pmdec²).
``features="raw"`` uses (pmra, pmdec, parallax) instead. Both are scaled robustly (median and
1.4826 × median absolute deviation) and compressed beyond ±:data:`COMPRESS` scale units with
``asinh``, so that the long tails of the ratios (small parallaxes) cannot dominate the
autoencoder's loss while the cluster's core keeps its linear geometry.
"""

from __future__ import annotations

import numpy as np

from vo_ocml.errors import InputError

#: feature sets, name → feature names (in column order)
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "ratios": ("pmra/parallax", "pmdec/parallax", "parallax", "pm"),
    "raw": ("pmra", "pmdec", "parallax"),
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


def raw_features(X: np.ndarray, features: str) -> np.ndarray:
    """The unscaled DEC features of complete rows.

    Parameters
    ----------
    X : ndarray, shape (m, 5)
        Complete rows (ra, dec, pmra, pmdec, parallax), parallax > 0.
    features : {"ratios", "raw"}
        Which feature set (see :data:`FEATURE_SETS`).

    Returns
    -------
    ndarray, shape (m, 4) or (m, 3)
    """
    pmra, pmdec, plx = X[:, 2], X[:, 3], X[:, 4]
    if features == "ratios":
        return np.column_stack([pmra / plx, pmdec / plx, plx, np.hypot(pmra, pmdec)])
    return np.column_stack([pmra, pmdec, plx])


def robust_scale(F: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Centre on the median, divide by the robust standard deviation, compress the tails.

    Parameters
    ----------
    F : ndarray, shape (m, d)
        Raw features.
    names : tuple of str
        Feature names, for the error message.

    Returns
    -------
    ndarray of float32, shape (m, d)

    Raises
    ------
    InputError
        When a feature has no spread at all (every star has the same value).
    """
    centre = np.median(F, axis=0)
    spread = 1.4826 * np.median(np.abs(F - centre), axis=0)
    fallback = F.std(axis=0)
    spread = np.where(spread > 0, spread, fallback)
    flat = [name for name, s in zip(names, spread) if not s > 0]
    if flat:
        raise InputError(
            f"DEC cannot cluster: the feature(s) {', '.join(flat)} have the same value for every "
            "star with complete astrometry (check the pmra, pmdec and parallax columns); DEC "
            "needs stars that differ in proper motion and parallax."
        )
    Z = (F - centre) / spread
    Z = COMPRESS * np.arcsinh(Z / COMPRESS)
    return Z.astype(np.float32)


def quantile_inside(F: np.ndarray, members: np.ndarray, quantiles: tuple[float, float]) -> np.ndarray:
    """The thesis's quantile filter: rows inside the members' quantile range of every feature.

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
    ndarray of bool, shape (m,)
        True where every feature lies within [q_low, q_high] of the members.
    """
    if not members.any():
        return np.zeros(len(F), dtype=bool)
    low, high = np.quantile(F[members], quantiles, axis=0)
    return np.all((F >= low) & (F <= high), axis=1)
