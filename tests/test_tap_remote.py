"""The real archives (ESA Gaia TAP, CDS VizieR TAP): run only with --remote-data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vo_ocml.catalog import lookup_cluster
from vo_ocml.tap.fetch import fetch_cone, fetch_hunt_members

pytestmark = pytest.mark.remote_data


def test_gaia_archive_small_cone(tmp_path: Path) -> None:
    table = fetch_cone(name="NGC 2682", radius=0.05, cache_dir=tmp_path)
    assert 50 < len(table) < 5000
    assert table["parallax"].min() > 0 and np.nanmax(table["phot_g_mean_mag"]) <= 20
    for mode in ("sync", "async"):
        again = fetch_cone(name="NGC 2682", radius=0.05, cache_dir=tmp_path / mode, mode=mode)
        assert sorted(again["source_id"]) == sorted(table["source_id"])


def test_vizier_hunt_members(tmp_path: Path) -> None:
    members = fetch_hunt_members("M67", cache_dir=tmp_path)
    # the catalogue's N counts members within the tidal radius; the list has them all
    assert len(members) >= lookup_cluster("NGC 2682").n_members
    assert set(members["Name"]) == {"NGC_2682"}
    assert members["source_id"].dtype == np.int64
