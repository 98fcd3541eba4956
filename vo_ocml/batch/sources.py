"""Where a batch gets each cluster's Gaia cone: a HATS catalogue (LSDB), a TAP service, or files.

A source is a small picklable object sent to every Dask worker; :meth:`fetch` returns the cone
of one :class:`~vo_ocml.batch.targets.Target` as an astropy Table and raises
:class:`~vo_ocml.errors.NotFoundError` when there is nothing to fetch.

- ``hats:PATH_OR_URL`` — ``lsdb.read_hats`` once per worker process, then
  ``cone_search(ra, dec, radius)`` per cluster, computed inside the task (one task = one
  cluster). Rows are sorted by ``source_id`` (the partition order means nothing), so a cone
  gives the same result whatever the catalogue's partitioning. No cuts are applied.
- ``tap:URL`` — :func:`vo_ocml.tap.fetch_cone` with its on-disk cache and its quality cuts
  (G ≤ gmax, parallax > 0, complete astrometry, BP−RP), exactly as ``vo-ocml fetch``.
- ``dir:PATH`` — cone files already on disk (VOTable, FITS, CSV, ECSV, Parquet), read whole.
  A file belongs to a cluster when its name without the suffix, or that name cut at an
  underscore (``ngc2477_cone.csv`` → ``ngc2477``), is one of the cluster's names as the
  catalogue matches them (``NGC_2682.vot``, ``m67_dr3.fits``, ``Melotte22.csv``) or the
  target's own name; the longest such match wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from astropy.table import Table

from vo_ocml.batch.targets import Target
from vo_ocml.catalog import lookup_cluster
from vo_ocml.catalog.names import normalize_name
from vo_ocml.errors import InputError, NotFoundError

__all__ = ["DirSource", "HatsSource", "TapSource", "parse_source", "SUFFIXES"]

#: file suffixes a ``dir:`` source reads
SUFFIXES = (".vot", ".xml", ".votable", ".fits", ".fit", ".csv", ".ecsv", ".parquet")
ARCSEC_PER_DEG = 3600.0


def _name_keys(target: Target) -> set[str]:
    keys = {normalize_name(target.name)}
    if target.cluster:
        try:
            entry = lookup_cluster(target.cluster)
        except NotFoundError:
            entry = None
        if entry is not None:
            keys |= {normalize_name(a) for a in (entry.name, *entry.aliases)}
    return keys


def _stem_prefixes(stem: str) -> list[str]:
    parts = stem.split("_")
    return ["_".join(parts[:k]) for k in range(len(parts), 0, -1)]


@dataclass(frozen=True)
class DirSource:
    """Cone files in a directory (see the module docstring for the naming)."""

    path: str

    @property
    def spec(self) -> str:
        """The source as :func:`parse_source` reads it."""
        return f"dir:{self.path}"

    def files(self) -> list[Path]:
        """The table files in the directory, sorted by name."""
        root = Path(self.path)
        if not root.is_dir():
            raise InputError(f"dir:{self.path}: no such directory ({{@source}}).")
        return list(_listing(str(root), root.stat().st_mtime_ns))

    def match(self, target: Target) -> Path | None:
        """The file holding ``target``'s cone, or None."""
        keys = _name_keys(target)
        best: tuple[int, Path] | None = None
        for path in self.files():
            for prefix in _stem_prefixes(path.stem):
                if normalize_name(prefix) in keys:
                    if best is None or len(prefix) > best[0]:
                        best = (len(prefix), path)
                    break
        return best[1] if best else None

    def covers(self, target: Target) -> bool:
        """Whether a file for ``target`` exists."""
        return self.match(target) is not None

    def fetch(self, target: Target) -> Table:
        """Read the target's file whole."""
        path = self.match(target)
        if path is None:
            raise NotFoundError(f"no file for {target.name} in {self.path} (expected e.g. "
                                f"{target.slug}.vot; see docs/batch.md for the naming)")
        if path.suffix.lower() == ".parquet":
            try:
                return Table.read(path, format="parquet")
            except Exception as exc:  # pyarrow raises many types for a damaged file
                raise InputError(f"cannot read {path} as Parquet: {exc}") from None
        from vo_ocml.io.tables import read_table
        return read_table(path)


@lru_cache(maxsize=8)
def _listing(path: str, mtime_ns: int) -> tuple[Path, ...]:
    """The directory's table files (cached while the directory is unchanged)."""
    return tuple(sorted(p for p in Path(path).iterdir()
                        if p.is_file() and p.suffix.lower() in SUFFIXES))


