"""Writing VOTables: BINARY2 or TABLEDATA encoded with numpy, astropy for unusual columns."""

from __future__ import annotations

import itertools
import os
import warnings
from typing import IO, Any, Iterable
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pybase64
from astropy.io import votable
from astropy.table import Column, MaskedColumn, Table

from vo_ocml.errors import InputError

from vo_ocml.io.votable.columns import (_ColumnSpec, _column_spec, _declared_null, _mask_of,
                                        _row_nulls, _string_codes, _string_list)
from vo_ocml.io.votable.fields import _fixed_gaps
from vo_ocml.io.votable.params import (_INFO_ATTRS, _all_params, _astropy_param, _attrs,
                                       _description_xml, _float_text, _info_xml, _param_xml,
                                       _unit_text)
from vo_ocml.io.votable.common import (B64_CHUNK as _B64_CHUNK, B64_LINE as _B64_LINE,
                                       ROW_CHUNK as _ROW_CHUNK, Unsupported as _Unsupported,
                                       describe as _describe)


def write_votable(table: Table, dest: str | os.PathLike | IO[bytes], *,
                  tabledata: bool = False) -> None:
    """Write ``table`` as a VOTable 1.4 document (one RESOURCE; a second TABLE for clusters).

    Parameters
    ----------
    table : astropy.table.Table
        The table. Column unit, description and ``meta["ucd"]`` become FIELD attributes;
        masked values become nulls. ``meta["ocml_params"]`` (dicts with ``name``, ``value``,
        ``ucd``, ``unit``, ``description``) and ``meta["votable_params"]`` become PARAMs,
        ``meta["votable_infos"]`` INFOs.
    dest : str, os.PathLike or binary file-like
        Where to write. An existing file at a path is replaced.
    tabledata : bool, optional
        Write TABLEDATA (XML cells) instead of BINARY2 (base64 rows).

    Raises
    ------
    InputError
        If a column cannot be represented in VOTable at all.
    """
    try:
        specs = [_column_spec(table[name]) for name in table.colnames]
    except _Unsupported:
        _astropy_write(table, dest, tabledata)
        return
    head, tail = _document(table, specs, tabledata)
    chunks = _tabledata_chunks(table, specs) if tabledata else _binary2_chunks(table, specs)
    if isinstance(dest, (str, os.PathLike)):
        with open(dest, "wb") as stream:
            _emit(stream, head, chunks, tail)
    else:
        _emit(dest, head, chunks, tail)


def _emit(stream: IO[bytes], head: bytes, chunks: Iterable[bytes], tail: bytes) -> None:
    """Write the header, the data chunks and the trailer to ``stream``."""
    stream.write(head)
    for chunk in chunks:
        stream.write(chunk)
    stream.write(tail)


def _binary_cells(column: Column, spec: _ColumnSpec) -> np.ndarray:
    """The values of one column in BINARY2 wire form (masked floats as NaN)."""
    mask = _mask_of(column)
    if spec.kind == "num":
        data = np.asarray(column.data if isinstance(column, MaskedColumn) else column)
        if data.dtype.kind == "f":
            return np.where(mask, np.nan, data)
        null = _declared_null(column)
        return np.where(mask, 0 if null is None else null, data) if mask.any() else data
    if spec.kind == "bool":
        data = np.asarray(column.data if isinstance(column, MaskedColumn) else column)
        return np.where(mask, ord("?"), np.where(data, ord("T"), ord("F"))).astype(np.uint8)
    codes = _string_codes(column)
    width = int(spec.arraysize)
    padded = np.zeros((len(column), width), dtype=np.uint32)
    padded[:, :codes.shape[1]] = codes
    if spec.kind == "char":
        return padded.astype(np.uint8).view(f"S{width}")[:, 0]
    return padded.astype(">u2")


def _binary2_chunks(table: Table, specs: list[_ColumnSpec]) -> Iterable[bytes]:
    """Yield the base64 text of the BINARY2 stream in 76-character lines."""
    raw = _fixed_part(table, specs).view(np.uint8)
    if any(spec.variable for spec in specs):
        raw = _interleave_variable(table, specs, raw)
    for lo in range(0, len(raw), _B64_CHUNK):
        yield _base64_lines(raw[lo:lo + _B64_CHUNK])


def _fixed_part(table: Table, specs: list[_ColumnSpec]) -> np.ndarray:
    """A structured array of the null flags and every fixed-width field of each row."""
    nfields = len(specs)
    nbytes = (nfields + 7) // 8
    fields = [("nulls", "u1", (nbytes,))]
    fields += [(f"f{i}", spec.wire) for i, spec in enumerate(specs) if not spec.variable]
    rows = np.zeros(len(table), dtype=np.dtype(fields))
    nulls = np.zeros((len(table), nfields), dtype=bool)
    for i, (name, spec) in enumerate(zip(table.colnames, specs)):
        if not spec.variable:
            rows[f"f{i}"] = _binary_cells(table[name], spec)
        nulls[:, i] = _row_nulls(table[name])
    rows["nulls"] = np.packbits(nulls, axis=1)
    return rows


