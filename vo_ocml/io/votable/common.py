"""What the VOTable reader and writer share: datatypes, byte codes, the fallback signal."""

from __future__ import annotations

import os
import re
from typing import IO

import numpy as np


Source = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes]

#: VOTable numeric datatypes → numpy types
NUMERIC_KINDS = {
    "unsignedByte": np.uint8,
    "short": np.int16,
    "int": np.int32,
    "long": np.int64,
    "float": np.float32,
    "double": np.float64,
}
BOOL_TRUE = b"Tt1"
BOOL_FALSE = b"Ff0"
BOOL_NULL = b"\0 ?"
#: rows decoded or encoded per block
ROW_CHUNK = 131072
#: base64 line length, and bytes encoding to a whole number of lines
B64_LINE = 76
B64_CHUNK = 57 * 65536
_XML_ERROR = re.compile(r"^(?:None:)?(\d+):(\d+): (.*)$")
_NOT_SYNTAX = re.compile(r"(\w+Error|[EW]\d\d): ")


class Unsupported(Exception):
    """The fast path does not handle this document or table (astropy does): a named reason."""


def describe(exc: BaseException) -> str:
    """Return a one-line description of an exception (XML syntax errors with their place)."""
    text = " ".join(str(exc).split())
    where = _XML_ERROR.match(text)
    if where is None:
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    line, column, message = where.groups()
    if _NOT_SYNTAX.match(message):
        return f"{message} (line {line}, column {column})"
    return f"malformed XML at line {line}, column {column}: {message}"
