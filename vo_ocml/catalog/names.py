"""Loose matching of open-cluster names ("NGC 2682", "NGC_2682", "ngc2682", "M67", "Mel 22")."""

from __future__ import annotations

import re

#: common prefixes and their canonical form, applied after lower-casing
_PREFIXES = {
    "messier": "m",
    "mel": "melotte",
    "cr": "collinder",
    "col": "collinder",
    "tr": "trumpler",
    "be": "berkeley",
    "berk": "berkeley",
    "rup": "ruprecht",
    "ru": "ruprecht",
}
#: a designation: letters, separators, then what starts with a digit
_DESIGNATION = re.compile(r"([a-z]+)[\s_.\-]*(\d.*)$")
_DIGITS = re.compile(r"\d+")
_SEPARATORS = re.compile(r"[\s_.]+")


def normalize_name(name: str) -> str:
    """Reduce a cluster name to a comparison key.

    Lower-case; spaces, underscores, hyphens and dots removed; abbreviations expanded
    ("Mel" → "melotte", "Cr" → "collinder", "Messier" → "m"); leading zeros of the number
    dropped ("NGC 0752" → "ngc752"). The sign of designations like "FSR_0001" or
    "AH03_J0748-26.9" is kept by keeping digits that follow a letter intact.

    Parameters
    ----------
    name : str
        Any spelling of a cluster name.

    Returns
    -------
    str
        The comparison key.
    """
    text = name.strip().lower()
    match = _DESIGNATION.match(text)
    if match:
        prefix, rest = match.groups()
        prefix = _PREFIXES.get(prefix, prefix)
        rest = rest.lstrip("0") or "0" if _DIGITS.fullmatch(rest) else rest
        text = prefix + rest
    return _SEPARATORS.sub("", text)
