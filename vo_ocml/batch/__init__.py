"""Catalogue-scale runs: membership for many clusters on Dask (``vo-ocml batch``).

Needs the ``batch`` extra (``pip install "vo_ocml[batch]"``: dask[distributed], lsdb, hats,
hats-import). The API:

- targets: :func:`~vo_ocml.batch.targets.from_names`,
  :func:`~vo_ocml.batch.targets.from_catalogue`, :func:`~vo_ocml.batch.targets.from_file`;
- sources: :func:`~vo_ocml.batch.sources.parse_source` (``hats:``, ``tap:``, ``dir:``);
- :func:`~vo_ocml.batch.driver.run_batch` → :class:`~vo_ocml.batch.driver.BatchResult`.

See docs/batch.md.
"""

from __future__ import annotations

import importlib
from typing import Any

from vo_ocml.errors import VoOcmlError

__all__ = ["MissingExtraError", "require_extra", "run_batch", "BatchResult", "from_names",
           "from_catalogue", "from_file", "parse_source", "Target"]

#: modules the batch extra provides (import name → distribution)
EXTRA_MODULES = {"distributed": "dask[distributed]", "lsdb": "lsdb", "hats": "hats"}

_LAZY = {
    "run_batch": "vo_ocml.batch.driver", "BatchResult": "vo_ocml.batch.driver",
    "from_names": "vo_ocml.batch.targets", "from_catalogue": "vo_ocml.batch.targets",
    "from_file": "vo_ocml.batch.targets", "Target": "vo_ocml.batch.targets",
    "parse_source": "vo_ocml.batch.sources",
}


class MissingExtraError(VoOcmlError):
    """A package of the ``batch`` extra is not installed."""


def require_extra(modules: tuple[str, ...] = ("distributed",)) -> None:
    """Raise :class:`MissingExtraError`, naming the extra, when a needed package is missing.

    Parameters
    ----------
    modules : tuple of str
        Import names needed (keys of :data:`EXTRA_MODULES`).
    """
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            raise MissingExtraError(
                f"vo-ocml batch needs {EXTRA_MODULES.get(name, name)}, which is not installed; "
                'install the batch extra: pip install "vo_ocml[batch]"') from None


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vo_ocml.batch' has no attribute {name!r}")
