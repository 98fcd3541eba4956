"""Atomic file writes: a reader never sees a half-written file (TAP cache, batch results)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[str], object]) -> None:
    """Write ``path`` through a temporary file in the same directory, then :func:`os.replace`.

    Parameters
    ----------
    path : Path
        The file to create or replace; its directory is created if missing.
    write : callable
        Called with the temporary file's name; writes the whole content there.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
