"""TOPCAT under Xvfb as a real peer: TOPCAT broadcasts its table (a click on its toolbar), the
service answers, TOPCAT loads the annotated table (its samp.ok is the proof, and its own
``table.get.stil`` shows the ocml_ columns) and accepts the member rowList on its own table,
whose new subset holds exactly the members. Needs the Debian packages topcat, xvfb, xdotool.
"""

from __future__ import annotations

import io
import logging
import re
import subprocess
import time
from urllib.request import urlopen

import pytest
from astropy.table import Table
from PIL import ImageGrab
from sampkit import Peer, Processes, have_topcat, java, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.peers,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not have_topcat(), reason="needs topcat, Xvfb and xdotool"),
]

#: where TOPCAT's widgets are when its main window opens at (0, 0) on a bare X server
BROADCAST_BUTTON = (115, 40)
TABLE_LIST_ROW_1 = (50, 97)
ROW_SUBSET_COMBO = (434, 217)


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, timeout=30)


def click(x: int, y: int) -> None:
    xdotool("mousemove", str(x), str(y), "click", "1")
    time.sleep(0.7)


def topcat_table(probe: Peer, topcat: str, index: int) -> Table:
    """Table ``index`` as TOPCAT holds it (current subset applied), via its table.get.stil."""
    def fetched() -> dict | None:  # TOPCAT answers a load before the table is in its list
        response = probe.call(topcat, {"format": "votable", "index": str(index)},
                              mtype="table.get.stil", timeout=60)
        return response if response["samp.status"] == "samp.ok" else None

    response = wait_for(fetched, 60, step=1.0)
    with urlopen(response["samp.result"]["url"], timeout=60) as stream:
        return Table.read(io.BytesIO(stream.read()), format="votable")


def test_topcat_round_trip(display, hub, service, m67_vot, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="vo_ocml.samp.service")
    procs = Processes(tmp_path)
    probe = Peer(name="probe", mtypes=())
    try:
        topcat_jvm = procs.start("topcat", java(
            "starlink-topcat.jar", "uk.ac.starlink.topcat.Driver", "-samp", "-nohub", str(m67_vot)))

        def topcat_registered() -> str | None:
            assert topcat_jvm.poll() is None, "TOPCAT exited:\n" + procs.log("topcat")[-2000:]
            for cid in probe.client.get_subscribed_clients("table.load.votable"):
                if probe.client.get_metadata(cid).get("samp.name", "").lower() == "topcat":
                    return cid
            return None

        topcat = wait_for(topcat_registered, 120, step=0.5)
        wait_for(lambda: subprocess.run(["xdotool", "search", "--name", "^TOPCAT$"],
                                        capture_output=True).returncode == 0, 60, step=0.5)
        for attempt in range(5):  # the button works once TOPCAT has seen a subscriber
            time.sleep(2)
            click(*BROADCAST_BUTTON)
            try:
                wait_for(lambda: "received call table.load.votable" in caplog.text, 10)
                break
            except TimeoutError:
                ImageGrab.grab(xdisplay=display).save(tmp_path / f"attempt{attempt}.png")

        def answered(mtype: str) -> re.Match | None:
            return re.search(rf"received response to {re.escape(mtype)}:\S+ from topcat "
                             rf"\({re.escape(topcat)}\): (\S+)", caplog.text)
        wait_for(lambda: answered("table.load.votable") and answered("table.select.rowList"),
                 120, step=0.2)
        assert re.search(r"received call table\.load\.votable from \S+, .*'table-id': 'topcat",
                         caplog.text), "the table did not come from TOPCAT"
        assert answered("table.load.votable").group(1) == "samp.ok"  # TOPCAT loaded it
        assert answered("table.select.rowList").group(1) == "samp.ok"  # it knew its table-id
        nmembers = int(re.search(r"1494 rows, (\d+) members", caplog.text).group(1))

        annotated = topcat_table(probe, topcat, 2)
        assert len(annotated) == 1494
        assert {"ocml_prob", "ocml_member", "ocml_stage"} <= set(annotated.colnames)
        assert int(annotated["ocml_member"].sum()) == nmembers

        click(*TABLE_LIST_ROW_1)  # show the original table, open its Row Subset list,
        click(*ROW_SUBSET_COMBO)  # pick the newest subset (named after the service)
        xdotool("key", "End", "Return")
        time.sleep(1)
        assert len(topcat_table(probe, topcat, 1)) == nmembers
    finally:
        probe.close()
        procs.close()
