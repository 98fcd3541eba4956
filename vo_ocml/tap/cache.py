"""On-disk cache of TAP results, keyed by the exact query text, service URL and row limit.

Each entry is a VOTable (BINARY2) plus a JSON sidecar recording the service, query, row
limit, row count and fetch date. Entries are written atomically (temporary file, then
rename), so an interrupted fetch never leaves a half-written result behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from astropy.table import Table

from vo_ocml.io.atomic import atomic_write

__all__ = ["CacheEntry", "QueryCache", "default_cache_dir"]

#: environment variable overriding the default cache directory
CACHE_ENV = "VO_OCML_CACHE"


def default_cache_dir() -> Path:
    """Return the cache directory: ``$VO_OCML_CACHE``, else ``$XDG_CACHE_HOME/vo_ocml/tap``
    (``~/.cache/vo_ocml/tap``).

    Returns
    -------
    pathlib.Path
        The directory (not created here).
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "vo_ocml" / "tap"


def _normalise_url(url: str) -> str:
    return url.strip().rstrip("/")


@dataclass(frozen=True)
class CacheEntry:
    """A cached result and where and when it came from."""

    table: Table
    service: str
    query: str
    fetched: str
    path: Path


class QueryCache:
    """Cache of TAP results in one directory.

    Parameters
    ----------
    directory : str or pathlib.Path, optional
        Where entries live; default :func:`default_cache_dir`.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory).expanduser() if directory else default_cache_dir()

    @staticmethod
    def key(service: str, query: str, maxrec: int | None) -> str:
        """Return the cache key (SHA-256 hex) of a request.

        Parameters
        ----------
        service : str
            TAP base URL (a trailing slash does not matter).
        query : str
            Exact ADQL text.
        maxrec : int or None
            Row limit requested (None: the service's).

        Returns
        -------
        str
            64 hexadecimal digits.
        """
        text = json.dumps([_normalise_url(service), query, maxrec])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.directory / f"{key}.vot", self.directory / f"{key}.json"

    def get(self, service: str, query: str, maxrec: int | None) -> CacheEntry | None:
        """Return the cached result of a request, or None when there is none (or it is
        unreadable).
        """
        table_path, meta_path = self._paths(self.key(service, query, maxrec))
        if not (table_path.is_file() and meta_path.is_file()):
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            table = Table.read(table_path, format="votable")
        except (OSError, ValueError):
            return None
        return CacheEntry(table, meta["service"], meta["query"], meta["fetched"], table_path)

    def put(self, service: str, query: str, maxrec: int | None, table: Table) -> CacheEntry:
        """Store a result; returns the new entry.

        Parameters
        ----------
        service, query, maxrec
            The request, as for :meth:`key`.
        table : astropy.table.Table
            The complete (never truncated) result.

        Returns
        -------
        CacheEntry
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        table_path, meta_path = self._paths(self.key(service, query, maxrec))
        fetched = datetime.now(timezone.utc).isoformat(timespec="seconds")
        plain = table.copy(copy_data=False)
        plain.meta.clear()
        atomic_write(table_path, lambda p: plain.write(p, format="votable", overwrite=True,
                                                         tabledata_format="binary2"))
        meta = {"service": _normalise_url(service), "query": query, "maxrec": maxrec,
                "rows": len(table), "fetched": fetched}
        atomic_write(meta_path, lambda p: Path(p).write_text(json.dumps(meta, indent=1),
                                                               encoding="utf-8"))
        return CacheEntry(table, meta["service"], query, fetched, table_path)
