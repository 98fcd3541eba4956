"""How each table column is written: its VOTable datatype, width, nulls and string encoding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.table import Column, MaskedColumn

from vo_ocml.io.votable.common import NUMERIC_KINDS as _NUMERIC_KINDS
from vo_ocml.io.votable.common import Unsupported as _Unsupported


@dataclass(frozen=True)
class _ColumnSpec:
    """How one table column is written."""

    datatype: str
    arraysize: str | None
    wire: np.dtype  # big-endian BINARY2 dtype of a fixed-width column
    kind: str  # "num", "bool", "char", "unicode"
    variable: bool = False  # string written with a per-row length ("*")


def _column_spec(column: Column) -> _ColumnSpec:
    """Choose the VOTable type of ``column``; raise ``_Unsupported`` for the unusual."""
    if column.__class__ not in (Column, MaskedColumn):
        raise _Unsupported("mixin column")
    dtype = column.dtype
    shape = column.shape[1:]
    if dtype.kind in "OSU":
        if shape:
            raise _Unsupported("string arrays")
        return _string_spec(column)
    if len(shape) > 1:
        raise _Unsupported("multidimensional arrays")
    arraysize = str(shape[0]) if shape else None
    if dtype.kind == "b":
        return _ColumnSpec("boolean", arraysize, np.dtype(("u1", shape)), "bool")
    mapping = {"u1": "unsignedByte", "i1": "short", "i2": "short", "u2": "int", "i4": "int",
               "u4": "long", "i8": "long", "f2": "float", "f4": "float", "f8": "double"}
    key = f"{dtype.kind}{dtype.itemsize}"
    if key not in mapping:
        raise _Unsupported(f"dtype {dtype}")
    datatype = mapping[key]
    wire = np.dtype(_NUMERIC_KINDS[datatype]).newbyteorder(">")
    if (shape and dtype.kind != "f" and _declared_null(column) is None
            and np.ma.is_masked(column) and _partial_mask(column)):
        raise _Unsupported("partially masked integer arrays")
    return _ColumnSpec(datatype, arraysize, np.dtype((wire, shape)), "num")


def _declared_null(column: Column) -> Any:
    """The VALUES null of an integer column read from a VOTable, or None."""
    return ((column.meta or {}).get("values") or {}).get("null")


def _partial_mask(column: MaskedColumn) -> bool:
    """True if some array cell is only partly masked."""
    mask = np.asarray(column.mask)
    axes = tuple(range(1, mask.ndim))
    return bool(np.any(mask.any(axis=axes) != mask.all(axis=axes)))


def _string_spec(column: Column) -> _ColumnSpec:
    """char (ASCII) or unicodeChar (UCS-2) for a string column.

    Object columns and columns read from ``arraysize="*"`` FIELDs are written with a length
    per row; fixed-width string columns with their width.
    """
    wanted = column.meta.get("_votable_string_dtype")
    declared = column.meta.get("_votable_arraysize", "")
    if column.dtype.kind == "O" or declared.endswith("*"):
        strings = _string_list(column)
        ascii_only = all(text.isascii() for text in strings)
        if not ascii_only and any(max(text) > "\uffff" for text in strings if text):
            raise _Unsupported("characters outside the Basic Multilingual Plane")
        kind = "char" if ascii_only and wanted != "unicodeChar" else "unicode"
        bound = declared[:-1]
        longest = max(map(len, strings), default=0)
        arraysize = declared if bound.isdigit() and int(bound) >= longest else "*"
        return _ColumnSpec("char" if kind == "char" else "unicodeChar", arraysize,
                           np.dtype("u1"), kind, variable=True)
    codes = _string_codes(column)
    width = max(codes.shape[1], 1)
    if codes.size and codes.max() >= 0x10000:
        raise _Unsupported("characters outside the Basic Multilingual Plane")
    if wanted != "unicodeChar" and not (codes.size and codes.max() >= 128):
        return _ColumnSpec("char", str(width), np.dtype(f"S{width}"), "char")
    return _ColumnSpec("unicodeChar", str(width), np.dtype((">u2", (width,))), "unicode")


def _string_list(column: Column) -> list[str]:
    """The values of a string column as a list of str (masked values empty)."""
    data = column.filled("") if isinstance(column, MaskedColumn) else column
    values = np.asarray(data).tolist()
    if not all(isinstance(v, (str, bytes)) for v in values):
        raise _Unsupported("string column holding non-strings")
    try:
        return [v.decode("utf-8") if isinstance(v, bytes) else v for v in values]
    except UnicodeDecodeError as exc:
        raise _Unsupported("undecodable bytes") from exc


def _string_codes(column: Column) -> np.ndarray:
    """Return the code points of a string column as ``(nrows, width)`` uint32 (0-padded)."""
    data = np.asarray(column.filled("") if isinstance(column, MaskedColumn) else column)
    if data.dtype.kind == "O":
        if not all(isinstance(v, (str, bytes)) for v in data):
            raise _Unsupported("object column holding non-strings")
        data = np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in data],
                        dtype=str)
        if data.dtype.itemsize == 0:
            data = data.astype("U1")
    elif data.dtype.kind == "S":
        try:
            data = np.strings.decode(data, "utf-8")
        except UnicodeDecodeError as exc:
            raise _Unsupported("undecodable bytes") from exc
    width = data.dtype.itemsize // 4
    return np.ascontiguousarray(data).view(np.uint32).reshape(len(data), width)


def _mask_of(column: Column) -> np.ndarray:
    """The boolean mask of ``column`` (all False when unmasked)."""
    if isinstance(column, MaskedColumn):
        return np.ma.getmaskarray(column)
    return np.zeros(column.shape, dtype=bool)


def _row_nulls(column: Column) -> np.ndarray:
    """Per-row null flags: the row is null when every element is masked."""
    mask = _mask_of(column)
    return mask.all(axis=tuple(range(1, mask.ndim)))
