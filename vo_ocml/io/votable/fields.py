"""How each FIELD of a table is laid out on the wire and maps onto its astropy column."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.io import votable
from astropy.table import Column

from vo_ocml.io.votable.common import NUMERIC_KINDS as _NUMERIC_KINDS, Unsupported as _Unsupported


@dataclass(frozen=True)
class _FieldSpec:
    """How one FIELD is laid out and how it maps onto its astropy column."""

    kind: str  # "num", "bool", "char", "unicode"
    dtype: np.dtype  # dtype of the output column (string dtypes: U<n>, object if variable)
    shape: tuple[int, ...]  # element shape (arrays) or () for scalars and strings
    width: int  # characters of a fixed string (0 if variable)
    variable: bool  # string whose length is stored per row
    null: Any  # the VALUES null value, or None

    @property
    def wire(self) -> np.dtype:
        """The big-endian dtype of a fixed-width field in BINARY serialization."""
        if self.kind == "num":
            return np.dtype((self.dtype.newbyteorder(">"), self.shape))
        if self.kind == "bool":
            return np.dtype(("u1", self.shape))
        if self.kind == "char":
            return np.dtype(f"S{self.width}")
        return np.dtype(("u1", (2 * self.width,)))


def _field_spec(field: votable.tree.Field, column: Column) -> _FieldSpec:
    """Describe ``field``; raise ``_Unsupported`` for bit, complex and variable arrays."""
    arraysize = field.arraysize
    null = field.values.null
    if field.datatype in ("char", "unicodeChar"):
        if arraysize is None or "x" in arraysize:
            raise _Unsupported("multidimensional or undeclared string size")
        variable = arraysize.endswith("*")
        width = 0 if variable else int(arraysize)
        kind = "char" if field.datatype == "char" else "unicode"
        return _FieldSpec(kind, column.dtype, (), width, variable, None)
    if arraysize is not None and arraysize.endswith("*"):
        raise _Unsupported("variable-length numeric array")
    if field.datatype == "boolean":
        return _FieldSpec("bool", column.dtype, column.shape[1:], 0, False, None)
    if field.datatype in _NUMERIC_KINDS:
        return _FieldSpec("num", column.dtype, column.shape[1:], 0, False, null)
    raise _Unsupported(f"datatype {field.datatype}")


def _fixed_gaps(specs: Sequence[Any], nbytes: int) -> list[int]:
    """Fixed bytes before each variable-length field of a row, and after the last one."""
    gaps, gap = [], nbytes
    for spec in specs:
        if spec.variable:
            gaps.append(gap)
            gap = 0
        else:
            gap += spec.wire.itemsize
    return gaps + [gap]
