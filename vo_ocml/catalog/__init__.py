"""The cluster catalogue shipped with vo_ocml, and cluster look-up by (loosely matched) name.

``data/clusters.csv`` merges Hunt & Reffert (2023, A&A 673, A114), then Cantat-Gaudin et al.
(2020, A&A 640, A1), then Dias et al. (2002, A&A 389, 871), then the Unified Cluster
Catalogue (Perren et al. 2023, MNRAS 526, 4107), whose alias lists also give extra names;
see ``data/CITATION.md``. Rebuild it with ``tools/build_catalogue.py``.
"""

from __future__ import annotations

import csv
import difflib
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from vo_ocml.catalog.names import normalize_name
from vo_ocml.errors import NotFoundError
from vo_ocml.membership.sky import angular_distance

__all__ = ["ClusterEntry", "clusters_near", "lookup_cluster", "normalize_name"]

#: how ``catalogue`` separates the entry's catalogue from "<columns>: <source>" parts (the
#: format written by tools/build_catalogue.py)
_SOURCES_SEPARATOR, _COLUMNS_SEPARATOR = "; ", ": "


@dataclass(frozen=True)
class ClusterEntry:
    """One cluster of the shipped catalogue (angles in degrees, pm in mas/yr, parallax in mas).

    ``r50`` is the radius containing half the members and ``rt`` the tidal radius (NaN when the
    catalogue has none); ``s_*`` are the intrinsic dispersions of the members (NaN when
    unknown); ``hunt_name`` is the Hunt & Reffert 2023 designation (e.g. "NGC_2682") or None.
    ``catalogue`` names the entry's catalogue, followed by the sources of values taken
    elsewhere: "Dias et al. 2002; pmra, pmdec, parallax: Perren et al. 2023 (UCC)"
    (:meth:`source_of`).
    """

    name: str
    aliases: tuple[str, ...]
    ra: float
    dec: float
    r50: float
    rt: float
    pmra: float
    pmdec: float
    parallax: float
    s_pmra: float
    s_pmdec: float
    s_parallax: float
    n_members: float
    hunt_name: str | None
    catalogue: str

    def source_of(self, column: str) -> str:
        """The catalogue that gave one value, e.g. ``source_of("pmra")``.

        Parameters
        ----------
        column : str
            A column of the catalogue ("ra", "r50", "pmra", ...).

        Returns
        -------
        str
            The source recorded for that column in ``catalogue``, else the entry's catalogue.
        """
        catalogue, *others = self.catalogue.split(_SOURCES_SEPARATOR)
        for other in others:
            columns, source = other.split(_COLUMNS_SEPARATOR, 1)
            if column in columns.split(", "):
                return source
        return catalogue


def _float(text: str) -> float:
    return float(text) if text else math.nan


@lru_cache(maxsize=1)
def _entries() -> list[ClusterEntry]:
    path = resources.files("vo_ocml.catalog") / "data" / "clusters.csv"
    entries: list[ClusterEntry] = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            aliases = tuple(row["aliases"].split(";"))
            entries.append(ClusterEntry(
                name=row["name"], aliases=aliases,
                **{k: _float(row[k]) for k in ("ra", "dec", "r50", "rt", "pmra", "pmdec",
                                               "parallax", "s_pmra", "s_pmdec", "s_parallax",
                                               "n_members")},
                hunt_name=row["hunt_name"] or None, catalogue=row["catalogue"],
            ))
    return entries


@lru_cache(maxsize=1)
def _catalogue() -> tuple[list[ClusterEntry], dict[str, int]]:
    """The entries and their index by normalised name (built apart from the entries: about half
    the load, which a match by position alone does not need)."""
    entries = _entries()
    # primary names win over aliases ("NGC 7789" is also an alias of "OCSN 40"); among
    # aliases, the richer cluster wins ("Hyades" is Melotte 25, not CWNU 1242)
    index = {normalize_name(e.name): i for i, e in reversed(list(enumerate(entries)))}
    richest_first = np.argsort(-np.nan_to_num([e.n_members for e in entries]), kind="stable")
    for i in richest_first.tolist():
        for alias in entries[i].aliases:
            index.setdefault(normalize_name(alias), i)
    return entries, index


def lookup_cluster(name: str) -> ClusterEntry:
    """Find a cluster in the shipped catalogue by any of its names, matched loosely.

    Parameters
    ----------
    name : str
        E.g. "NGC 2682", "NGC_2682", "ngc2682", "M67", "Melotte 22", "Pleiades".

    Returns
    -------
    ClusterEntry

    Raises
    ------
    NotFoundError
        When no cluster has that name; the message suggests close names.
    """
    entries, index = _catalogue()
    key = normalize_name(name)
    if key in index:
        return entries[index[key]]
    close = difflib.get_close_matches(key, index.keys(), n=5, cutoff=0.75)
    suggestions = list(dict.fromkeys(entries[index[k]].name for k in close))
    hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
    raise NotFoundError(
        f"Unknown cluster name {name!r}: it is not in the shipped catalogue (Hunt & Reffert "
        f"2023, Cantat-Gaudin et al. 2020, Dias et al. 2002, UCC; {len(entries)} clusters).{hint} "
        "Give the centroid instead ({@centroid}) or omit the name to find the "
        "cluster in the data."
    )


def clusters_near(ra: float, dec: float, radius: float) -> list[ClusterEntry]:
    """Catalogued clusters whose centre lies within ``radius`` degrees of (ra, dec), nearest first.

    Parameters
    ----------
    ra, dec, radius : float
        Position and search radius in degrees.

    Returns
    -------
    list of ClusterEntry
    """
    entries = _entries()
    separation = angular_distance([e.ra for e in entries], [e.dec for e in entries], ra, dec)
    near = np.flatnonzero(np.nan_to_num(separation, nan=np.inf) <= radius)
    return [entries[i] for i in near[np.argsort(separation[near])]]
