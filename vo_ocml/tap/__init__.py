"""Fetch Gaia DR3 cones and Hunt & Reffert (2023) member lists over TAP (pyvo).

``fetch_cone`` builds the cone ADQL (:mod:`vo_ocml.tap.adql`), resolves the cluster
(:mod:`vo_ocml.tap.resolve`), runs the query sync or async (:mod:`vo_ocml.tap.service`) and
keeps the result in an on-disk cache (:mod:`vo_ocml.tap.cache`); ``vo-ocml fetch`` is
:mod:`vo_ocml.tap.cli`. See docs/tap.md.
"""

from vo_ocml.tap.adql import GAIA_TABLE, HUNT_MEMBERS_TABLE, ConeQuery, members_query
from vo_ocml.tap.fetch import DEFAULT_GAIA_TAP, VIZIER_TAP, fetch_cone, fetch_hunt_members
from vo_ocml.tap.resolve import Target, default_radius, resolve_target

__all__ = [
    "DEFAULT_GAIA_TAP",
    "GAIA_TABLE",
    "HUNT_MEMBERS_TABLE",
    "VIZIER_TAP",
    "ConeQuery",
    "Target",
    "default_radius",
    "fetch_cone",
    "fetch_hunt_members",
    "members_query",
    "resolve_target",
]
