"""Membership estimators: arrays in, probabilities out (no files, SAMP or network here).

:class:`~vo_ocml.membership.mstgmm.MSTGMM` (filter → MST → GMM) and
:class:`~vo_ocml.membership.dec.DEC` (Deep Embedded Clustering) follow one contract,
:class:`~vo_ocml.membership.base.MembershipEstimator`, and share the vocabulary of
:mod:`vo_ocml.membership.result`. :data:`METHODS` is the one registry of method names; this
module imports nothing heavy, so shells can list the methods cheaply.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: method name → "module:class" of its estimator
METHODS = {
    "mstgmm": "vo_ocml.membership.mstgmm:MSTGMM",
    "dec": "vo_ocml.membership.dec:DEC",
}


def estimator_class(method: str) -> Any:
    """The estimator class registered under ``method`` (imports its module).

    Raises
    ------
    KeyError
        ``method`` is not in :data:`METHODS` (shells check names with :mod:`vo_ocml.options`).
    """
    module, name = METHODS[method].split(":")
    return getattr(import_module(module), name)
