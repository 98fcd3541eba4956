"""Fetch Gaia DR3 cones and Hunt & Reffert (2023) member lists over TAP (pyvo).

``fetch_cone`` builds the cone ADQL (:mod:`vo_ocml.tap.adql`), resolves the cluster
(:mod:`vo_ocml.tap.resolve`), runs the query sync or async (:mod:`vo_ocml.tap.service`) and
keeps the result in an on-disk cache (:mod:`vo_ocml.tap.cache`); ``vo-ocml fetch`` is
:mod:`vo_ocml.commands.fetch`. See docs/tap.md.

The names below are loaded on first use, so that importing :mod:`vo_ocml.commands.fetch` (which
``vo-ocml --help`` does) does not import pyvo or astropy.
"""

from __future__ import annotations

import importlib
from typing import Any

from vo_ocml.tap.defaults import (DEFAULT_GAIA_TAP, DEFAULT_GMAX, GAIA_TABLE,
                                  HUNT_MEMBERS_TABLE, VIZIER_TAP)

_LAZY = {
    "fetch_cone": "vo_ocml.tap.fetch",
    "fetch_hunt_members": "vo_ocml.tap.fetch",
    "ConeQuery": "vo_ocml.tap.adql",
    "members_query": "vo_ocml.tap.adql",
    "Target": "vo_ocml.tap.resolve",
    "default_radius": "vo_ocml.tap.resolve",
    "resolve_target": "vo_ocml.tap.resolve",
}

__all__ = ["DEFAULT_GAIA_TAP", "DEFAULT_GMAX", "GAIA_TABLE", "HUNT_MEMBERS_TABLE", "VIZIER_TAP",
           *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vo_ocml.tap' has no attribute {name!r}")
