"""In-process pyvo hub + the service + a Python peer: round trip, rowList, options, errors,
queueing, hub loss and return, clean shutdown. Real SAMP over loopback XML-RPC, real Gaia rows.
"""

from __future__ import annotations

import functools
import http.server
import logging
import queue
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sampkit import Peer, gaia_table, member_rows, table_from, wait_for, write_votable

from vo_ocml.samp.hub import start_hub
from vo_ocml.options import RunOptions
from vo_ocml.samp.options import JobOptions

pytestmark = pytest.mark.timeout(300)

#: Hunt & Reffert (2024) proper motion and parallax of NGC 2682 (M67)
M67_CENTROID = (-10.97, -2.91, 1.15)


def _ok(response: dict) -> dict:
    assert response["samp.status"] == "samp.ok", response
    return response["samp.result"]


def _error(response: dict) -> str:
    assert response["samp.status"] == "samp.error", response
    return response["samp.error"]["samp.errortxt"]


def test_round_trip_table_and_rowlist(service, peer, m67_vot):
    result = _ok(
        peer.call(
            service.public_id,
            {"url": m67_vot.as_uri(), "table-id": "m67-original", "name": "M67 box"},
        )
    )
    assert result["name"] == "M67 box - members"
    assert int(result["nrows"]) == 1494

    load = peer.expect("table.load.votable")
    assert load == {"url": result["url"], "table-id": result["table-id"], "name": result["name"]}
    path = Path(load["url"].removeprefix("file://"))
    assert path.parent == service.workdir.path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700

    annotated = table_from(load["url"])
    original = gaia_table()
    assert len(annotated) == len(original)
    assert set(original.colnames) <= set(annotated.colnames)
    assert {"ocml_prob", "ocml_member", "ocml_stage"} <= set(annotated.colnames)
    assert list(annotated["source_id"]) == list(original["source_id"])
    members = member_rows(annotated)
    assert 0 < len(members) == int(result["nmembers"])

    rows = peer.expect("table.select.rowList")
    assert rows["table-id"] == "m67-original"
    assert rows["url"] == m67_vot.as_uri()
    assert rows["row-list"] == [str(i) for i in members]


def test_fits_without_table_id_selects_by_url(service, peer, tmp_path):
    fits = tmp_path / "m67.fits"
    gaia_table().write(fits, format="fits")
    result = _ok(peer.call(service.public_id, {"url": fits.as_uri()}, mtype="table.load.fits"))
    assert result["name"] == "m67.fits - members"
    rows = peer.expect("table.select.rowList")
    assert rows["table-id"] == rows["url"] == fits.as_uri()
    assert len(rows["row-list"]) == int(result["nmembers"])


def test_loopback_http_url(service, peer, m67_vot):
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(m67_vot.parent)
    )
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{m67_vot.name}"
        result = _ok(peer.call(service.public_id, {"url": url, "table-id": "web"}))
        assert int(result["nrows"]) == 1494
    finally:
        server.shutdown()
        server.server_close()


def test_notification_is_processed(service, peer, m67_vot):
    peer.client.notify(
        service.public_id,
        {"samp.mtype": "table.load.votable", "samp.params": {"url": m67_vot.as_uri()}},
    )
    load = peer.expect("table.load.votable")
    assert load["name"] == "m67.vot - members"


