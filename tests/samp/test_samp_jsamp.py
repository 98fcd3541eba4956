"""Java peers: JSAMP's hub, STILTS sending a table, JSAMP's snooper receiving the annotated one,
and JSAMP's message sender driving the custom MType. Needs the Debian packages jsamp, stilts.
"""

from __future__ import annotations

import logging
import re
import subprocess
from pathlib import Path

import pytest
from sampkit import (
    Peer, Processes, gaia_table, have_jvm_peers, java, stilts, table_from, wait_for, write_votable,
)

from vo_ocml.samp.options import ServiceSettings
from vo_ocml.samp.service import MembershipService

pytestmark = [
    pytest.mark.slow,
    pytest.mark.peers,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not have_jvm_peers(), reason="needs java with the jsamp and stilts packages"),
]


@pytest.fixture
def jsamp_hub(tmp_path: Path, samp_lock: Path):
    procs = Processes(tmp_path)
    procs.start("jsamp-hub", java("jsamp.jar", "org.astrogrid.samp.JSamp", "hub",
                                  "-mode", "no-gui", "-profiles", "std"))
    wait_for(lambda: samp_lock.exists() and "xmlrpc.url" in samp_lock.read_text(), 60)
    yield procs
    procs.close()


@pytest.fixture
def jsamp_service(jsamp_hub):
    service = MembershipService(ServiceSettings(hub_check_interval=0.5))
    service.start()
    assert service.wait_registered(30)
    yield service
    service.stop()


def test_stilts_to_service_to_snooper(jsamp_hub, jsamp_service, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="vo_ocml.samp.service")
    jsamp_hub.start("snooper", java("jsamp.jar", "org.astrogrid.samp.JSamp", "snooper",
                                    "-clientname", "snoop", "-mtype", "table.*"))
    wait_for(lambda: _subscribed("snoop"), 60, step=0.2)

    source = write_votable(gaia_table("ngc2477_cone_3000.csv"), tmp_path / "ngc2477.vot")
    # STILTS serves the table over http://127.0.0.1 only until it gets the reply
    sent = subprocess.run(stilts("tpipe", f"in={source}", "omode=samp", "client=vo-ocml"),
                          capture_output=True, text=True, timeout=240)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "received call table.load.votable" in caplog.text
    assert "'url': 'http://127.0.0.1:" in caplog.text  # STILTS's own HTTP server

    def broadcast_seen() -> bool:
        return "received response to table.load.votable" in caplog.text and \
            "members" in jsamp_hub.log("snooper")
    wait_for(broadcast_seen, 60)
    url = re.search(r"file:\S+vo-ocml-\w+\.vot", jsamp_hub.log("snooper")).group(0)
    annotated = table_from(url)
    assert len(annotated) == 3000 and "ocml_prob" in annotated.colnames


def test_jsamp_messagesender_drives_custom_mtype(jsamp_hub, jsamp_service, m67_vot, caplog):
    caplog.set_level(logging.INFO, logger="vo_ocml.samp.service")
    sent = subprocess.run(
        java("jsamp.jar", "org.astrogrid.samp.JSamp", "messagesender",
             "-mtype", "vo_ocml.membership.run", "-mode", "sync", "-targetname", "vo-ocml",
             "-param", "url", m67_vot.as_uri(), "-param", "send", "none",
             "-param", "centroid", "-10.97,-2.91,1.15"),
        capture_output=True, text=True, timeout=240,
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "samp.ok" in sent.stdout and "m67.vot - members" in sent.stdout, sent.stdout
    bad = subprocess.run(
        java("jsamp.jar", "org.astrogrid.samp.JSamp", "messagesender",
             "-mtype", "vo_ocml.membership.run", "-mode", "sync", "-targetname", "vo-ocml",
             "-param", "url", "http://192.0.2.1/remote.vot"),
        capture_output=True, text=True, timeout=120,
    )
    assert "samp.error" in bad.stdout and "loopback" in bad.stdout, bad.stdout


def _subscribed(name: str) -> bool:
    probe = Peer(name="probe", mtypes=())
    try:
        return any(probe.client.get_metadata(c).get("samp.name") == name
                   for c in probe.client.get_subscribed_clients("table.load.votable"))
    finally:
        probe.close()
