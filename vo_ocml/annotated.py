"""The result of a run: :class:`Annotated`, the annotated table with what produced it.

It sits below :mod:`vo_ocml.analysis` (which reads runs by this type) and above the estimators'
:class:`~vo_ocml.membership.result.MembershipResult`; :func:`vo_ocml.run` returns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from astropy.table import Table

from vo_ocml.io.columns import ColumnMap
from vo_ocml.membership.result import MembershipResult

if TYPE_CHECKING:  # the summary types live in analysis, which imports this module
    from vo_ocml.analysis.clusters import ClusterSummary
    from vo_ocml.analysis.summary import Summary


@dataclass
class Annotated:
    """The outcome of :func:`vo_ocml.run`.

    Attributes
    ----------
    table : astropy.table.Table
        The input plus the output columns and ``meta["ocml_params"]``.
    result : MembershipResult
        The estimator's result (row-aligned with ``table``).
    summary : Summary
        The summary numbers.
    clusters : list of ClusterSummary
        Joint runs (``clusters="all"`` or N > 1): every cluster, named and summarised
        (:mod:`vo_ocml.analysis.clusters`); the first is the one ``ocml_prob`` describes.
        Empty for single-cluster runs.
    columns : ColumnMap
        Where the astrometry was found in the input.
    names : dict of str to str
        The output columns' names: keys "prob", "member", "stage" (normally ``ocml_prob``,
        ``ocml_member``, ``ocml_stage``; suffixed ``_2``, ``_3``… when the input already has
        columns of those names, which are never overwritten).
    threshold : float
        The membership threshold used.
    """

    table: Table
    result: MembershipResult
    summary: Summary
    columns: ColumnMap
    names: dict[str, str]
    threshold: float
    clusters: list[ClusterSummary] = field(default_factory=list)

    @property
    def members(self) -> np.ndarray:
        """Boolean mask of member rows (row-aligned with the input table)."""
        return self.result.members(self.threshold)