def test_custom_mtype_options_and_recipients(service, peer, m67_vot, hub):
    bystander = Peer(name="bystander")
    try:
        default = _ok(peer.call(service.public_id, {"url": m67_vot.as_uri(), "table-id": "a"}))
        assert bystander.expect("table.load.votable")["table-id"] == default["table-id"]
        assert bystander.expect("table.select.rowList")["table-id"] == "a"  # to=all
        peer.expect("table.select.rowList")

        strict = _ok(
            peer.call(
                service.public_id,
                {"url": m67_vot.as_uri(), "table-id": "a", "threshold": "0.95",
                 "send": "select", "to": "sender"},
                mtype="vo_ocml.membership.run",
            )
        )
        rows = peer.expect("table.select.rowList")
        assert len(rows["row-list"]) == int(strict["nmembers"]) <= int(default["nmembers"])

        quiet = _ok(
            peer.call(
                service.public_id,
                {"url": m67_vot.as_uri(), "send": "none", "method": "mstgmm"},
                mtype="vo_ocml.membership.run",
            )
        )
        assert int(quiet["nrows"]) == 1494
        time.sleep(0.5)
        assert peer.received.empty()  # send=select and send=none: nothing loaded, nothing more
        with pytest.raises(queue.Empty):
            bystander.received.get(timeout=0.1)
    finally:
        bystander.close()


def test_custom_mtype_reads_csv(service, peer):
    csv = Path(__file__).parents[1] / "data" / "samp" / "ngc2477_cone_3000.csv"
    result = _ok(peer.call(service.public_id, {"url": csv.as_uri(), "send": "none"},
                           mtype="vo_ocml.membership.run"))
    assert int(result["nrows"]) == 3000 and result["name"] == "ngc2477_cone_3000.csv - members"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"url": "x", "threshold": "high"}, "threshold must be a number"),
        ({"url": "x", "method": "kmeans"}, "method must be one of"),
        ({"url": "x", "centroid": "1,2"}, "centroid must be"),
        ({"url": "x", "colour": "red"}, "unknown parameter"),
        ({"table-id": "no-url"}, "no 'url' parameter"),
    ],
)
def test_custom_mtype_bad_parameters(service, peer, params, expected):
    text = _error(peer.call(service.public_id, params, mtype="vo_ocml.membership.run"))
    assert expected in text


def test_errors_are_answered_and_service_stays_up(make_service, peer, m67_vot, tmp_path):
    service = make_service(row_limit=1000)
    empty = write_votable(gaia_table()[:0], tmp_path / "empty.vot")
    garbage = tmp_path / "garbage.vot"
    garbage.write_bytes(b"<VOTABLE><RESOURCE><TABLE><FIELD name='x' datatype='double'/>")
    cases = {
        empty.as_uri(): "no rows",
        m67_vot.as_uri(): "limit of 1,000",
        garbage.as_uri(): "",
        (tmp_path / "missing.vot").as_uri(): "No such file",
        "http://192.0.2.1/remote.vot": "only file:// and loopback",
    }
    for url, expected in cases.items():
        assert expected in _error(peer.call(service.public_id, {"url": url}))
    small = write_votable(gaia_table()[:900], tmp_path / "small.vot")
    assert int(_ok(peer.call(service.public_id, {"url": small.as_uri()}))["nrows"]) == 900


def test_twenty_tables_at_once_all_answered(make_service, peer, tmp_path):
    service = make_service(defaults=JobOptions(run=RunOptions(centroid=M67_CENTROID), send="none"))
    astrometry = gaia_table()[["source_id", "ra", "dec", "parallax", "pmra", "pmdec"]]
    urls = [write_votable(astrometry[: 400 + i], tmp_path / f"t{i}.vot").as_uri()
            for i in range(20)]
    t0 = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda u: peer.call(service.public_id, {"url": u}, timeout=240),
                                  urls))
    elapsed = time.monotonic() - t0
    results = [_ok(r) for r in responses]
    assert [int(r["nrows"]) for r in results] == [400 + i for i in range(20)]
    assert len({r["table-id"] for r in results}) == 20
    print(f"20 tables at once: all answered in {elapsed:.2f} s")