@lru_cache(maxsize=4)
def _hats_catalog(path: str, columns: tuple[str, ...] | None):
    import lsdb
    return lsdb.read_hats(path, columns=list(columns) if columns else None)


@dataclass(frozen=True)
class HatsSource:
    """A HATS catalogue read with LSDB (local path or URL)."""

    path: str
    columns: tuple[str, ...] | None = None

    @property
    def spec(self) -> str:
        """The source as :func:`parse_source` reads it."""
        return f"hats:{self.path}"

    def catalog(self):
        """The lazily loaded LSDB catalogue (opened once per process)."""
        from vo_ocml.batch import require_extra
        require_extra(("lsdb", "hats"))
        try:
            return _hats_catalog(self.path, self.columns)
        except (FileNotFoundError, ValueError) as exc:
            raise InputError(f"hats:{self.path}: not a readable HATS catalogue ({exc}); "
                             "check {@source}.") from None

    def covers(self, target: Target) -> bool:
        """Whether the cone's centre lies inside the catalogue's coverage (its MOC)."""
        moc = self.catalog().hc_structure.moc
        import astropy.units as u
        return bool(moc.contains_lonlat(np.array([target.ra]) * u.deg,
                                        np.array([target.dec]) * u.deg)[0])

    def fetch(self, target: Target) -> Table:
        """The catalogue's rows within the target's cone, sorted by ``source_id``."""
        import dask

        cat = self.catalog()
        with dask.config.set(scheduler="synchronous"):
            frame = cat.cone_search(target.ra, target.dec,
                                    target.radius * ARCSEC_PER_DEG).compute(progress_bar=False)
        if len(frame) == 0:
            raise NotFoundError(f"the cone of {target.name} ({target.ra:.4f}, {target.dec:+.4f}, "
                                f"r = {target.radius:.3f} deg) is empty in {self.path}")
        frame = frame.reset_index(drop=True)
        if "source_id" in frame.columns:
            frame = frame.sort_values("source_id", kind="stable").reset_index(drop=True)
        table = Table()
        for name in frame.columns:
            column = frame[name]
            table[name] = column.to_numpy(dtype=_numpy_dtype(column), na_value=_na(column))
        return table


def _numpy_dtype(column):
    kind = getattr(column.dtype, "kind", "O")
    if kind == "i" and column.isna().any():
        return np.float64
    return None


def _na(column):
    kind = getattr(column.dtype, "kind", "O")
    return np.nan if kind in "fi" else None


@dataclass(frozen=True)
class TapSource:
    """A TAP service serving a ``gaia_source``-like table, through vo_ocml's fetcher."""

    url: str
    table: str | None = None
    gmax: float | None = None
    cache_dir: str | None = None
    extra_columns: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        """The source as :func:`parse_source` reads it."""
        return f"tap:{self.url}"

    def covers(self, target: Target) -> bool:
        """Always true: a TAP service is asked about any position."""
        return True

    def fetch(self, target: Target) -> Table:
        """The Gaia cone over TAP (cached)."""
        from vo_ocml.tap import fetch_cone
        from vo_ocml.tap.defaults import DEFAULT_GMAX, GAIA_TABLE

        return fetch_cone(ra=target.ra, dec=target.dec, radius=target.radius,
                          gmax=self.gmax if self.gmax is not None else DEFAULT_GMAX,
                          service=self.url, table=self.table or GAIA_TABLE,
                          cache_dir=self.cache_dir, extra_columns=self.extra_columns)


def parse_source(source: str, *, gmax: float | None = None, tap_table: str | None = None,
                 cache_dir: str | None = None):
    """A source from its text: ``hats:PATH_OR_URL``, ``tap:URL`` or ``dir:PATH``.

    Parameters
    ----------
    source : str
        ``KIND:WHERE`` (the batch command's ``--source``).
    gmax, tap_table, cache_dir : optional
        ``tap:`` only: the faintest G (mag), the ``gaia_source``-like table, the cache
        directory (defaults as :func:`vo_ocml.tap.fetch_cone`).

    Raises
    ------
    InputError
        Unknown kind or empty location.
    """
    kind, _, where = source.partition(":")
    if not where:
        raise InputError(f"Source {source!r} ({{@source}}): give hats:PATH_OR_URL, tap:URL or "
                         "dir:PATH.")
    if kind == "hats":
        return HatsSource(where)
    if kind == "tap":
        return TapSource(where, table=tap_table, gmax=gmax, cache_dir=cache_dir)
    if kind == "dir":
        return DirSource(where)
    raise InputError(f"Source {source!r} ({{@source}}): unknown kind {kind!r}; use hats:, tap: "
                     "or dir:.")
