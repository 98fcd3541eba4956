"""Find the quantities vo_ocml needs in any table, and bring them to canonical units.

A quantity is found, in this order, by an explicit user override, by its Gaia archive name,
by a common VizieR name (exact case first, then case-insensitively), or by its UCD. Units
from the table's metadata are honoured: a parallax in arcsec or a proper motion in deg/yr is
converted, never misread; a column with no unit is taken to be in the canonical unit.
Canonical units: degrees (ra, dec), mas (parallax and its error), mas/yr (proper motions and
their errors), mas (ra_error, dec_error, as in the Gaia archive), mag.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.table import Table

from vo_ocml.errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Quantity:
    """How one canonical quantity can be recognised in a table."""

    names: tuple[str, ...]
    ucds: tuple[str, ...]
    unit: u.UnitBase | None


_MASYR = u.mas / u.yr
#: every quantity vo_ocml can use, by canonical name
QUANTITIES: dict[str, Quantity] = {
    "ra": Quantity(("ra", "RA_ICRS", "RAJ2000", "_RAJ2000", "RAdeg", "RA_ICRS_deg"),
                   ("pos.eq.ra;meta.main", "pos.eq.ra"), u.deg),
    "dec": Quantity(("dec", "DE_ICRS", "DEJ2000", "_DEJ2000", "DEdeg", "DE_ICRS_deg"),
                    ("pos.eq.dec;meta.main", "pos.eq.dec"), u.deg),
    "pmra": Quantity(("pmra", "pmRA", "pmRA*", "pmRAcosDE"), ("pos.pm;pos.eq.ra",), _MASYR),
    "pmdec": Quantity(("pmdec", "pmDE"), ("pos.pm;pos.eq.dec",), _MASYR),
    "parallax": Quantity(("parallax", "Plx", "plx"),
                         ("pos.parallax.trig", "pos.parallax"), u.mas),
    "ra_error": Quantity(("ra_error", "e_RA_ICRS", "e_RAdeg"),
                         ("stat.error;pos.eq.ra",), u.mas),
    "dec_error": Quantity(("dec_error", "e_DE_ICRS", "e_DEdeg"),
                          ("stat.error;pos.eq.dec",), u.mas),
    "pmra_error": Quantity(("pmra_error", "e_pmRA", "e_pmRA*"),
                           ("stat.error;pos.pm;pos.eq.ra",), _MASYR),
    "pmdec_error": Quantity(("pmdec_error", "e_pmDE"), ("stat.error;pos.pm;pos.eq.dec",), _MASYR),
    "parallax_error": Quantity(("parallax_error", "e_Plx", "e_plx", "plx_error"),
                               ("stat.error;pos.parallax.trig", "stat.error;pos.parallax"), u.mas),
    "phot_g_mean_mag": Quantity(("phot_g_mean_mag", "Gmag", "gmag", "G"),
                                ("phot.mag;em.opt", "phot.mag;stat.mean;em.opt"), u.mag),
    "phot_bp_mean_mag": Quantity(("phot_bp_mean_mag", "BPmag"), ("phot.mag;em.opt.B",), u.mag),
    "phot_rp_mean_mag": Quantity(("phot_rp_mean_mag", "RPmag"), ("phot.mag;em.opt.R",), u.mag),
    "bp_rp": Quantity(("bp_rp", "BP-RP", "BPRP", "bp-rp", "BP_RP"),
                      ("phot.color;em.opt.B;em.opt.R",), u.mag),
    "source_id": Quantity(("source_id", "Source", "GaiaDR3", "DR3Name", "SOURCE_ID"),
                          ("meta.id;meta.main",), None),
    "ruwe": Quantity(("ruwe", "RUWE"), (), None),
    "pmra_pmdec_corr": Quantity(("pmra_pmdec_corr", "pmRApmDEcor"),
                                ("stat.correlation;pos.pm;pos.eq.ra;pos.pm;pos.eq.dec",), None),
    "parallax_pmra_corr": Quantity(("parallax_pmra_corr", "PlxpmRAcor"),
                                   ("stat.correlation;pos.parallax.trig;pos.pm;pos.eq.ra",), None),
    "parallax_pmdec_corr": Quantity(("parallax_pmdec_corr", "PlxpmDEcor"),
                                    ("stat.correlation;pos.parallax.trig;pos.pm;pos.eq.dec",), None),
}

#: Gaia's correlation coefficients of (pmra, pmdec), (parallax, pmra), (parallax, pmdec)
CORRELATIONS = ("pmra_pmdec_corr", "parallax_pmra_corr", "parallax_pmdec_corr")

#: what every membership method needs
REQUIRED = ("ra", "dec", "pmra", "pmdec", "parallax")


def _ucd(column) -> str:
    return str(column.meta.get("ucd", "") or "").strip().lower()


def _find(table: Table, quantity: Quantity) -> tuple[str, str] | None:
    names = table.colnames
    for candidate in quantity.names:
        if candidate in names:
            return candidate, "name"
    lower = {n.lower(): n for n in names}
    for candidate in quantity.names:
        if candidate.lower() in lower:
            return lower[candidate.lower()], "name"
    for ucd in quantity.ucds:
        hits = [n for n in names if _ucd(table[n]) == ucd.lower()]
        if len(hits) >= 1:
            return hits[0], "ucd"
    return None


@dataclass
class ColumnMap:
    """Where each canonical quantity lives in a table.

    Attributes
    ----------
    columns : dict of str to str
        Canonical name → the table's column name.
    how : dict of str to str
        Canonical name → ``"user"``, ``"name"`` or ``"ucd"``.
    """

    columns: dict[str, str] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)

    def has(self, quantity: str) -> bool:
        """Whether ``quantity`` is available (``bp_rp`` may be derived from BP and RP)."""
        return quantity in self.columns or (
            quantity == "bp_rp" and {"phot_bp_mean_mag", "phot_rp_mean_mag"} <= self.columns.keys())

    def array(self, table: Table, quantity: str) -> np.ndarray:
        """One quantity as a float64 array in canonical units (masked/invalid → NaN).

        ``source_id`` is returned as int64 (masked → -1). ``bp_rp`` is computed from the BP and
        RP magnitudes when the table has no colour column but has both magnitudes.

        Raises
        ------
        KeyError
            When the quantity is not available.
        """
        if quantity not in self.columns:
            if not self.has(quantity):
                raise KeyError(quantity)
            return self.array(table, "phot_bp_mean_mag") - self.array(table, "phot_rp_mean_mag")
        name = self.columns[quantity]
        column = table[name]
        if quantity == "source_id":
            return _as_ids(column, name)
        return _as_float(column, name, QUANTITIES[quantity].unit)

    def arrays(self, table: Table, quantities=None) -> dict[str, np.ndarray]:
        """Several quantities (default: every available one) as canonical arrays."""
        wanted = list(quantities) if quantities is not None else [*self.columns, "bp_rp"]
        return {q: self.array(table, q) for q in dict.fromkeys(wanted) if self.has(q)}

    def describe(self) -> str:
        """A one-line description such as ``ra=RA_ICRS (name), parallax=Plx (ucd)``."""
        return ", ".join(f"{q}={c} ({self.how[q]})" for q, c in self.columns.items())


#: numpy dtype kind → what a column of that kind holds, in plain words
_KIND_WORDS = {"U": "text", "S": "text", "O": "mixed or variable-length values",
               "b": "true/false values", "M": "dates", "m": "time spans",
               "c": "complex numbers", "V": "structured values"}


def describe_values(column) -> str:
    """What a column holds, in plain words (e.g. ``"text"``), for error messages."""
    return _KIND_WORDS.get(column.dtype.kind, f"{column.dtype} values")


def _example(column) -> str:
    value = column[0] if len(column) else ""
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return repr(text if len(text) <= 30 else text[:27] + "...")


def _as_float(column, name: str, unit: u.UnitBase | None) -> np.ndarray:
    if column.dtype.kind not in "iuf":
        raise InputError(
            f"Column {name!r} holds {describe_values(column)}, not numbers (e.g. "
            f"{_example(column)}). Point vo_ocml at the right column with an override "
            "({@columns})."
        )
    if column.ndim != 1:
        raise InputError(f"Column {name!r} holds arrays of shape {column.shape[1:]}; one number "
                         "per row is expected.")
    data = column.filled(np.nan) if hasattr(column, "filled") and column.dtype.kind == "f" else column
    if hasattr(data, "mask") and np.any(data.mask):
        values = np.asarray(data.astype(float).filled(np.nan), dtype=np.float64)
    else:
        values = np.asarray(data, dtype=np.float64)
    factor = _unit_factor(column.unit, unit, name)
    if factor == 1.0:
        return values
    with np.errstate(over="ignore"):  # a corrupt 1e308 becomes inf: a missing value
        return values * factor


def _unit_factor(have, want: u.UnitBase | None, name: str) -> float:
    if want is None or have is None or str(have).strip() in ("", "-"):
        return 1.0
    if isinstance(have, u.UnrecognizedUnit):
        log.warning("column %s has an unrecognised unit %r; assuming %s", name, str(have), want)
        return 1.0
    try:
        return float(u.Unit(have).to(want))
    except u.UnitConversionError:
        raise InputError(
            f"Column {name!r} is in {have}, which cannot be converted to {want} "
            f"(the unit vo_ocml expects there). Fix the column's unit or choose another column."
        ) from None


#: a Gaia source_id fits in a signed 64-bit integer
_ID_MAX = np.iinfo(np.int64).max


def _as_ids(column, name: str) -> np.ndarray:
    """Source ids as int64; missing or out-of-range ids become -1."""
    if column.dtype.kind in "iu":
        data = column.filled(-1) if hasattr(column, "filled") else column
        values = np.asarray(data)
        if values.dtype.kind == "u":
            values = np.where(values > _ID_MAX, -1, np.minimum(values, _ID_MAX)).astype(np.int64)
        return np.asarray(values, dtype=np.int64)
    if column.dtype.kind == "f":
        data = column.filled(np.nan) if hasattr(column, "filled") else column
        values = np.asarray(data, dtype=np.float64)
        usable = np.isfinite(values) & (np.abs(values) < float(_ID_MAX))
        return np.where(usable, values, -1).astype(np.int64)
    ids = np.full(len(column), -1, dtype=np.int64)
    for i, value in enumerate(column):  # ids as text, e.g. "Gaia DR3 123456"
        text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        words = text.split()
        if not words or text == "--":
            continue
        try:
            number = int(words[-1])
        except ValueError:
            raise InputError(f"Column {name!r} should hold Gaia source_id numbers; it holds "
                             f"{describe_values(column)} such as {_example(column)}.") from None
        if abs(number) <= _ID_MAX:
            ids[i] = number
    return ids


def resolve_columns(table: Table, overrides: Mapping[str, str] | None = None,
                    required=REQUIRED) -> ColumnMap:
    """Locate the canonical quantities in ``table``.

    Parameters
    ----------
    table : astropy.table.Table
        Any table (VOTable, FITS, CSV …).
    overrides : mapping of str to str, optional
        Canonical name → column name chosen by the user; always wins.
    required : sequence of str
        Quantities that must be found.

    Returns
    -------
    ColumnMap

    Raises
    ------
    InputError
        An override names an unknown quantity or a column the table lacks, or a required
        quantity is missing (the message lists the names and UCDs accepted).
    """
    overrides = dict(overrides or {})
    result = ColumnMap()
    for quantity, column in overrides.items():
        if quantity not in QUANTITIES:
            raise InputError(f"Unknown quantity {quantity!r} in a column override; known: "
                             f"{', '.join(QUANTITIES)}.")
        if column not in table.colnames:
            raise InputError(f"The column override {quantity}={column!r} names a column the "
                             f"table does not have. Its columns: {', '.join(table.colnames)}.")
        result.columns[quantity], result.how[quantity] = column, "user"
    taken = set(result.columns.values())
    for quantity, spec in QUANTITIES.items():
        if quantity in result.columns:
            continue
        found = _find(table, spec)
        if found and found[0] not in taken:
            result.columns[quantity], result.how[quantity] = found
            taken.add(found[0])
    missing = [q for q in required if q not in result.columns]
    if missing:
        lines = "; ".join(
            f"{q}: names {', '.join(QUANTITIES[q].names)} or UCD {' / '.join(QUANTITIES[q].ucds)}"
            for q in missing)
        raise InputError(
            f"The table lacks the column(s) {', '.join(missing)} needed for membership. "
            f"Accepted: {lines}. Its columns are: {', '.join(table.colnames) or '(none)'}. "
            "Name a column explicitly ({@columns})."
        )
    return result
