"""Fetch Gaia cones and Hunt & Reffert (2023) member lists over TAP, through the cache.

This is the Python API behind ``vo-ocml fetch`` and ``vo-ocml run --fetch/--validate``:
:func:`fetch_cone` and :func:`fetch_hunt_members` return astropy Tables whose
``meta["ocml_params"]`` records where the rows came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from astropy.table import Table

from vo_ocml.catalog import lookup_cluster
from vo_ocml.errors import InputError, NotFoundError
from vo_ocml.io.tables import param
from vo_ocml.tap.adql import ConeQuery, members_query
from vo_ocml.tap.cache import QueryCache
from vo_ocml.tap.defaults import (DEFAULT_GAIA_TAP, DEFAULT_GMAX, GAIA_TABLE,
                                  HUNT_MEMBERS_TABLE, VIZIER_TAP)
from vo_ocml.tap.resolve import resolve_target
from vo_ocml.tap.service import Progress, run_query

__all__ = ["ASYNC_RADIUS", "MEMBERS_MAXREC", "fetch_cone", "fetch_hunt_members"]

#: cones at least this wide (deg) run as async jobs when ``mode="auto"``: sync endpoints
#: often cap results (the ESA archive's sync cap of 2,000 rows is a classic trap), and a
#: 0.05 deg cone holds < 2,000 Gaia sources (G <= 20) outside the densest bulge fields
ASYNC_RADIUS = 0.05
#: row limit requested for a member list (the richest Hunt & Reffert clusters have ~10⁴)
MEMBERS_MAXREC = 1_000_000

Mode = Literal["auto", "sync", "async"]


def _param(name: str, value: Any, description: str, unit: str | None = None,
           ucd: str | None = None) -> dict[str, Any]:
    return param(name, value, ucd, unit, description)


def _query(adql: str, *, service: str, mode: Literal["sync", "async"], maxrec: int | None,
           cache_dir: str | Path | None, refresh: bool, offline: bool,
           progress: Progress | None) -> tuple[Table, str]:
    """Answer a query from the cache or the service; returns (table, fetch date)."""
    if refresh and offline:
        raise InputError("{@refresh} and {@offline} exclude each other.")
    cache = QueryCache(cache_dir)
    if not refresh:
        hit = cache.get(service, adql, maxrec)
        if hit is not None:
            if progress:
                progress(f"using the cached result {hit.path} ({len(hit.table)} rows, "
                         f"fetched {hit.fetched})")
            return hit.table, hit.fetched
    if offline:
        raise NotFoundError(
            f"Offline ({{@offline}}): no cached result of this query on {service} in {cache.directory}. "
            "Run the same query once online (or point {@cache_dir} at the cache)."
        )
    table = run_query(adql, service=service, mode=mode, maxrec=maxrec, progress=progress)
    entry = cache.put(service, adql, maxrec, table)
    if progress:
        progress(f"{len(table)} rows; cached as {entry.path}")
    return table, entry.fetched


def fetch_cone(*, name: str | None = None, ra: float | None = None, dec: float | None = None,
               radius: float | None = None, gmax: float = DEFAULT_GMAX,
               extra_columns: Iterable[str] | str = (), service: str = DEFAULT_GAIA_TAP,
               table: str = GAIA_TABLE, cache_dir: str | Path | None = None,
               refresh: bool = False, offline: bool = False, progress: Progress | None = None,
               mode: Mode = "auto", maxrec: int | None = None) -> Table:
    """Fetch a Gaia DR3 cone around a named cluster or given coordinates.

    Rows pass the source study's quality cuts (G ≤ ``gmax``, parallax > 0, complete
    five-parameter astrometry, BP−RP present; see :class:`vo_ocml.tap.adql.ConeQuery`).

    Parameters
    ----------
    name : str, optional
        Cluster name; resolved by the shipped catalogue, then Sesame (not when
        ``offline``). Also gives the default radius: 5 × r50, clipped to [0.1, 1.5] deg
        (:func:`vo_ocml.tap.resolve.default_radius`).
    ra, dec : float, optional
        Cone centre (ICRS, deg); override the name's position.
    radius : float, optional
        Cone radius (deg); required when the catalogue gives none.
    gmax : float
        Faint limit in Gaia G (mag).
    extra_columns : iterable of str or str
        Further columns of the table to fetch (a comma-separated string works too).
    service : str
        TAP base URL; default the ESA Gaia archive.
    table : str
        A ``gaia_source``-like table on that service.
    cache_dir : str or pathlib.Path, optional
        Cache directory; default ``$VO_OCML_CACHE`` or ``~/.cache/vo_ocml/tap``.
    refresh : bool
        Ignore (and replace) a cached result.
    offline : bool
        Use only the cache and the shipped catalogue; never the network.
    progress : callable, optional
        Receives one line of text per event (submission, job phase while it runs, …).
    mode : {"auto", "sync", "async"}
        "auto": an async job for cones of radius ≥ :data:`ASYNC_RADIUS` deg, else sync.
    maxrec : int, optional
        Row limit to request; default the service's. A truncated result is an error.

    Returns
    -------
    astropy.table.Table
        One row per source; ``meta["ocml_params"]`` holds the service, table, query, cone,
        cluster name and fetch date.

    Raises
    ------
    InputError
        Bad options (coordinates, radius, column names, no radius known, …).
    NotFoundError
        Unknown cluster name, empty cone, or ``offline`` with nothing cached.
    ServiceError
        Service or resolver unreachable, query rejected (server message included), or a
        result truncated by a row limit.
    """
    target = resolve_target(name, ra=ra, dec=dec, radius=radius, offline=offline)
    columns = extra_columns.split(",") if isinstance(extra_columns, str) else extra_columns
    cone = ConeQuery(target.ra, target.dec, target.radius, gmax=gmax,
                     extra_columns=tuple(columns), table=table)
    if mode not in ("auto", "sync", "async"):
        raise InputError(f"mode must be 'auto', 'sync' or 'async', not {mode!r}.")
    run_mode: Literal["sync", "async"] = "async" if mode == "async" or (
        mode == "auto" and cone.radius >= ASYNC_RADIUS) else "sync"
    adql = cone.adql()
    result, fetched = _query(adql, service=service, mode=run_mode, maxrec=maxrec,
                             cache_dir=cache_dir, refresh=refresh, offline=offline,
                             progress=progress)
    where = f"({cone.ra:.5f}, {cone.dec:+.5f}) radius {cone.radius:.4f} deg"
    if len(result) == 0:
        raise NotFoundError(
            f"No sources in {table} on {service} within {where} that pass the cuts "
            f"(G <= {cone.gmax:g}, parallax > 0, complete astrometry, BP-RP). Check the "
            "position, {@radius}, {@gmax} and {@table}."
        )
    result.meta["ocml_params"] = [
        _param("ocml_tap_service", service, "TAP service the rows came from", ucd="meta.ref.url"),
        _param("ocml_tap_table", cone.table, "TAP table queried"),
        _param("ocml_tap_query", adql, "ADQL query"),
        _param("ocml_tap_date", fetched, "Date the rows were fetched (UTC)", ucd="time.epoch"),
        _param("ocml_cone_ra", cone.ra, "Cone centre, ICRS RA", "deg", "pos.eq.ra"),
        _param("ocml_cone_dec", cone.dec, "Cone centre, ICRS Dec", "deg", "pos.eq.dec"),
        _param("ocml_cone_radius", cone.radius, f"Cone radius ({target.radius_source})", "deg",
               "phys.angSize"),
        _param("ocml_cone_gmax", cone.gmax, "Faint limit in Gaia G", "mag", "phot.mag;em.opt"),
        _param("ocml_cluster", target.name or "", f"Cluster (position: "
               f"{target.position_source})", ucd="meta.id"),
    ]
    return result


def fetch_hunt_members(name: str, *, service: str = VIZIER_TAP, table: str = HUNT_MEMBERS_TABLE,
                       cache_dir: str | Path | None = None, refresh: bool = False,
                       offline: bool = False, progress: Progress | None = None) -> Table:
    """Fetch the Hunt & Reffert (2023) members of one cluster from VizieR.

    Parameters
    ----------
    name : str
        Any name the shipped catalogue knows ("NGC 2682", "M67", "NGC_2682"); it must have
        a Hunt & Reffert (2023) designation.
    service : str
        TAP base URL; default CDS VizieR.
    table : str
        The members table (``J/A+A/673/A114/members``: columns ``Name``, ``GaiaDR3``,
        ``Prob``, …).
    cache_dir, refresh, offline, progress
        As for :func:`fetch_cone`.

    Returns
    -------
    astropy.table.Table
        Every column of the members table for that cluster, plus ``source_id`` (int64,
        Gaia DR3, a copy of ``GaiaDR3``) as the first column; ``meta["ocml_params"]``
        records the service, query and date.

    Raises
    ------
    NotFoundError
        Unknown name, a cluster not in Hunt & Reffert (2023), no member rows, or
        ``offline`` with nothing cached.
    ServiceError
        As for :func:`fetch_cone`.
    """
    entry = lookup_cluster(name)
    if entry.hunt_name is None:
        raise NotFoundError(
            f"{entry.name} is not in Hunt & Reffert (2023) (the shipped catalogue has it from "
            f"{entry.catalogue}), so there is no member list to validate against."
        )
    adql = members_query(entry.hunt_name, table)
    result, fetched = _query(adql, service=service, mode="sync", maxrec=MEMBERS_MAXREC,
                             cache_dir=cache_dir, refresh=refresh, offline=offline,
                             progress=progress)
    if len(result) == 0:
        raise NotFoundError(f"No members of {entry.hunt_name} in {table} on {service}.")
    if "source_id" not in result.colnames:
        if "GaiaDR3" not in result.colnames:
            raise NotFoundError(f"{table} on {service} has no GaiaDR3 column; its columns: "
                                f"{', '.join(result.colnames)}.")
        ids = np.asarray(result["GaiaDR3"], dtype=np.int64)
        result.add_column(ids, name="source_id", index=0)
        result["source_id"].description = "Gaia DR3 source_id (copy of GaiaDR3)"
        result["source_id"].meta["ucd"] = "meta.id;meta.main"
    result.meta["ocml_params"] = [
        _param("ocml_tap_service", service, "TAP service the rows came from", ucd="meta.ref.url"),
        _param("ocml_tap_table", table, "TAP table queried"),
        _param("ocml_tap_query", adql, "ADQL query"),
        _param("ocml_tap_date", fetched, "Date the rows were fetched (UTC)", ucd="time.epoch"),
        _param("ocml_cluster", entry.hunt_name, "Cluster (Hunt & Reffert 2023 name)",
               ucd="meta.id"),
    ]
    return result

