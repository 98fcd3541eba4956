"""Reading VOTables: the fast vectorised path, and astropy for what it does not handle."""

from __future__ import annotations

import copy
import io
import logging
import os
import re
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import votable
from astropy.table import Column, MaskedColumn, Table

from vo_ocml.errors import InputError

from vo_ocml.io.votable.binary import _decode_binary
from vo_ocml.io.votable.common import Source
from vo_ocml.io.votable.common import Unsupported as _Unsupported
from vo_ocml.io.votable.common import describe as _describe
from vo_ocml.io.votable.fields import _field_spec
from vo_ocml.io.votable.params import _store_params_infos
from vo_ocml.io.votable.tabledata import _decode_tabledata

log = logging.getLogger(__name__)


class _Undecodable(Exception):
    """The data content does not decode (truncated or corrupt cells): astropy gets a try."""

_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"
_DATA_START = re.compile(rb"<(" + _PREFIX + rb")(TABLEDATA|BINARY2|BINARY|FITS)\b[^>]*?(/?)>")
_ENCODING = re.compile(rb"\s*<\?xml[^>]*?encoding\s*=\s*[\"']([\w.-]+)")
_STREAM_START = re.compile(rb"<" + _PREFIX + rb"STREAM\b([^>]*?)(/?)>")


def read_votable(source: Source) -> Table:
    """Read the first table of a VOTable document.

    Parameters
    ----------
    source : str, os.PathLike, bytes or binary file-like
        A path, the document itself, or an open binary stream.

    Returns
    -------
    astropy.table.Table
        The table as astropy would return it with ``use_names_over_ids=True`` (every column a
        ``MaskedColumn``), plus ``meta["votable_params"]`` and ``meta["votable_infos"]``.

    Raises
    ------
    InputError
        If the source cannot be read or is not a well-formed VOTable with a table.
    """
    data = _read_bytes(source)
    try:
        return _fast_read(data)
    except _Unsupported as why:  # a feature the fast path leaves to astropy, by name
        log.debug("VOTable read by astropy: %s", why)
        return _astropy_read(data)
    except _Undecodable as why:  # data the fast decoders reject: astropy's to read or reject
        table = _astropy_read(data)
        log.warning("the fast VOTable reader could not decode this table (%s) but astropy "
                    "could; please report the file to vo_ocml's authors", why)
        return table


def _read_bytes(source: Source) -> bytes:
    """Return the bytes of ``source`` (path, bytes-like or binary file-like)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read VOTable file {os.fspath(source)!r}: {exc}") from exc
    if hasattr(source, "read"):
        data = source.read()
        if isinstance(data, str):
            raise InputError("VOTable streams must be opened in binary mode, not text mode")
        return bytes(data)
    raise InputError(f"cannot read a VOTable from an object of type {type(source).__name__}")


def _parse_tree(data: bytes) -> votable.tree.VOTableFile:
    """Parse a document with astropy, turning its errors into :class:`InputError`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return votable.parse(io.BytesIO(data), verify="ignore")
        except Exception as exc:  # astropy raises expat, VOTable spec and value errors
            raise InputError(f"not a readable VOTable: {_describe(exc)}") from exc


def _astropy_read(data: bytes) -> Table:
    """Read ``data`` with astropy's own parser (the fallback path)."""
    vot = _parse_tree(data)
    try:
        element = vot.get_first_table()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = element.to_table(use_names_over_ids=True)
    except Exception as exc:
        raise InputError(f"the VOTable holds no readable table: {_describe(exc)}") from exc
    _store_params_infos(table, vot)
    return table


@dataclass(frozen=True)
class _Split:
    """A document cut into its data content and the XML skeleton around it."""

    serialization: str  # "TABLEDATA", "BINARY" or "BINARY2"
    content: memoryview
    skeleton: bytes


def _split(data: bytes) -> _Split:
    """Cut the single DATA content out of ``data``; raise ``_Unsupported`` if unusual."""
    match = _DATA_START.search(data)
    if match is None or match.group(1):
        raise _Unsupported("no DATA element, or a namespace prefix")
    kind = match.group(2).decode()
    if kind == "FITS":
        raise _Unsupported("FITS serialization")
    if match.group(3):  # <TABLEDATA/> or <BINARY/>: no rows
        start = end = match.end()
    elif kind == "TABLEDATA":
        start = match.end()
        end = data.find(b"</TABLEDATA>", start)
    else:
        stream = _STREAM_START.match(data, _skip_space(data, match.end()))
        if stream is None or stream.group(2) or b"href" in stream.group(1):
            raise _Unsupported("STREAM missing, empty or remote")
        if b"base64" not in stream.group(1):
            raise _Unsupported("STREAM encoding other than base64")
        start = stream.end()
        end = data.find(b"</STREAM>", start)
    if end < 0:
        raise InputError(f"malformed VOTable: the {kind} element is never closed")
    skeleton = data[:start] + data[end:]
    if len(_DATA_START.findall(skeleton)) != 1:
        raise _Unsupported("more than one DATA element")
    return _Split(kind, memoryview(data)[start:end], skeleton)


def _declared_utf8(data: bytes) -> bool:
    """True if the XML declaration names no encoding, UTF-8 or ASCII."""
    match = _ENCODING.match(data)
    return match is None or match.group(1).lower() in (b"utf-8", b"utf8", b"us-ascii", b"ascii")


def _skip_space(data: bytes, pos: int) -> int:
    """Return the first position at or after ``pos`` that is not XML whitespace."""
    while pos < len(data) and data[pos] in b" \t\r\n":
        pos += 1
    return pos


def _fast_read(data: bytes) -> Table:
    """Read ``data`` with the vectorised decoders; raise ``_Unsupported`` to fall back."""
    split = _split(data)
    vot = _parse_tree(split.skeleton)
    tables = list(vot.iter_tables())
    if len(tables) != 1:
        raise _Unsupported("not exactly one TABLE")
    element = tables[0]
    if list(element.fields) != list(element.all_fields):
        raise _Unsupported("FIELDs inside GROUPs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        template = element.to_table(use_names_over_ids=True)
    if len(template) != 0 or not element.fields:
        raise _Unsupported("unexpected skeleton")
    specs = [_field_spec(field, template[name]) for field, name in
             zip(element.fields, template.colnames)]
    if split.serialization == "TABLEDATA":
        if vot.version < "1.3":
            raise _Unsupported("pre-1.3 TABLEDATA null semantics")
        if not _declared_utf8(data):
            raise _Unsupported("TABLEDATA in an encoding other than UTF-8")
    try:
        if split.serialization == "TABLEDATA":
            decoded = _decode_tabledata(split.content, specs)
        else:
            decoded = _decode_binary(split.content, specs, split.serialization == "BINARY2")
    except InputError:  # the decoders' own diagnosis (InputError is also a ValueError)
        raise
    except (ValueError, IndexError, struct.error) as exc:  # cells that do not decode
        raise _Undecodable(f"{split.serialization}: {_describe(exc)}") from exc
    table = Table(
        [_make_column(template[name], values, mask)
         for name, (values, mask) in zip(template.colnames, decoded)],
        meta=copy.deepcopy(template.meta),
        copy=False,
    )
    _store_params_infos(table, vot)
    return table


def _make_column(template: Column, values: np.ndarray, mask: np.ndarray) -> MaskedColumn:
    """Return a ``MaskedColumn`` with ``template``'s name and metadata."""
    return MaskedColumn(
        values,
        mask=mask,
        name=template.name,
        unit=template.unit,
        description=template.description,
        format=template.format,
        meta=copy.deepcopy(template.meta),
        copy=False,
    )
