"""Decoding TABLEDATA with numpy: every tag located at once, cell texts sliced and parsed."""

from __future__ import annotations

import html

import numpy as np

from vo_ocml.errors import InputError

from vo_ocml.io.votable.binary import _gather, _null_mask
from vo_ocml.io.votable.common import Unsupported as _Unsupported
from vo_ocml.io.votable.fields import _FieldSpec


_TAG_TR, _TAG_END_TR, _TAG_TD, _TAG_END_TD, _TAG_EMPTY_TD = 1, 2, 3, 4, 5
_TAG_WORDS = {b"<TR>": _TAG_TR, b"</TR": _TAG_END_TR, b"<TD>": _TAG_TD, b"</TD": _TAG_END_TD,
              b"<TD/": _TAG_EMPTY_TD}


def _decode_tabledata(content: memoryview,
                      specs: list[_FieldSpec]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Decode TABLEDATA by locating every tag with numpy and slicing the cell texts."""
    buffer = np.frombuffer(content, dtype=np.uint8)
    tags, codes = _expand_empty_cells(*_classify_tags(buffer, _find_byte(buffer, ord("<"))))
    nfields = len(specs)
    per_row = 2 + 2 * nfields
    if len(codes) % per_row:
        raise _Unsupported("irregular TABLEDATA")
    pattern = np.array([_TAG_TR] + [_TAG_TD, _TAG_END_TD] * nfields + [_TAG_END_TR])
    grid = codes.reshape(-1, per_row)
    if not np.array_equal(grid, np.broadcast_to(pattern, grid.shape)):
        raise _Unsupported("irregular TABLEDATA")
    positions = tags.reshape(-1, per_row)
    return [_decode_td_column(buffer, positions[:, 1 + 2 * j] + 4, positions[:, 2 + 2 * j], spec)
            for j, spec in enumerate(specs)]


def _find_byte(buffer: np.ndarray, byte: int) -> np.ndarray:
    """Positions of ``byte`` in ``buffer`` (int32 when it fits), found a block at a time."""
    dtype = np.int32 if len(buffer) < 2**31 else np.int64
    block = 1 << 26
    found = [np.flatnonzero(buffer[lo:lo + block] == byte).astype(dtype) + dtype(lo)
             for lo in range(0, len(buffer), block)]
    return np.concatenate(found) if found else np.zeros(0, dtype=dtype)


def _classify_tags(buffer: np.ndarray, tags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Code each ``<`` as <TR>, </TR>, <TD>, </TD> or <TD/>; raise ``_Unsupported`` for others."""
    if len(tags) == 0:
        return tags, np.zeros(0, dtype=np.int8)
    if tags[-1] > len(buffer) - 5:
        raise _Unsupported("TABLEDATA ends inside a tag")
    words = np.lib.stride_tricks.sliding_window_view(buffer, 4)[tags].view("<u4")[:, 0]
    codes = np.zeros(len(tags), dtype=np.int8)
    for word, code in _TAG_WORDS.items():
        codes[words == np.frombuffer(word, dtype="<u4")[0]] = code
    five = np.flatnonzero(np.isin(codes, (_TAG_END_TR, _TAG_END_TD, _TAG_EMPTY_TD)))
    codes[five[buffer[tags[five] + 4] != ord(">")]] = 0  # five-character tags end in ">"
    if np.any(codes == 0):
        raise _Unsupported("tags other than TR/TD, attributes, comments or CDATA")
    return tags, codes


def _expand_empty_cells(tags: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn each ``<TD/>`` into a ``<TD>``/``</TD>`` pair enclosing nothing."""
    empty = codes == _TAG_EMPTY_TD
    if not empty.any():
        return tags, codes
    repeats = 1 + empty
    first = (np.cumsum(repeats) - repeats)[empty]
    tags, codes = np.repeat(tags, repeats), np.repeat(codes, repeats)
    codes[first], codes[first + 1] = _TAG_TD, _TAG_END_TD
    tags[first] -= 4  # so that the cell text starts (4 bytes after "<TD>") where it ends
    return tags, codes


def _cell_texts(buffer: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Return the stripped cell texts between ``starts`` and ``ends`` as an ``S`` array."""
    lengths = ends - starts
    width = max(int(lengths.max(initial=0)), 1)
    return np.strings.strip(_gather(buffer, starts, width, lengths).view(f"S{width}")[:, 0])


def _decode_td_column(buffer: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                      spec: _FieldSpec) -> tuple[np.ndarray, np.ndarray]:
    """Convert the texts of one TABLEDATA column to astropy's values and mask."""
    texts = _cell_texts(buffer, starts, ends)
    if spec.kind in ("char", "unicode"):
        return _td_strings(texts, spec), np.zeros(len(texts), dtype=bool)
    if np.any(np.strings.find(texts, b"&") >= 0):
        raise _Unsupported("entities in a numeric column")
    if spec.kind == "bool":
        if spec.shape:
            raise _Unsupported("boolean arrays in TABLEDATA")
        return _td_bools(texts)
    if spec.shape:
        return _td_numeric_arrays(texts, spec)
    empty = texts == b""
    values = _parse_numbers(np.where(empty, b"0", texts), spec, texts.shape)
    mask = _null_mask(values, spec.null) | empty
    if values.dtype.kind in "iu":
        mask |= np.strings.lower(texts) == b"nan"
    return values, mask


def _parse_numbers(texts: np.ndarray, spec: _FieldSpec, shape: tuple[int, ...]) -> np.ndarray:
    """Parse number texts (ints may be ``nan`` for null) to ``spec.dtype``."""
    try:
        if spec.dtype.kind == "f":
            return texts.astype(np.float64).astype(spec.dtype).reshape(shape)
        lowered = np.strings.lower(texts)
        if np.any(np.strings.startswith(lowered, b"0x")):
            raise _Unsupported("hexadecimal integers")
        clean = np.where(lowered == b"nan", b"0", lowered)
        wide = clean.astype(np.int64)
    except (ValueError, OverflowError) as exc:
        raise _Unsupported("unparseable number") from exc
    info = np.iinfo(spec.dtype)
    if np.any((wide < info.min) | (wide > info.max)):
        raise _Unsupported("integer out of range")
    return wide.astype(spec.dtype).reshape(shape)


def _td_numeric_arrays(texts: np.ndarray, spec: _FieldSpec) -> tuple[np.ndarray, np.ndarray]:
    """Parse fixed-size numeric arrays written as space-separated TABLEDATA cells."""
    items = int(np.prod(spec.shape))
    empty = texts == b""
    filler = b" ".join([b"0"] * items)
    tokens = np.array(b" ".join(np.where(empty, filler, texts).tolist()).split(), dtype=bytes)
    if len(tokens) != len(texts) * items:
        raise _Unsupported("array cells of the wrong size")
    shape = (len(texts),) + spec.shape
    values = _parse_numbers(tokens, spec, shape)
    mask = _null_mask(values, spec.null) | empty.reshape((-1,) + (1,) * len(spec.shape))
    if values.dtype.kind in "iu":
        mask |= (np.strings.lower(tokens) == b"nan").reshape(shape)
    return values, mask


def _td_bools(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map TABLEDATA booleans (case-insensitive T/F/TRUE/FALSE/1/0, ?/empty null)."""
    upper = np.strings.upper(texts)
    true = np.isin(upper, [b"T", b"TRUE", b"1"])
    false = np.isin(upper, [b"F", b"FALSE", b"0"])
    null = np.isin(upper, [b"", b"?", b"\0"])
    if not np.all(true | false | null):
        raise _Unsupported("invalid boolean text")
    return true, null


def _td_strings(texts: np.ndarray, spec: _FieldSpec) -> np.ndarray:
    """Decode UTF-8 cell texts, resolving XML entities, to the column's string dtype."""
    try:
        strings = np.strings.decode(texts, "utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"malformed VOTable: TABLEDATA is not UTF-8 ({exc})") from exc
    entity = np.flatnonzero(np.strings.find(strings, "&") >= 0)
    if spec.variable or len(entity):
        strings = strings.astype(object)
        strings[entity] = [html.unescape(s) for s in strings[entity]]
    return strings.astype(spec.dtype, copy=False)


# --- PARAMs and INFOs ----------------------------------------------------------------------

# IDs are left out: they are only meaningful with the references that are not kept
