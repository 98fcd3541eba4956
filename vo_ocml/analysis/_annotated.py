"""Reading the ``ocml_*`` columns of an annotated table (shared by validate, plots, report)."""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from vo_ocml.errors import InputError


def probability(table: Table) -> np.ndarray:
    """``ocml_prob`` as a float array (masked → NaN).

    Raises
    ------
    InputError
        The table has no ``ocml_prob`` column (it was not annotated by vo_ocml).
    """
    if "ocml_prob" not in table.colnames:
        raise InputError("The table has no ocml_prob column; run vo_ocml on it first "
                         "(vo_ocml.run or `vo-ocml run`).")
    column = table["ocml_prob"]
    if hasattr(column, "filled"):
        column = column.filled(np.nan)
    return np.asarray(column, dtype=float)


def member_mask(table: Table, threshold: float) -> np.ndarray:
    """Rows whose ``ocml_prob`` exceeds ``threshold`` (NaN counts as not a member)."""
    p = probability(table)
    return np.nan_to_num(p, nan=-1.0) > threshold


def text_column(table: Table, name: str) -> np.ndarray | None:
    """A column as an array of str (masked → ""), or None when the table lacks it."""
    if name not in table.colnames:
        return None
    column = table[name]
    if hasattr(column, "filled"):
        column = column.filled("")
    return np.asarray(column).astype(str)


def params(table: Table) -> list[dict]:
    """The provenance list ``table.meta["ocml_params"]`` (empty when absent)."""
    return list(table.meta.get("ocml_params", []) or [])
