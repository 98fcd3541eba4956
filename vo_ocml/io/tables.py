"""Read any table astronomers send; write annotated tables with their provenance.

VOTables (TABLEDATA, BINARY, BINARY2) go through the fast vectorised path of
:mod:`vo_ocml.io.votable` (astropy for anything unusual); FITS, CSV and ECSV through astropy.
Provenance travels in ``table.meta["ocml_params"]`` (dicts with name, value, ucd, unit,
description): VOTable PARAMs, FITS header keywords, ECSV metadata. CSV has no metadata.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import IO, Any

import json

import numpy as np
from astropy.table import Table

from vo_ocml.errors import InputError
from vo_ocml.io.formats import FORMATS
from vo_ocml.io.votable import read_votable, write_votable

_ASTROPY_FORMAT = {"fits": "fits", "csv": "ascii.csv", "ecsv": "ascii.ecsv"}


def format_from_name(name: str | os.PathLike) -> str | None:
    """The format a file name's suffix implies, or None."""
    lower = str(name).lower()
    for fmt, suffixes in FORMATS.items():
        if lower.endswith(suffixes):
            return fmt
    return None


def _sniff(head: bytes) -> str | None:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"SIMPLE  =") or text.startswith(b"\x1f\x8b"):
        return "fits"
    if text.startswith(b"<"):
        return "votable"
    if text.startswith(b"# %ECSV"):
        return "ecsv"
    return None


def read_table(source: str | os.PathLike | bytes | IO[bytes], format: str | None = None) -> Table:
    """Read a table from a path, bytes or a binary file-like object.

    Parameters
    ----------
    source : path, bytes or binary file-like
        The table.
    format : {"votable", "fits", "csv", "ecsv"}, optional
        Forced format; by default from the file name, else from the content.

    Returns
    -------
    astropy.table.Table

    Raises
    ------
    InputError
        The file is missing, unreadable or not a table in a supported format.
    """
    if format is not None and format not in FORMATS:
        raise InputError(f"Unknown table format {format!r}; use one of {', '.join(FORMATS)}.")
    label = "the table"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = str(path)
        if not path.exists():
            raise InputError(f"No such file: {path}.")
        if path.is_dir():
            raise InputError(f"{path} is a directory, not a table file.")
        format = format or format_from_name(path)
        data = path.read_bytes()
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        data = source.read()
    if not data or data.isspace():  # a scan; data.strip() would copy the whole table
        raise InputError(f"{label} is empty ({len(data)} bytes"
                         f"{', whitespace only' if data else ''}): no table to read.")
    format = format or _sniff(data[:512]) or "csv"
    try:
        if format == "votable":
            return read_votable(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Table.read(io.BytesIO(data) if format == "fits" else data.decode("utf-8"),
                              format=_ASTROPY_FORMAT[format])
    except Exception as exc:  # astropy raises many types for bad files
        detail = " ".join(str(exc).split())[:300].rstrip(".")
        raise InputError(
            f"Could not read {label} as {format.upper()}: {detail}. vo_ocml reads VOTable "
            "(TABLEDATA, BINARY, BINARY2), FITS binary tables, CSV with a header line and ECSV; "
            "name the format explicitly if it was guessed wrongly ({@format})."
        ) from None


def write_table(table: Table, path: str | os.PathLike, format: str | None = None, *,
                overwrite: bool = False, tabledata: bool = False) -> Path:
    """Write ``table`` with its ``meta["ocml_params"]`` provenance.

    Parameters
    ----------
    table : astropy.table.Table
        The table to write.
    path : path
        Destination; its suffix gives the format unless ``format`` is set.
    format : {"votable", "fits", "csv", "ecsv"}, optional
        Output format (default: from the suffix, VOTable when the suffix says nothing).
    overwrite : bool
        Replace an existing file; otherwise an existing file is an error.
    tabledata : bool
        VOTable only: TABLEDATA serialisation instead of BINARY2.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    InputError
        The file exists and ``overwrite`` is False, or the format is unknown.
    """
    path = Path(path)
    format = format or format_from_name(path) or "votable"
    if format not in FORMATS:
        raise InputError(f"Unknown output format {format!r}; use one of {', '.join(FORMATS)}.")
    if path.exists() and not overwrite:
        raise InputError(f"{path} exists already; vo_ocml does not overwrite files unless "
                         "asked ({@overwrite}).")
    if format == "votable":
        write_votable(table, path, tabledata=tabledata)
        return path
    out = table.copy(copy_data=False)
    params = out.meta.pop("ocml_params", [])
    for key in ("votable_params", "votable_infos", "ocml_clusters"):  # VOTable only
        out.meta.pop(key, None)
    if format == "fits":
        out.meta.update({p["name"].upper(): _fits_value(p["value"]) for p in params})
    elif format == "ecsv":
        out.meta["ocml_params"] = [{k: v for k, v in p.items() if v is not None} for p in params]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITS: HIERARCH keyword notices
        out.write(path, format=_ASTROPY_FORMAT[format], overwrite=True)
    return path


def param(name: str, value: Any, ucd: str | None = None, unit: str | None = None,
          description: str | None = None) -> dict[str, Any]:
    """One provenance PARAM for ``table.meta["ocml_params"]``.

    numpy scalars become Python numbers, lists/tuples/dicts become JSON text and None an
    empty string, so that every writer (VOTable, FITS, ECSV) can store the value.
    """
    if isinstance(value, (list, tuple, dict)):
        value = json.dumps(value, default=float)
    elif isinstance(value, np.generic):
        value = value.item()
    elif value is None:
        value = ""
    return {"name": name, "value": value, "ucd": ucd, "unit": unit, "description": description}


def _fits_value(value):
    if value is None:
        return ""
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
