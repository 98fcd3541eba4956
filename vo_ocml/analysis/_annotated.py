"""One view of a membership run, from a :class:`vo_ocml.annotated.Annotated` or an annotated table.

The analysis functions accept either. From an ``Annotated`` the view takes the run's own column
mapping (user overrides included), probabilities, stages, DEC groups, threshold and details;
from a table (e.g. one read back from a VOTable written by vo_ocml) it resolves the columns
again and reads ``ocml_prob``, ``ocml_stage``, ``ocml_dec_group`` and ``meta["ocml_params"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.table import Table

from vo_ocml.annotated import Annotated
from vo_ocml.errors import InputError
from vo_ocml.io.columns import resolve_columns
from vo_ocml.membership.base import MEMBER_THRESHOLD, is_member


@dataclass
class RunView:
    """What the analysis needs of a run.

    Attributes
    ----------
    table : astropy.table.Table
        The annotated table.
    arrays : dict of str to ndarray
        Canonical quantities (deg, mas, mas/yr, mag; source_id as int64).
    probability : ndarray
        Membership probability per row (NaN: not scored).
    threshold : float
        Membership threshold.
    stage : ndarray of str or None
        Stage code per row.
    dec_group : ndarray of int or None
        DEC group per row (−1: not grouped).
    details : dict
        ``MembershipResult.details`` (empty for a plain table).
    params : list of dict
        The provenance ``meta["ocml_params"]``.
    name : str
        The cluster's name when known, else "".
    """

    table: Table
    arrays: dict[str, np.ndarray]
    probability: np.ndarray
    threshold: float
    stage: np.ndarray | None = None
    dec_group: np.ndarray | None = None
    details: dict[str, Any] = field(default_factory=dict)
    params: list[dict] = field(default_factory=list)
    name: str = ""

    @property
    def member(self) -> np.ndarray:
        """The members (:func:`vo_ocml.membership.base.is_member`)."""
        return is_member(self.probability, self.threshold)


def _filled(column: Any, fill: Any) -> np.ndarray:
    return np.asarray(column.filled(fill) if hasattr(column, "filled") else column)


def run_view(source: Any, threshold: float | None = None) -> RunView:
    """Build a :class:`RunView` from an :class:`~vo_ocml.annotated.Annotated` or an annotated
    astropy Table.

    Parameters
    ----------
    source : Annotated or astropy.table.Table
        The run.
    threshold : float, optional
        Membership threshold; by default the run's (0.5 for a plain table).

    Raises
    ------
    InputError
        A table without ``ocml_prob`` (not annotated by vo_ocml).
    """
    if isinstance(source, Annotated):
        table, result = source.table, source.result
        group = result.extra_columns.get("ocml_dec_group")
        if threshold is None:
            threshold = source.threshold
        return RunView(
            table=table, arrays=source.columns.arrays(table), probability=np.asarray(result.probability, float),
            threshold=float(threshold),
            stage=np.asarray(result.stage).astype(str),
            dec_group=None if group is None else np.asarray(group, dtype=int),
            details=dict(result.details), params=list(table.meta.get("ocml_params", []) or []),
            name=(result.centroid.name or "") if result.centroid is not None else "",
        )
    table = source
    if "ocml_prob" not in table.colnames:
        raise InputError("The table has no ocml_prob column; run vo_ocml on it first "
                         "(vo_ocml.run or `vo-ocml run`).")
    params = list(table.meta.get("ocml_params", []) or [])
    values = {p.get("name"): p.get("value") for p in params}
    if threshold is None:
        threshold = float(values.get("ocml_threshold", MEMBER_THRESHOLD))
    return RunView(
        table=table, arrays=resolve_columns(table).arrays(table),
        probability=_filled(table["ocml_prob"], np.nan).astype(float), threshold=float(threshold),
        stage=_filled(table["ocml_stage"], "").astype(str) if "ocml_stage" in table.colnames else None,
        dec_group=(_filled(table["ocml_dec_group"], -1).astype(int)
                   if "ocml_dec_group" in table.colnames else None),
        params=params, name=str(values.get("ocml_cluster_name", "") or ""),
    )
