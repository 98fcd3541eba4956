"""The table formats vo_ocml reads and writes, and the file suffixes that imply them.

A light module (no astropy), so that every shell can list the formats cheaply.
"""

from __future__ import annotations

#: format name → file suffixes that imply it
FORMATS = {
    "votable": (".vot", ".xml", ".votable", ".vo"),
    "fits": (".fits", ".fit", ".fts", ".fits.gz"),
    "csv": (".csv",),
    "ecsv": (".ecsv",),
}
