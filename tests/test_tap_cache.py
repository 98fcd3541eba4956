"""The on-disk query cache: keys, round trip, atomic files, default directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from vo_ocml.tap.cache import QueryCache, default_cache_dir

SERVICE = "http://127.0.0.1:8080/tap"


def _table() -> Table:
    table = Table({"source_id": np.array([1, 2, 3], dtype=np.int64),
                   "pmra": np.array([-10.9, -11.0, 4.2])})
    table["pmra"].unit = "mas/yr"
    table["pmra"].meta["ucd"] = "pos.pm;pos.eq.ra"
    table.meta["ocml_params"] = [{"name": "x", "value": 1}]
    return table


def test_key_depends_on_service_query_and_maxrec_only() -> None:
    key = QueryCache.key(SERVICE, "SELECT 1", None)
    assert key == QueryCache.key(SERVICE + "/", "SELECT 1", None)
    assert key != QueryCache.key(SERVICE, "SELECT 1 ", None)
    assert key != QueryCache.key("http://mirror/tap", "SELECT 1", None)
    assert key != QueryCache.key(SERVICE, "SELECT 1", 100)
    assert len(key) == 64


def test_round_trip_keeps_rows_units_and_ucds(tmp_path: Path) -> None:
    cache = QueryCache(tmp_path / "c")
    assert cache.get(SERVICE, "SELECT 1", None) is None
    stored = cache.put(SERVICE, "SELECT 1", None, _table())
    hit = cache.get(SERVICE, "SELECT 1", None)
    assert hit is not None and hit.path == stored.path and hit.fetched == stored.fetched
    assert list(hit.table["source_id"]) == [1, 2, 3]
    assert hit.table["pmra"].unit == "mas / yr"
    assert hit.table["pmra"].meta["ucd"] == "pos.pm;pos.eq.ra"
    assert hit.query == "SELECT 1" and hit.service == SERVICE
    assert not list((tmp_path / "c").glob(".tmp-*"))


def test_unreadable_entry_is_a_miss(tmp_path: Path) -> None:
    cache = QueryCache(tmp_path)
    entry = cache.put(SERVICE, "SELECT 1", None, _table())
    entry.path.write_text("not a votable")
    assert cache.get(SERVICE, "SELECT 1", None) is None


def test_default_directory_honours_environment(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("VO_OCML_CACHE", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("VO_OCML_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "vo_ocml" / "tap"
    assert QueryCache().directory == tmp_path / "xdg" / "vo_ocml" / "tap"
