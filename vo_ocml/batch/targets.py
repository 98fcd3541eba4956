"""Which clusters a batch runs on: names, the shipped catalogue filtered, or a file of positions.

Each :class:`Target` knows its cone (centre and radius, as ``vo-ocml fetch`` computes it:
5 × r50 clipped to 0.1–1.5°), what to pass to :func:`vo_ocml.run` (a catalogue name, so the
catalogue's centroid seeds the run exactly as ``vo-ocml run --cluster NAME`` does, or an explicit
centroid from the file, or nothing: found in the data), and the catalogue's own values that the
batch's results are compared with.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from vo_ocml.catalog import ClusterEntry, lookup_cluster
from vo_ocml.errors import InputError, NotFoundError
from vo_ocml.membership.sky import angular_distance
from vo_ocml.tap.resolve import R50_FACTOR, RADIUS_MAX, RADIUS_MIN, default_radius

log = logging.getLogger(__name__)

__all__ = ["Target", "catalogue_columns", "from_catalogue", "from_file", "from_names", "slug"]

#: catalogue values copied into ``Target.reference`` for the comparison
REFERENCE_FIELDS = ("pmra", "pmdec", "parallax", "s_pmra", "s_pmdec", "s_parallax", "n_members",
                    "r50", "ra", "dec")
#: extra names a ``--where`` filter may use for catalogue columns
ALIASES = {"N": "n_members", "plx": "parallax"}
#: ``Target.radius_source`` of a radius from the catalogue (``{}``: the catalogue's name)
CATALOGUE_RADIUS = f"{R50_FACTOR:g} × r50 clipped to {RADIUS_MIN:g}–{RADIUS_MAX:g} deg ({{}})"


@dataclass(frozen=True)
class Target:
    """One cluster to run on.

    Attributes
    ----------
    name : str
        Name used in the outputs (unique within a batch).
    ra, dec, radius : float
        Cone centre (ICRS) and radius, degrees.
    radius_source : str
        Where the radius came from, e.g.
        ``"5 × r50 clipped to 0.1–1.5 deg (Hunt & Reffert 2023)"``.
    cluster : str or None
        Catalogue name given to :func:`vo_ocml.run` (its centroid seeds the run).
    centroid : (pmra, pmdec, parallax) or None
        Explicit centroid (mas/yr, mas/yr, mas), wins over ``cluster``; the run is then named
        at the cone's centre (``ra``, ``dec``) as the cluster's position.
    reference : dict
        The catalogue's values (``pmra``, ``pmdec``, ``parallax``, their intrinsic spreads
        ``s_*``, ``n_members``, ``r50``, ``catalogue``); empty when not catalogued.
    """

    name: str
    ra: float
    dec: float
    radius: float
    radius_source: str
    cluster: str | None = None
    centroid: tuple[float, float, float] | None = None
    reference: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def slug(self) -> str:
        """File-system-safe form of the name (the per-cluster result files' stem)."""
        return slug(self.name)


def slug(name: str) -> str:
    """File-system-safe form of a cluster name: runs of other characters become ``_``."""
    return re.sub(r"[^A-Za-z0-9+.\-]+", "_", name.strip()).strip("_") or "unnamed"


def _reference(entry: ClusterEntry) -> dict:
    ref = {k: float(getattr(entry, k)) for k in REFERENCE_FIELDS}
    ref["catalogue"] = entry.catalogue
    return ref


def _from_entry(entry: ClusterEntry, radius: float | None) -> Target:
    if radius is None:
        radius = default_radius(entry)
        if radius is None:
            raise InputError(f"{entry.name} has neither r50 nor a tidal radius in the catalogue; "
                             "give the cone radius ({@radius}).")
        source = CATALOGUE_RADIUS.format(entry.source_of("r50"))
    else:
        source = "given"
    if not (math.isfinite(entry.ra) and math.isfinite(entry.dec)):
        raise InputError(f"{entry.name} has no position in the catalogue.")
    return Target(entry.name, float(entry.ra), float(entry.dec), float(radius), source,
                  cluster=entry.name, reference=_reference(entry))


def from_names(names: Iterable[str], radius: float | None = None) -> list[Target]:
    """Targets for cluster names, looked up (loosely) in the shipped catalogue.

    Raises
    ------
    NotFoundError
        A name the catalogue does not know (with suggestions).
    """
    entries = {}
    for n in names:
        entry = lookup_cluster(n)
        entries.setdefault(entry.name, entry)
    return [_from_entry(e, radius) for e in entries.values()]


def _catalogue_rows() -> list[dict[str, str]]:
    path = resources.files("vo_ocml.catalog") / "data" / "clusters.csv"
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def catalogue_columns(rows: Sequence[dict[str, str]]) -> dict[str, np.ndarray]:
    """The columns a ``--where`` filter sees: every numeric catalogue column, the aliases in
    :data:`ALIASES`, Galactic ``l`` and ``b`` (deg), ``hunt`` (in Hunt & Reffert 2023) and the
    ``catalogue`` and ``name`` strings."""
    from astropy.coordinates import SkyCoord
    import astropy.units as u

    numeric = ("ra", "dec", "r50", "rt", "pmra", "pmdec", "parallax", "s_pmra", "s_pmdec",
               "s_parallax", "n_members")
    cols = {k: np.array([float(r[k]) if r[k] else np.nan for r in rows]) for k in numeric}
    for alias, name in ALIASES.items():
        cols[alias] = cols[name]
    gal = SkyCoord(cols["ra"] * u.deg, cols["dec"] * u.deg).galactic
    cols["l"], cols["b"] = gal.l.deg, gal.b.deg
    cols["hunt"] = np.array([bool(r["hunt_name"]) for r in rows])
    cols["catalogue"] = np.array([r["catalogue"] for r in rows])
    cols["name"] = np.array([r["name"] for r in rows])
    return cols


def from_catalogue(where: str | None = None, region: tuple[float, float, float] | None = None,
                   radius: float | None = None) -> list[Target]:
    """Targets for the shipped catalogue's clusters that pass a filter and lie in a region.

    Parameters
    ----------
    where : str, optional
        A filter over the catalogue's columns (:func:`catalogue_columns`), e.g. ``"N > 50"`` or
        ``"hunt and abs(b) < 5 and parallax > 1"``; evaluated safely
        (:func:`vo_ocml.batch.where.evaluate_where`).
    region : (ra, dec, radius), optional
        Keep clusters whose centre lies within ``radius`` degrees of (ra, dec) (ICRS).
    radius : float, optional
        Cone radius for every cluster (deg); default the catalogue's 5 × r50 within 0.1–1.5°.

    Returns
    -------
    list of Target
    """
    from vo_ocml.batch.where import evaluate_where

    rows = _catalogue_rows()
    cols = catalogue_columns(rows)
    keep = np.ones(len(rows), bool)
    if where:
        keep &= evaluate_where(where, cols)
    if region is not None:
        ra0, dec0, r = region
        if not (0 < r <= 180 and -90 <= dec0 <= 90):
            raise InputError(f"{{@region}} needs RA, DEC, RADIUS in degrees (0 < RADIUS ≤ 180, "
                             f"-90 ≤ DEC ≤ 90); got {region}.")
        keep &= angular_distance(cols["ra"], cols["dec"], ra0, dec0) <= r
    keep &= np.isfinite(cols["ra"]) & np.isfinite(cols["dec"])
    targets, seen, no_radius = [], set(), 0
    for i in np.flatnonzero(keep):
        name = rows[i]["name"]
        if name in seen:
            continue
        seen.add(name)
        entry = lookup_cluster(name)
        if radius is None and default_radius(entry) is None:
            no_radius += 1
            continue
        targets.append(_from_entry(entry, radius))
    if no_radius:
        log.warning("%d selected clusters have no r50 or tidal radius in the catalogue and were "
                    "left out (a cone radius given for every cluster includes them)", no_radius)
    return targets


def _column(table, *names):
    lowered = {c.lower(): c for c in table.colnames}
    for n in names:
        if n.lower() in lowered:
            return lowered[n.lower()]
    return None


def _value(table, col, i) -> float:
    if col is None:
        return math.nan
    v = table[col][i]
    return math.nan if np.ma.is_masked(v) else float(v)


def from_file(path: str | Path, radius: float | None = None) -> list[Target]:
    """Targets from a table of positions (VOTable, FITS, CSV, ECSV).

    Columns (case-insensitive): ``name`` (or ``cluster``); ``ra`` and ``dec`` in degrees
    (optional when the name is catalogued); ``radius`` in degrees (optional: ``radius``
    argument, else the catalogue's); ``pmra``, ``pmdec``, ``parallax`` (optional: an explicit
    centroid). Rows without a name are named ``ra±dec``.

    Raises
    ------
    InputError
        Unreadable file, missing positions or radius, duplicate names.
    """
    from vo_ocml.io.tables import read_table

    table = read_table(path)
    c_name = _column(table, "name", "cluster")
    c_ra, c_dec = _column(table, "ra", "ra_icrs"), _column(table, "dec", "de_icrs")
    c_r = _column(table, "radius")
    c_pm = [_column(table, k) for k in ("pmra", "pmdec", "parallax")]
    targets = []
    for i in range(len(table)):
        raw = table[c_name][i] if c_name else ""
        name = "" if np.ma.is_masked(raw) else str(raw).strip()
        entry = None
        if name:
            try:
                entry = lookup_cluster(name)
            except NotFoundError:
                entry = None
        ra, dec, r = _value(table, c_ra, i), _value(table, c_dec, i), _value(table, c_r, i)
        r_source = "file"
        if not math.isfinite(r) and radius is not None:
            r, r_source = radius, "given"
        elif not math.isfinite(r) and entry is not None:
            r, r_source = default_radius(entry), CATALOGUE_RADIUS.format(entry.source_of("r50"))
        if not (math.isfinite(ra) and math.isfinite(dec)):
            if entry is None:
                raise InputError(f"{path}, row {i + 1}: no ra/dec and {name!r} is not a "
                                 "catalogued cluster.")
            ra, dec = entry.ra, entry.dec
        if r is None or not math.isfinite(r) or r <= 0:
            raise InputError(f"{path}, row {i + 1}: no cone radius; add a 'radius' column (deg) "
                             "or give {@radius}.")
        pm = tuple(_value(table, c, i) for c in c_pm)
        centroid = pm if all(math.isfinite(v) for v in pm) else None
        name = name or f"{ra:.4f}{dec:+.4f}"
        targets.append(Target(name, float(ra), float(dec), float(r), r_source,
                              cluster=entry.name if entry and centroid is None else None,
                              centroid=centroid,
                              reference=_reference(entry) if entry else {}))
    check_unique(targets)
    return targets


def check_unique(targets: Sequence[Target]) -> None:
    """Raise :class:`InputError` when two targets share a name or a file name."""
    seen: dict[str, str] = {}
    for t in targets:
        if t.slug in seen:
            raise InputError(f"Two targets would share the result file {t.slug!r}: "
                             f"{seen[t.slug]!r} and {t.name!r}; give them distinct names.")
        seen[t.slug] = t.name
