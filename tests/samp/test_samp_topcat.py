"""TOPCAT under Xvfb as a real peer: TOPCAT broadcasts its table (a click on its toolbar), the
service answers, TOPCAT loads the annotated table (its samp.ok is the proof, and its own
``table.get.stil`` shows the ocml_ columns) and accepts the member rowList on its own table,
whose new subset holds exactly the members. Needs the Debian packages topcat, xvfb, xdotool.
"""

from __future__ import annotations

import logging
import re
import time

import pytest
from sampkit import (TOPCAT_ROW_SUBSET_COMBO, TOPCAT_TABLE_LIST_ROW_1, broadcast_from_topcat,
                     click, have_topcat, start_topcat, topcat_table, wait_for, xdotool)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.peers,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not have_topcat(), reason="needs topcat, Xvfb and xdotool"),
]


def test_topcat_round_trip(display, hub, service, m67_vot, tmp_path, caplog, probe, procs):
    caplog.set_level(logging.INFO, logger="vo_ocml.samp.service")
    topcat = start_topcat(procs, probe, m67_vot)
    broadcast_from_topcat(lambda: "received call table.load.votable" in caplog.text, display,
                          tmp_path)

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

    click(*TOPCAT_TABLE_LIST_ROW_1)  # show the original table, open its Row Subset list,
    click(*TOPCAT_ROW_SUBSET_COMBO)  # pick the newest subset (named after the service)
    xdotool("key", "End", "Return")
    time.sleep(1)
    assert len(topcat_table(probe, topcat, 1)) == nmembers
