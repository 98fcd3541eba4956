"""What the SAMP service says: ASCII-safe values, message summaries for the log, its docs URL."""

from __future__ import annotations

import importlib.metadata
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def documentation_url() -> str | None:
    """The documentation URL for ``samp.documentation.url``.

    The ``Documentation`` project URL of the installed distribution, else ``docs/samp.md`` of
    a source checkout as a ``file://`` URL, else None.
    """
    try:
        for entry in importlib.metadata.metadata("vo_ocml").get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() == "documentation":
                return url.strip()
    except importlib.metadata.PackageNotFoundError:
        pass
    doc = Path(__file__).resolve().parents[2] / "docs" / "samp.md"
    return doc.as_uri() if doc.exists() else None


#: ASCII stand-ins for characters the pipeline's texts use (SAMP strings are ASCII only)
_ASCII = str.maketrans({"±": "+/-", "—": "-", "–": "-", "→": "->", "·": "-", "×": "x",
                        "≥": ">=", "≤": "<=", "°": " deg", "′": "'", "″": '"', "…": "..."})


def samp_value(value: Any) -> Any:
    """Make a value legal in a SAMP message: strings become printable ASCII.

    The SAMP standard restricts strings to ASCII (JSAMP, hence TOPCAT's hub, refuses the
    whole message otherwise); maps and lists are converted recursively.
    """
    if isinstance(value, Mapping):
        return {samp_value(k): samp_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [samp_value(v) for v in value]
    text = str(value).translate(_ASCII)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(c if c.isprintable() or c in "\t\n\r" else " " for c in text)


def brief(params: Mapping[str, Any], limit: int = 300) -> str:
    text = repr(dict(params)) if isinstance(params, Mapping) else repr(params)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"
