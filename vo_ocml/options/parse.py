"""Value parsers of the options model: strings (CLI, SAMP) and Python values alike.

Every parser is called as ``parse(name, value)`` and returns the value in its Python type or
raises :class:`~vo_ocml.errors.InputError` with one message per kind of mistake,
``"<name> must be <what>; got <value>"``, the same whichever shell the value came from (values
are shown as the user would type them: ``1.0``, ``0.5,0.5``, never a Python repr).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vo_ocml.errors import InputError

#: a parser: (option name, value) → parsed value
Parser = Callable[[str, Any], Any]
#: longest piece of a bad value quoted back in a message
SHOWN = 100
#: spellings of true and false accepted from strings
TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def show(value: Any) -> str:
    """A value as the user would type it (comma-separated for sequences, QUANTITY=COLUMN maps)."""
    if isinstance(value, Mapping):
        text = ",".join(f"{k}={v}" for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        text = ",".join(show(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= SHOWN else text[:SHOWN] + "…"


def fail(name: str, what: str, value: Any) -> InputError:
    """The one message of a bad value."""
    return InputError(f"{name} must be {what}; got {show(value)}")


def interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """A range in words and brackets, e.g. "in [0, 1)", "> 0", "≥ 1"."""
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '≥'} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '≤'} {high:g}"
    return ""


def number(low: float | None = None, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False, integer: bool = False, none: str | None = None) -> Parser:
    """A finite number (an integer if ``integer``) in a range; ``none``: the word meaning None."""
    kind = "an integer" if integer else "a number"
    where = interval(low, high, low_open, high_open)
    what = f"{kind} {where}".strip() + (f" or {none}" if none else "")

    def parse(name: str, value: Any) -> Any:
        if none is not None and (value is None or (isinstance(value, str)
                                                   and value.strip().lower() == none)):
            return None
        if isinstance(value, bool):
            raise fail(name, what, value)
        try:
            x = float(value.strip()) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            raise fail(name, what, value) from None
        if not math.isfinite(x) or (integer and x != int(x)):
            raise fail(name, what, value)
        if low is not None and (x < low or (low_open and x == low)):
            raise fail(name, what, value)
        if high is not None and (x > high or (high_open and x == high)):
            raise fail(name, what, value)
        return int(x) if integer else x

    parse.what = what  # type: ignore[attr-defined]
    parse.metavar = "N" if integer else "X"  # type: ignore[attr-defined]
    return parse


def choice(choices: Sequence[str], *, also: Parser | None = None) -> Parser:
    """One of the strings ``choices``, else what ``also`` accepts."""
    names = ", ".join(show(c) for c in choices)
    what = f"{names} or {also.what}" if also is not None else f"one of {names}"  # type: ignore[attr-defined]

    def parse(name: str, value: Any) -> Any:
        if isinstance(value, str) and value.strip() in choices:
            return value.strip()
        if also is not None:
            try:
                return also(name, value)
            except InputError:
                pass
        raise fail(name, what, value)

    parse.what = what  # type: ignore[attr-defined]
    parse.metavar = "|".join(choices) + ("|" + also.metavar if also is not None  # type: ignore[attr-defined]
                                         and hasattr(also, "metavar") else "")
    return parse


def boolean(name: str, value: Any) -> bool:
    """True or false (from strings: true/false, yes/no, on/off, 1/0)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
        return value.strip().lower() in TRUE
    raise fail(name, "true or false", value)


boolean.what = "true or false"  # type: ignore[attr-defined]
boolean.metavar = "true|false"  # type: ignore[attr-defined]


def text(name: str, value: Any) -> str | None:
    """A non-empty string (None stays None)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise fail(name, "a non-empty string", value)
    return value.strip()


text.what = "a non-empty string"  # type: ignore[attr-defined]
text.metavar = "TEXT"  # type: ignore[attr-defined]


def numbers(count: int | None, item: Parser, *, none: bool = False) -> Parser:
    """``count`` values (any number ≥ 1 when None) each parsed by ``item``: a list or tuple, or a
    string "a,b,c" (or "a b c"). Returns a tuple; None stays None when ``none``."""
    size = f"{count} " if count else ""
    what = f"{size}comma-separated values, each {item.what}"  # type: ignore[attr-defined]

    def parse(name: str, value: Any) -> Any:
        if value is None and none:
            return None
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
            value = " ".join(value)  # CLI: "--flag 1 2 3" or "--flag 1,2,3"
        parts = value.replace(",", " ").split() if isinstance(value, str) else value
        if not isinstance(parts, (list, tuple)) or (count and len(parts) != count) or not parts:
            raise fail(name, what, value)
        try:
            return tuple(item(name, p) for p in parts)
        except InputError:
            raise fail(name, what, value) from None

    parse.what = what  # type: ignore[attr-defined]
    return parse


_two_numbers = numbers(2, number())


def sky_position(name: str, value: Any) -> tuple[float, float]:
    """RA, Dec in degrees (ICRS): RA in [0, 360], Dec in [-90, 90], as two numbers or "ra,dec"."""
    what = sky_position.what  # type: ignore[attr-defined]
    try:
        ra, dec = _two_numbers(name, value)
    except InputError:
        raise fail(name, what, value) from None
    if not (0.0 <= ra <= 360.0 and -90.0 <= dec <= 90.0):
        raise fail(name, what, value)
    return ra, dec


sky_position.what = "RA,DEC in degrees (RA in [0, 360], Dec in [-90, 90])"  # type: ignore[attr-defined]


def column_map(name: str, value: Any) -> dict[str, str]:
    """Column overrides: a map QUANTITY → COLUMN, or "QUANTITY=COLUMN" strings (a list, or one
    string with several separated by commas)."""
    what = "QUANTITY=COLUMN pairs (e.g. parallax=plx_corr)"
    if value is None:
        return {}
    if isinstance(value, Mapping):
        items = list(value.items())
    else:
        texts = value.split(",") if isinstance(value, str) else value
        if not isinstance(texts, (list, tuple)):
            raise fail(name, what, value)
        items = []
        for t in texts:
            if not isinstance(t, str) or "=" not in t:
                raise fail(name, what, value)
            items.append(tuple(t.split("=", 1)))
    out = {}
    for quantity, column in items:
        if not (isinstance(quantity, str) and isinstance(column, str)
                and quantity.strip() and column.strip()):
            raise fail(name, what, value)
        out[quantity.strip()] = column.strip()
    return out


column_map.what = "QUANTITY=COLUMN pairs"  # type: ignore[attr-defined]
