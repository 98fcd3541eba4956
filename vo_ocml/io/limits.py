"""Physically possible values of the quantities vo_ocml uses, and the rows that break them.

A value outside its range cannot be a measurement of a star (a proper motion of 10³⁰⁰ mas/yr,
a negative error, a G magnitude of 500): it is a corrupt file or a wrong column. Such rows are
treated like rows with missing astrometry -- kept in the output, never scored, stage
``incomplete`` -- and counted in the provenance (``ocml_n_implausible``). Non-finite values are
not counted here: they are ordinary missing values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: |proper motion| limit (mas/yr): twice Barnard's star's 10.4 arcsec/yr, the largest known
PM_MAX = 2.0e4
#: |parallax| limit (mas): 10⁴ mas is 0.1 pc, far nearer than Proxima Centauri (768 mas)
PARALLAX_MAX = 1.0e4
#: smallest plausible astrometric error (mas, mas/yr): a thousand times better than Gaia's best
ERROR_MIN = 1.0e-5
#: magnitude range (mag): Sirius is −1.5 and no survey reaches 35; beyond is a corrupt value
MAG_MIN, MAG_MAX = -5.0, 35.0
#: |colour| limit (mag); the reddest Gaia BP−RP are about 8
COLOUR_MAX = 20.0

#: canonical quantity → (lowest, highest) possible value, both inclusive
LIMITS: dict[str, tuple[float, float]] = {
    "ra": (-360.0, 360.0),
    "dec": (-90.0, 90.0),
    "pmra": (-PM_MAX, PM_MAX),
    "pmdec": (-PM_MAX, PM_MAX),
    "parallax": (-PARALLAX_MAX, PARALLAX_MAX),
    "pmra_error": (ERROR_MIN, PM_MAX),
    "pmdec_error": (ERROR_MIN, PM_MAX),
    "parallax_error": (ERROR_MIN, PARALLAX_MAX),
    "phot_g_mean_mag": (MAG_MIN, MAG_MAX),
    "bp_rp": (-COLOUR_MAX, COLOUR_MAX),
}


@dataclass
class Screening:
    """Which rows hold a physically impossible value, and in which quantities.

    Attributes
    ----------
    rows : ndarray of bool
        True for a row with at least one impossible value.
    by_quantity : dict of str to int
        Number of impossible values per canonical quantity (only those with some).
    """

    rows: np.ndarray
    by_quantity: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """Number of rows with an impossible value."""
        return int(np.count_nonzero(self.rows))

    def describe(self) -> str:
        """E.g. ``"pmra: 2, parallax_error: 1"`` (empty when nothing was found)."""
        return ", ".join(f"{q}: {n}" for q, n in self.by_quantity.items())


def screen(arrays: dict[str, np.ndarray], n_rows: int) -> tuple[dict[str, np.ndarray], Screening]:
    """Blank the rows that hold a physically impossible value in any quantity of :data:`LIMITS`.

    Parameters
    ----------
    arrays : dict of str to ndarray
        Canonical quantity → float64 values in canonical units (as from
        :meth:`vo_ocml.io.columns.ColumnMap.arrays`); never modified (they may be views of
        the input table).
    n_rows : int
        Number of rows.

    Returns
    -------
    arrays : dict of str to ndarray
        The same quantities, with every limited quantity set to NaN on the screened rows (new
        arrays where something changed).
    Screening
        The screened rows and the count per quantity.
    """
    rows = np.zeros(n_rows, dtype=bool)
    by_quantity: dict[str, int] = {}
    for quantity, (low, high) in LIMITS.items():
        values = arrays.get(quantity)
        if values is None:
            continue
        with np.errstate(invalid="ignore"):
            bad = np.isfinite(values) & ((values < low) | (values > high))
        if bad.any():
            by_quantity[quantity] = int(np.count_nonzero(bad))
            rows |= bad
    if not rows.any():
        return arrays, Screening(rows)
    cleaned = dict(arrays)
    for quantity in LIMITS:
        if quantity in cleaned:
            cleaned[quantity] = np.where(rows, np.nan, cleaned[quantity])
    return cleaned, Screening(rows, by_quantity)
