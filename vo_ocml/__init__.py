"""vo_ocml: open-cluster membership for the Virtual Observatory.

The public API: :func:`read_table` and :func:`write_table` (any astropy format, fast VOTable
paths), :func:`run` (a table in, an annotated table + summary out), the estimators
:class:`MSTGMM` (filter → MST → GMM) and :class:`DEC` (Deep Embedded Clustering), and
:func:`summarize`. Heavy parts are imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "read_table": "vo_ocml.io.tables",
    "write_table": "vo_ocml.io.tables",
    "run": "vo_ocml.pipeline",
    "Annotated": "vo_ocml.annotated",
    "MSTGMM": "vo_ocml.membership.mstgmm",
    "DEC": "vo_ocml.membership.dec",
    "summarize": "vo_ocml.analysis.summary",
    "lookup_cluster": "vo_ocml.catalog",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vo_ocml' has no attribute {name!r}")
