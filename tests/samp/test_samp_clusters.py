"""Several-cluster runs over SAMP: one table per cluster (its members) and the clusters' summary
table follow the annotated table, so that a TOPCAT user sees each cluster without typing an
expression. A Python peer checks the messages; TOPCAT under Xvfb loads every table (its own
``table.get.stil`` shows each cluster's members) and the test saves a screenshot of its window.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from sampkit import (Peer, have_topcat, start_topcat, table_from, topcat_table,
                     write_votable)

from vo_ocml.catalog import lookup_cluster
from vo_ocml.simulate import SimCluster, simulate_cone

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def pair_vot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """NGC 7790 as catalogued and an uncatalogued neighbour (0.25 deg, 1.2 mas/yr apart)."""
    e = lookup_cluster("NGC 7790")
    clusters = (SimCluster(250, e.pmra, e.pmdec, e.parallax, sd_pm=0.06, plummer_radius=e.r50),
                SimCluster(150, e.pmra + 1.0, e.pmdec - 0.6, e.parallax + 0.1, sd_pm=0.06,
                           plummer_radius=0.04, offset=(0.25, 0.05)))
    table = simulate_cone(5000, clusters, ra=e.ra, dec=e.dec, radius=0.4, seed=3)
    return write_votable(table, tmp_path_factory.mktemp("tables") / "pair.vot")


#: DEC, small (2 seeds, few batches), as SAMP parameters
SMALL_DEC = {"method": "dec", "n_seeds": "2", "pretrain_steps": "150", "max_iter": "5",
             "batch_size": "256"}


def _run(peer: Peer, service, url: str, **params: str) -> dict:
    response = peer.call(service.public_id, {"url": url, "clusters": "all", "send": "broadcast",
                                             **params},
                         mtype="vo_ocml.membership.run", timeout=240)
    assert response["samp.status"] == "samp.ok", response
    return response["samp.result"]


@pytest.mark.parametrize("method", [{}, SMALL_DEC], ids=["mstgmm", "dec"])
def test_one_table_per_cluster(service, peer, pair_vot, method):
    result = _run(peer, service, pair_vot.as_uri(), **method)
    assert result["clusters"] == "pair.vot - NGC 7790, pair.vot - candidate_1, pair.vot - clusters"
    annotated = peer.expect("table.load.votable", 60)
    main = table_from(annotated["url"])
    assert "ocml_prob_NGC_7790" in main.colnames and len(main) == int(result["nrows"])
    for name in ("NGC 7790", "candidate_1"):
        sent = peer.expect("table.load.votable", 60)
        assert sent["name"] == f"pair.vot - {name}"
        members = table_from(sent["url"])
        assert len(members) == int(np.sum(np.asarray(main["ocml_cluster"]) == name)) > 50
        assert set(members["ocml_cluster"]) == {name}
    summary = table_from(peer.expect("table.load.votable", 60)["url"])
    assert list(summary["name"]) == ["NGC 7790", "candidate_1"]


@pytest.mark.peers
@pytest.mark.skipif(not have_topcat(), reason="needs topcat, Xvfb and xdotool")
def test_topcat_shows_each_cluster(display, service, pair_vot, tmp_path, probe, procs):
    from PIL import ImageGrab

    topcat = start_topcat(procs, probe, pair_vot)
    result = _run(probe, service, pair_vot.as_uri())
    topcat_table(probe, topcat, 5, timeout=120)  # the file, then five tables
    time.sleep(2)  # TOPCAT loads the five in parallel: they are found by name
    tables = {t.meta.get("name"): t for t in (topcat_table(probe, topcat, i) for i in range(1, 6))}
    summary = tables["pair.vot - clusters"]
    assert list(summary["name"]) == ["NGC 7790", "candidate_1"]
    for k, name in enumerate(("NGC 7790", "candidate_1")):
        members = tables[f"pair.vot - {name}"]
        assert set(members["ocml_cluster"]) == {name}
        assert len(members) == int(summary["n_members"][k])
    assert len(tables["pair.vot - members"]) == int(result["nrows"])
    time.sleep(2)
    shot = os.environ.get("OCML_SAMP_SCREENSHOT", str(tmp_path / "topcat_clusters.png"))
    ImageGrab.grab(xdisplay=display).save(shot)