def _interleave_variable(table: Table, specs: list[_ColumnSpec],
                         fixed: np.ndarray) -> np.ndarray:
    """Insert each row's variable-length strings (4-byte count + characters) into the rows.

    ``fixed`` holds the rows' fixed-width bytes in order; the variable parts go between them,
    so each byte's destination follows from run lengths alone (``np.repeat`` of a mask).
    """
    nrows = len(table)
    encoded = [_encoded_strings(table[name], spec)
               for name, spec in zip(table.colnames, specs) if spec.variable]
    sizes = np.array([[len(b) for b in column] for column in encoded],
                     dtype=np.int64).reshape(len(encoded), nrows).T
    chars = [2 if spec.kind == "unicode" else 1 for spec in specs if spec.variable]
    counts = (sizes // np.array(chars)).astype(">u4")
    nvar = len(encoded)
    runs = np.empty((nrows, 2 * nvar + 1), dtype=np.int64)
    runs[:, 0::2] = _fixed_gaps(specs, (len(specs) + 7) // 8)
    runs[:, 1::2] = 4 + sizes
    is_fixed = np.repeat(np.tile([True, False] * nvar + [True], nrows), runs.ravel())
    out = np.empty(len(is_fixed), dtype=np.uint8)
    out[is_fixed] = fixed
    pieces = np.empty((nrows, 2 * nvar), dtype=np.int64)
    pieces[:, 0::2] = 4
    pieces[:, 1::2] = sizes
    is_count = np.repeat(np.tile([True, False] * nvar, nrows), pieces.ravel())
    variable = np.empty(len(is_count), dtype=np.uint8)
    variable[is_count] = np.ascontiguousarray(counts).view(np.uint8).ravel()
    variable[~is_count] = np.frombuffer(b"".join(itertools.chain.from_iterable(zip(*encoded))),
                                        dtype=np.uint8)
    out[~is_fixed] = variable
    return out


def _encoded_strings(column: Column, spec: _ColumnSpec) -> list[bytes]:
    """The strings of a variable-length column as ASCII or UTF-16BE bytes."""
    codec = "utf_16_be" if spec.kind == "unicode" else "ascii"
    return [text.encode(codec) for text in _string_list(column)]


def _base64_lines(chunk: np.ndarray) -> bytes:
    """Base64-encode ``chunk`` into newline-terminated lines of 76 characters."""
    encoded = pybase64.b64encode(chunk)
    full = len(encoded) // _B64_LINE * _B64_LINE
    lines = np.frombuffer(encoded, dtype=np.uint8, count=full).reshape(-1, _B64_LINE)
    body = np.hstack([lines, np.full((len(lines), 1), ord("\n"), dtype=np.uint8)]).tobytes()
    rest = encoded[full:]
    return body + (rest + b"\n" if rest else b"")


def _tabledata_chunks(table: Table, specs: list[_ColumnSpec]) -> Iterable[bytes]:
    """Yield TABLEDATA rows, a block of rows at a time."""
    row = "<TR>" + "<TD>{}</TD>" * len(specs) + "</TR>\n"
    for lo in range(0, len(table), _ROW_CHUNK):
        block = table[lo:lo + _ROW_CHUNK]
        cells = [_td_texts(block[name], spec) for name, spec in zip(block.colnames, specs)]
        yield "".join(map(row.format, *cells)).encode("utf-8")


def _td_texts(column: Column, spec: _ColumnSpec) -> list[str]:
    """The TABLEDATA text of each cell of ``column`` (masked cells empty)."""
    mask = _mask_of(column)
    if spec.variable:
        return [escape(text) for text in _string_list(column)]
    if spec.kind in ("char", "unicode"):
        codes = _string_codes(column)
        if codes.shape[1] == 0:
            return [""] * len(column)
        texts = np.ascontiguousarray(codes).view(f"U{codes.shape[1]}")[:, 0]
        for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            texts = np.strings.replace(texts, char, entity)
        return np.where(mask, "", texts).tolist()
    data = np.asarray(column.data if isinstance(column, MaskedColumn) else column)
    texts = list(map(_formatter(data.dtype), data.ravel().tolist()))
    for index in np.flatnonzero(~np.isfinite(data.ravel()) if data.dtype.kind == "f" else []):
        texts[index] = _float_text(float(data.flat[index]))
    if data.ndim == 1:
        for index in np.flatnonzero(mask | (np.isnan(data) if data.dtype.kind == "f" else False)):
            texts[index] = ""
        return texts
    return _join_array_texts(texts, mask, column)


def _formatter(dtype: np.dtype) -> Any:
    """A fast str function for values of ``dtype`` (float32 with 9 digits: exact round trip)."""
    if dtype.kind == "b":
        return {True: "T", False: "F"}.__getitem__
    if dtype.kind == "f":
        return repr if dtype.itemsize == 8 else "%.9g".__mod__
    return str


def _join_array_texts(texts: list[str], mask: np.ndarray, column: Column) -> list[str]:
    """Space-join array cells; masked elements as NaN or the null, masked rows empty."""
    null = _declared_null(column)
    for index in np.flatnonzero(mask.ravel()):
        texts[index] = "NaN" if null is None else str(null)
    width = mask.shape[1]
    rows = [" ".join(texts[i:i + width]) for i in range(0, len(texts), width)]
    for index in np.flatnonzero(mask.all(axis=1)):
        rows[index] = ""
    return rows


# --- the XML around the data ---------------------------------------------------------------

_NAMESPACE = "http://www.ivoa.net/xml/VOTable/v1.3"


def _document(table: Table, specs: list[_ColumnSpec], tabledata: bool) -> tuple[bytes, bytes]:
    """Return the XML before and after the data content."""
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<VOTABLE version="1.4" xmlns="{_NAMESPACE}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{_NAMESPACE} {_NAMESPACE}">',
        ' <RESOURCE type="results">',
    ]
    lines += [_info_xml(info) for info in table.meta.get("votable_infos", [])]
    lines.append("  <TABLE" + _attrs({k: table.meta.get(k) for k in ("name", "ucd", "utype")})
                 + ">")
    if table.meta.get("description"):
        lines.append(f"   <DESCRIPTION>{escape(str(table.meta['description']))}</DESCRIPTION>")
    lines += [_param_xml(param) for param in _all_params(table.meta)]
    lines += [_field_xml(table[name], spec) for name, spec in zip(table.colnames, specs)]
    if tabledata:
        lines.append("   <DATA><TABLEDATA>\n")
        tail = "</TABLEDATA></DATA>"
    else:
        lines.append('   <DATA><BINARY2><STREAM encoding="base64">\n')
        tail = "</STREAM></BINARY2></DATA>"
    tail += "\n  </TABLE>\n" + _extra_table_xml(table.meta.get("ocml_clusters"))
    tail += " </RESOURCE>\n</VOTABLE>\n"
    return "\n".join(lines).encode("utf-8"), tail.encode("utf-8")


def _extra_table_xml(extra: Table | None) -> str:
    """A second, small TABLE of the same RESOURCE (TABLEDATA), e.g. the clusters' summary."""
    if extra is None:
        return ""
    specs = [_column_spec(extra[name]) for name in extra.colnames]
    lines = ["  <TABLE" + _attrs({"name": extra.meta.get("name")}) + ">"]
    if extra.meta.get("description"):
        lines.append(f"   <DESCRIPTION>{escape(str(extra.meta['description']))}</DESCRIPTION>")
    lines += [_field_xml(extra[name], spec) for name, spec in zip(extra.colnames, specs)]
    rows = b"".join(_tabledata_chunks(extra, specs)).decode("utf-8")
    lines.append(f"   <DATA><TABLEDATA>\n{rows}</TABLEDATA></DATA>")
    return "\n".join(lines) + "\n  </TABLE>\n"


def _field_xml(column: Column, spec: _ColumnSpec) -> str:
    """The FIELD element of one column."""
    meta = column.meta or {}
    attrs = {
        "name": column.name,
        "datatype": spec.datatype,
        "arraysize": spec.arraysize,
        "unit": _unit_text(column.unit) if column.unit is not None else None,
        "ucd": meta.get("ucd"),
        "utype": meta.get("utype"),
        "xtype": meta.get("xtype"),
        "width": meta.get("width"),
        "precision": meta.get("precision"),
    }
    inner = _description_xml(column.description)
    null = _declared_null(column)
    if null is not None and spec.kind == "num" and column.dtype.kind in "iu":
        inner += f"<VALUES null={quoteattr(str(null))}/>"
    return f"   <FIELD{_attrs(attrs)}>{inner}</FIELD>" if inner else f"   <FIELD{_attrs(attrs)}/>"


def _astropy_write(table: Table, dest: str | os.PathLike | IO[bytes], tabledata: bool) -> None:
    """Write with astropy's writer (for column types the fast writer does not handle)."""
    plain = table.copy(copy_data=False)
    plain.meta = {k: v for k, v in table.meta.items() if isinstance(v, str)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            vot = votable.from_table(plain)
        except Exception as exc:
            raise InputError(f"cannot write this table as VOTable: {_describe(exc)}") from exc
        element = vot.get_first_table()
        element.format = "tabledata" if tabledata else "binary2"
        for param in _all_params(table.meta):
            element.params.append(_astropy_param(vot, param))
        for info in table.meta.get("votable_infos", []):
            vot.resources[0].infos.append(votable.tree.Info(
                **{k: v for k, v in info.items() if k in _INFO_ATTRS}))
            vot.resources[0].infos[-1].content = info.get("content")
        vot.to_xml(dest if not isinstance(dest, os.PathLike) else os.fspath(dest))
