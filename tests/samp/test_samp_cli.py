"""``vo-ocml hub`` and ``vo-ocml listen`` as real processes: lockfile from SAMP_HUB, a hub
crash (SIGKILL, stale lockfile) and a new hub, clean exit on SIGTERM removing temp files.
"""

from __future__ import annotations

import re
import signal
import sys
import time
from pathlib import Path

import pytest
from sampkit import Peer, Processes, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

VO_OCML = [sys.executable, "-m", "vo_ocml.cli"]


@pytest.fixture
def procs(tmp_path: Path):
    processes = Processes(tmp_path)
    yield processes
    processes.close()


def _hub_up(lock: Path) -> bool:
    return lock.exists() and "samp.hub.xmlrpc.url" in lock.read_text()


def _registered(name: str = "vo-ocml") -> bool:
    try:
        peer = Peer(name="probe", mtypes=())
    except Exception:  # no hub (yet), or only a stale lockfile
        return False
    try:
        clients = peer.client.get_registered_clients()
        return any(peer.client.get_metadata(c).get("samp.name") == name for c in clients)
    finally:
        peer.close()


def _service_id(peer: Peer) -> str:
    return next(c for c in peer.client.get_registered_clients()
                if peer.client.get_metadata(c).get("samp.name") == "vo-ocml")


def test_hub_and_listen_processes_survive_a_hub_crash(procs, samp_lock, m67_vot):
    hub = procs.start("hub1", [*VO_OCML, "hub"])
    wait_for(lambda: _hub_up(samp_lock), 60)
    second = procs.start("hub-again", [*VO_OCML, "hub"])
    assert second.wait(60) == 3
    assert "already running" in procs.log("hub-again")

    listen = procs.start("listen", [*VO_OCML, "listen", "-v", "--to", "sender"])
    wait_for(_registered, 60, step=0.2)
    peer = Peer()
    result = peer.call(_service_id(peer), {"url": m67_vot.as_uri(), "table-id": "t"}, timeout=120)
    assert result["samp.status"] == "samp.ok", result
    assert peer.expect("table.load.votable")["name"] == "m67.vot - members"
    peer.close()

    procs.kill(hub, signal.SIGKILL)  # a crash: no shutdown message, the lockfile stays
    assert samp_lock.exists()
    time.sleep(3)  # longer than the service's hub check interval
    t0 = time.monotonic()
    hub2 = procs.start("hub2", [*VO_OCML, "hub"])
    wait_for(lambda: _hub_up(samp_lock) and _registered(), 60, step=0.05)
    print(f"hub crash: service registered {time.monotonic() - t0:.2f} s after the new hub "
          "process was started (includes the hub's own start-up)")
    peer = Peer()
    try:
        again = peer.call(_service_id(peer), {"url": m67_vot.as_uri()}, timeout=120)
        assert again["samp.status"] == "samp.ok", again
    finally:
        peer.close()

    listen.send_signal(signal.SIGTERM)
    assert listen.wait(60) == 0
    log = procs.log("listen")
    private = Path(re.search(r"stopped; removed (\S+)", log).group(1))
    assert not private.exists()
    assert "received call table.load.votable" in log and "sent reply" in log
    assert "lost the SAMP hub" in log and log.count("registered as") == 2

    hub2.send_signal(signal.SIGTERM)
    assert hub2.wait(30) == 0
    assert not samp_lock.exists()