def test_hub_restart_reregisters(service, peer, m67_vot, hub, samp_lock):
    assert service.registrations == 1
    peer.close()
    hub.stop()  # announces samp.hub.event.shutdown
    wait_for(lambda: service.public_id is None, 10)
    time.sleep(1.0)  # let the backoff grow
    t0 = time.monotonic()
    new_hub = start_hub()
    try:
        wait_for(lambda: service.registrations == 2, 15, step=0.01)
        recovery = time.monotonic() - t0
        print(f"hub restart: re-registered {recovery:.2f} s after the new hub started")
        assert recovery < 3.0
        again = Peer()
        try:
            assert int(_ok(again.call(service.public_id, {"url": m67_vot.as_uri()}))["nrows"]) == 1494
        finally:
            again.close()
    finally:
        new_hub.stop()


def test_exit_with_hub_and_clean_shutdown(make_service, peer, m67_vot, hub):
    service = make_service(exit_on_hub_shutdown=True)
    _ok(peer.call(service.public_id, {"url": m67_vot.as_uri()}))
    assert service.workdir.files()
    peer.close()
    hub.stop()
    assert service.wait(10), "the service did not ask to exit after the hub shut down"
    service.stop()
    assert not service.workdir.path.exists()


def test_stop_answers_queued_tables(make_service, peer, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="vo_ocml.samp.service")
    service = make_service()
    url = write_votable(gaia_table("ngc2477_cone_3000.csv"), tmp_path / "t.vot").as_uri()
    replies: queue.Queue = queue.Queue()
    for i in range(3):
        tag = f"t{i}"
        peer.client.bind_receive_response(tag, lambda pk, who, tag, r: replies.put((tag, r)))
        peer.client.call(service.public_id, tag, {"samp.mtype": "table.load.votable",
                                                  "samp.params": {"url": url}})
    wait_for(lambda: caplog.text.count("queued table.load.votable") == 3, 30)
    refused = []
    threading.Thread(target=service.stop, daemon=True).start()
    for _ in range(2):
        tag, response = replies.get(timeout=30)
        refused.append(_error(response))
    assert all("shutting down" in text for text in refused)
    wait_for(lambda: not service.workdir.path.exists(), 120)


def test_an_annotated_table_sent_again_selects_its_new_members(service, peer, m67_vot):
    """The re-annotated table's columns are ocml_*_2; the rowList follows the run, not a name."""
    first = _ok(peer.call(service.public_id, {"url": m67_vot.as_uri(), "table-id": "m67"}))
    once = peer.expect("table.load.votable")
    peer.expect("table.select.rowList")
    again = _ok(peer.call(service.public_id, {"url": once["url"], "table-id": "m67-annotated",
                                              "threshold": "0.9"}, mtype="vo_ocml.membership.run"))
    table = table_from(peer.expect("table.load.votable")["url"])
    assert {"ocml_member", "ocml_member_2"} <= set(table.colnames)
    members = [int(i) for i in np.flatnonzero(np.asarray(table["ocml_member_2"]).astype(bool))]
    assert int(again["nmembers"]) == len(members) > 100
    assert len(members) < int(first["nmembers"])  # P > 0.9, not the first run's P > 0.5
    rows = peer.expect("table.select.rowList")
    assert rows["table-id"] == "m67-annotated"
    assert rows["row-list"] == [str(i) for i in members]


def test_custom_mtype_passes_method_parameters(service, peer, m67_vot):
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    from vo_ocml.io.tables import read_table

    result = _ok(peer.call(service.public_id, {"url": m67_vot.as_uri(), "send": "none",
                                               "filter_nsigma": "2.5", "mst_rule": "code"},
                           mtype="vo_ocml.membership.run"))
    table = read_table(url2pathname(urlparse(result["url"]).path))
    params = {p["name"]: p["value"] for p in table.meta["votable_params"]}
    assert float(params["ocml_param_filter_nsigma"]) == 2.5
    assert params["ocml_param_mst_rule"] == "code" and float(params["ocml_param_mst_k"]) == 1.0
    text = _error(peer.call(service.public_id, {"url": m67_vot.as_uri(), "threshold": "1.0"},
                            mtype="vo_ocml.membership.run"))
    assert text == "threshold must be a number in [0, 1); got 1.0"
