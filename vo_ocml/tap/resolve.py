"""Where to point the cone: a cluster name (shipped catalogue first, then Sesame when
online) or explicit coordinates, and the default cone radius from the catalogue.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from vo_ocml.catalog import ClusterEntry, lookup_cluster
from vo_ocml.errors import InputError, NotFoundError, ServiceError

__all__ = ["R50_FACTOR", "RADIUS_MAX", "RADIUS_MIN", "Target", "default_radius", "resolve_target"]

#: default cone radius = R50_FACTOR × r50 (the radius holding half the catalogue's members).
#: A cone of k × r50 has a "fill" (r50 over the rows' median distance from the centre,
#: :attr:`vo_ocml.analysis.summary.Summary.fill`) of about √2 / k, and a cluster filling its
#: table leaves the field's density at the cluster's motion unmeasured. On injected clusters
#: cut to cones of 3 and 5 × r50 (``bench/cone_radius.py``; docs/injection.md, sixteenth
#: session), 5 × r50 gave the lower calibration error in each of four sets (ECE 0.034–0.051 →
#: 0.012–0.034); 8 × r50 was no better on the whole and costs 2.3 × the rows…
R50_FACTOR = 5.0
#: … but at least RADIUS_MIN deg (enough field stars for compact, distant clusters) …
RADIUS_MIN = 0.1
#: … and at most RADIUS_MAX deg (nearby clusters: a wider cone means ~10⁵ rows or more)
RADIUS_MAX = 1.5


@dataclass(frozen=True)
class Target:
    """A resolved cone centre and radius, and where they came from.

    Attributes
    ----------
    name : str or None
        The cluster name as found (catalogue primary name) or as given.
    ra, dec, radius : float
        Cone centre (ICRS) and radius, in degrees.
    position_source, radius_source : str
        E.g. "Hunt & Reffert 2023", "Sesame", "given ra/dec",
        "5 × r50 of Hunt & Reffert 2023, within [0.1, 1.5] deg".
    hunt_name : str or None
        The Hunt & Reffert (2023) designation ("NGC_2682"), if the catalogue knows one.
    """

    name: str | None
    ra: float
    dec: float
    radius: float
    position_source: str
    radius_source: str
    hunt_name: str | None = None


def default_radius(entry: ClusterEntry) -> float | None:
    """Return the default cone radius for a catalogue cluster, in degrees.

    ``R50_FACTOR × r50`` clipped to ``[RADIUS_MIN, RADIUS_MAX]``; when the catalogue has no
    r50, the tidal radius ``rt`` clipped likewise; None when it has neither.

    Parameters
    ----------
    entry : vo_ocml.catalog.ClusterEntry
        The cluster.

    Returns
    -------
    float or None
        Radius in degrees.
    """
    for value in (R50_FACTOR * entry.r50, entry.rt):
        if math.isfinite(value) and value > 0:
            return min(max(value, RADIUS_MIN), RADIUS_MAX)
    return None


def _sesame(name: str) -> tuple[float, float]:
    """Resolve a name with CDS Sesame (SIMBAD, NED, VizieR) through astropy."""
    from astropy.coordinates.name_resolve import (NameResolveError, get_icrs_coordinates,
                                                  sesame_url)

    try:
        coord = get_icrs_coordinates(name)
    except NameResolveError as exc:
        if "All Sesame queries failed" in str(exc):
            raise ServiceError(
                f"Cannot reach the Sesame name resolver ({', '.join(sesame_url.get())}) to "
                f"resolve {name!r}. Give {{@ra}} and {{@dec}}, or a name from the shipped catalogue."
            ) from exc
        raise NotFoundError(str(exc)) from exc
    return float(coord.ra.deg), float(coord.dec.deg)


def _suggestions(error: NotFoundError) -> str:
    match = re.search(r"Did you mean: [^?]*\?", str(error))
    return f" {match.group(0)}" if match else ""


def resolve_target(name: str | None = None, *, ra: float | None = None,
                   dec: float | None = None, radius: float | None = None,
                   offline: bool = False) -> Target:
    """Turn a cluster name and/or coordinates into a cone centre and radius.

    Explicit ``ra``/``dec``/``radius`` win. A name is looked up in the shipped catalogue
    (offline; it also gives the default radius, see :func:`default_radius`), then, unless
    ``offline``, with Sesame.

    Parameters
    ----------
    name : str, optional
        Cluster name ("NGC 2682", "M67", "Pleiades", …).
    ra, dec : float, optional
        Cone centre (ICRS, deg); both or neither.
    radius : float, optional
        Cone radius (deg).
    offline : bool
        Never use the network (no Sesame).

    Returns
    -------
    Target

    Raises
    ------
    InputError
        Neither a name nor coordinates, only one of ra/dec, or no radius known.
    NotFoundError
        Unknown name (with close catalogue names as suggestions).
    ServiceError
        Sesame needed but unreachable.
    """
    if (ra is None) != (dec is None):
        raise InputError("Give both {@ra} and {@dec} (degrees), or neither.")
    entry: ClusterEntry | None = None
    if ra is not None and dec is not None:
        position = "given ra/dec"
        if name is not None:  # only for the default radius and the Hunt & Reffert name
            try:
                entry = lookup_cluster(name)
            except NotFoundError:
                entry = None
    elif name is not None:
        entry, ra, dec, position = _locate(name, offline)
    else:
        raise InputError("Give a cluster name, or {@ra}, {@dec} and {@radius} (degrees).")
    if radius is not None:
        radius_source = "given radius"
    elif entry is not None and (radius := default_radius(entry)) is not None:
        radius_source = (f"{R50_FACTOR:g} × r50 of {entry.source_of('r50')}, within "
                         f"[{RADIUS_MIN:g}, {RADIUS_MAX:g}] deg")
    else:
        raise InputError(
            f"No default radius for {name or 'these coordinates'}: the shipped catalogue "
            "gives none. Give {@radius} (degrees)."
        )
    return Target(name=entry.name if entry else name, ra=float(ra), dec=float(dec),
                  radius=float(radius), position_source=position, radius_source=radius_source,
                  hunt_name=entry.hunt_name if entry else None)


def _locate(name: str, offline: bool) -> tuple[ClusterEntry | None, float, float, str]:
    """Position of a named cluster: the shipped catalogue, else Sesame (unless offline)."""
    try:
        entry = lookup_cluster(name)
    except NotFoundError as exc:
        if offline:
            raise NotFoundError(
                f"Unknown cluster name {name!r}: not in the shipped catalogue, and Sesame "
                f"was not asked ({{@offline}}).{_suggestions(exc)} Give {{@ra}} and {{@dec}} instead."
            ) from exc
        try:
            ra, dec = _sesame(name)
        except NotFoundError as sesame_exc:
            raise NotFoundError(
                f"Unknown cluster name {name!r}: not in the shipped catalogue, and Sesame "
                f"does not know it either.{_suggestions(exc)}"
            ) from sesame_exc
        return None, ra, dec, "Sesame"
    return entry, entry.ra, entry.dec, entry.source_of("ra")
