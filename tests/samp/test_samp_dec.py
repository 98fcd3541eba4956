"""DEC through SAMP, end to end: ``vo-ocml listen --method dec`` as a real process on a real hub,
TOPCAT under Xvfb broadcasting its table (a click on its toolbar), DEC's progress in the
service's log before the reply, TOPCAT loading the annotated table; then the custom MType
``vo_ocml.membership.run`` with method "dec" and DEC parameters from a script peer. DEC runs
small (2 seeds, few batches) so that the test takes seconds of DEC time. Needs the Debian
packages topcat, xvfb, xdotool.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest
from sampkit import (Peer, broadcast_from_topcat, find_client, have_topcat, start_topcat,
                     topcat_table, wait_for)
from vo_ocml.io.tables import read_table

pytestmark = [
    pytest.mark.slow,
    pytest.mark.peers,
    pytest.mark.timeout(400),
    pytest.mark.skipif(not have_topcat(), reason="needs topcat, Xvfb and xdotool"),
]

VO_OCML = [sys.executable, "-m", "vo_ocml.cli"]
#: a small DEC: 2 seeds, 100 pretraining batches, at most 3 target refreshes
SMALL_DEC = ["--method", "dec", "--dec-n-seeds", "2", "--dec-pretrain-steps", "100", "--dec-max-iter", "3"]


def test_listen_dec_with_topcat_and_the_custom_mtype(display, hub, m67_vot, tmp_path: Path,
                                                     probe, procs):
    procs.start("listen", [*VO_OCML, "listen", "-v", *SMALL_DEC])
    service = wait_for(lambda: find_client(probe, "vo-ocml"), 120, step=0.2)
    topcat = start_topcat(procs, probe, m67_vot, watch=("listen",))
    broadcast_from_topcat(lambda: "received call table.load.votable" in procs.log("listen"),
                          display, tmp_path)

    reply = re.compile(rf"received response to table\.load\.votable:\S+ from topcat "
                       rf"\({re.escape(topcat)}\): (\S+)")
    answered = wait_for(lambda: reply.search(procs.log("listen")), 240, step=0.5)
    assert answered.group(1) == "samp.ok"  # TOPCAT loaded the annotated table
    log = procs.log("listen")
    # DEC's progress was logged while it ran, before the table went back
    progress = [log.index("DEC: 2 autoencoders pretrained"), log.index("DEC: KL refresh 1/3"),
                log.index("seed(s) trained in")]
    assert progress == sorted(progress) and progress[-1] < answered.start()

    annotated = topcat_table(probe, topcat, 2)
    assert len(annotated) == 1494
    assert {"ocml_prob", "ocml_member", "ocml_stage", "ocml_dec_group"} <= set(annotated.colnames)
    stages = set(annotated["ocml_stage"].astype(str))
    assert stages <= {"dec", "filter", "incomplete"} and "dec" in stages
    assert 500 < int(annotated["ocml_member"].sum()) < 1494

    script = Peer(name="script", mtypes=())
    try:
        result = script.call(service, {"url": m67_vot.as_uri(), "send": "none", "method": "dec",
                                       "n_seeds": "3", "features": "sky"},
                             mtype="vo_ocml.membership.run", timeout=240)
    finally:
        script.close()
    assert result["samp.status"] == "samp.ok", result
    table = read_table(url2pathname(urlparse(result["samp.result"]["url"]).path))
    params = {p["name"]: p["value"] for p in table.meta["votable_params"]}
    assert params["ocml_method"] == "dec" and int(params["ocml_param_n_seeds"]) == 3
    assert int(result["samp.result"]["nmembers"]) == int(table["ocml_member"].sum()) > 500
