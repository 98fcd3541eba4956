"""ADQL for the TAP fetcher: a Gaia DR3 cone with the source study's quality cuts, and the
Hunt & Reffert (2023) member list of one cluster.

Only strings are built here (no network): every number is validated and written with full
precision, every identifier checked, so that the same request always gives the same text
(the cache key) and no user input can inject ADQL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from vo_ocml.errors import InputError
from vo_ocml.tap.defaults import DEFAULT_GMAX, GAIA_TABLE, HUNT_MEMBERS_TABLE

__all__ = ["BASE_COLUMNS", "ConeQuery", "members_query", "table_identifier"]

#: the columns the membership methods need, with their errors, in output order
BASE_COLUMNS: tuple[str, ...] = (
    "source_id",
    "ra", "ra_error", "dec", "dec_error",
    "parallax", "parallax_error",
    "pmra", "pmra_error", "pmdec", "pmdec_error",
    "ruwe", "phot_g_mean_mag", "bp_rp",
)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DELIMITED = re.compile(r'"[^"]+"')
_TABLE_PART = re.compile(r'[A-Za-z_][A-Za-z0-9_]*|"[^"]+"')


def _identifier(name: str, what: str) -> str:
    """Return a column name usable in ADQL, or raise InputError."""
    name = name.strip()
    if _IDENT.fullmatch(name) or _DELIMITED.fullmatch(name):
        return name
    raise InputError(
        f"Invalid {what} {name!r}: use a plain ADQL column name (letters, digits, '_') "
        'or a double-quoted one ("BP-RP").'
    )


def table_identifier(name: str) -> str:
    """Return a table name as it must appear in ADQL's FROM clause.

    ``schema.table`` names pass through; names that are not regular identifiers (VizieR's
    ``J/A+A/673/A114/members``) are double-quoted.

    Parameters
    ----------
    name : str
        Table name, e.g. "gaiadr3.gaia_source" or "J/A+A/673/A114/members".

    Returns
    -------
    str
        The name for the FROM clause.

    Raises
    ------
    InputError
        When the name is empty or contains a double quote inside a part.
    """
    name = name.strip()
    parts = name.split(".")
    if name and all(_TABLE_PART.fullmatch(p) for p in parts) and len(parts) <= 3:
        return name
    if name and '"' not in name:
        return f'"{name}"'
    raise InputError(f"Invalid TAP table name {name!r}.")


def _number(value: float, what: str, low: float, high: float, *, low_open: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number, not {value!r}.") from None
    ok = math.isfinite(number) and (low < number if low_open else low <= number) and number <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise InputError(f"{what} = {value!r} is outside {bracket}{low:g}, {high:g}].")
    return number


@dataclass(frozen=True)
class ConeQuery:
    """A Gaia cone search with quality cuts.

    The query keeps rows inside the circle that have G ≤ ``gmax``, a positive parallax,
    complete five-parameter astrometry (parallax, pmra, pmdec not null) and a BP−RP colour:
    the source study's defaults.

    Parameters
    ----------
    ra, dec : float
        Cone centre (ICRS, deg).
    radius : float
        Cone radius (deg), in (0, 10].
    gmax : float
        Faint limit in G (mag).
    extra_columns : tuple of str
        Columns to fetch besides :data:`BASE_COLUMNS` (duplicates are ignored).
    table : str
        A ``gaia_source``-like table with the Gaia archive's column names.
    """

    ra: float
    dec: float
    radius: float
    gmax: float = DEFAULT_GMAX
    extra_columns: tuple[str, ...] = ()
    table: str = GAIA_TABLE

    def __post_init__(self) -> None:
        object.__setattr__(self, "ra", _number(self.ra, "ra (deg)", 0.0, 360.0) % 360.0)
        object.__setattr__(self, "dec", _number(self.dec, "dec (deg)", -90.0, 90.0))
        object.__setattr__(self, "radius",
                           _number(self.radius, "radius (deg)", 0.0, 10.0, low_open=True))
        object.__setattr__(self, "gmax", _number(self.gmax, "gmax (mag)", -5.0, 30.0))
        object.__setattr__(self, "extra_columns", _extra(self.extra_columns))
        object.__setattr__(self, "table", table_identifier(self.table))

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column selected, base columns first."""
        return BASE_COLUMNS + self.extra_columns

    def adql(self) -> str:
        """Return the ADQL text of the query.

        Returns
        -------
        str
            ``SELECT … FROM table WHERE 1=CONTAINS(POINT(…), CIRCLE(…)) AND cuts`` on one
            line (it is also written to the output's provenance).
        """
        return (
            f"SELECT {', '.join(self.columns)} "
            f"FROM {self.table} "
            "WHERE 1=CONTAINS(POINT('ICRS', ra, dec), "
            f"CIRCLE('ICRS', {self.ra!r}, {self.dec!r}, {self.radius!r})) "
            f"AND phot_g_mean_mag <= {self.gmax!r} "
            "AND parallax > 0 "
            "AND pmra IS NOT NULL AND pmdec IS NOT NULL "
            "AND bp_rp IS NOT NULL"
        )


def _extra(columns: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for column in columns:
        if not column.strip():
            continue
        name = _identifier(column, "column name")
        if name not in BASE_COLUMNS and name not in out:
            out.append(name)
    return tuple(out)


def members_query(hunt_name: str, table: str = HUNT_MEMBERS_TABLE) -> str:
    """Return the ADQL selecting every Hunt & Reffert (2023) member of one cluster.

    Parameters
    ----------
    hunt_name : str
        The cluster's designation in that catalogue, e.g. "NGC_2682" or "Melotte_22".
    table : str
        The members table (VizieR: ``J/A+A/673/A114/members``, columns ``Name``,
        ``GaiaDR3``, ``Prob``, …).

    Returns
    -------
    str
        ``SELECT * FROM "J/A+A/673/A114/members" WHERE "Name" = '…'``.

    Raises
    ------
    InputError
        When the name is empty.
    """
    name = hunt_name.strip()
    if not name:
        raise InputError("Empty cluster name for the Hunt & Reffert (2023) member query.")
    literal = name.replace("'", "''")
    return f"SELECT * FROM {table_identifier(table)} WHERE \"Name\" = '{literal}'"
