"""Aladin under Xvfb as a real peer of ``vo-ocml listen``: Aladin opens a Gaia table, the user
broadcasts it (a click on *Interop → Broadcast selected planes*), ``vo-ocml listen`` annotates it,
Aladin loads the annotated table as a new plane and selects the member rows of its own plane.
Aladin's script interface (MType ``script.aladin.send``) then shows what it holds: the new plane
exported has the ocml_ columns, and the sources it has selected are exactly the members. Needs
the Debian packages aladin, xvfb, xdotool.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from PIL import ImageGrab
from sampkit import Peer, aladin, find_client, have_aladin, wait_for, windows, xdotool

pytestmark = [
    pytest.mark.slow,
    pytest.mark.peers,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not have_aladin(), reason="needs aladin, Xvfb and xdotool"),
]

#: where Aladin 12's menu entries are once its main window is moved to (0, 0) at 1280×1024
INTEROP_MENU = (465, 12)
BROADCAST_SELECTED_PLANES = (533, 78)


@pytest.fixture
def samp_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The hub's lockfile where Aladin reads it: ``<user.home>/.samp`` (it ignores SAMP_HUB)."""
    home = tmp_path / "home"
    home.mkdir()
    lock = home / ".samp"
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{lock.as_uri()}")
    return lock


def script(probe: Peer, target: str, command: str) -> str:
    """Run an Aladin script command through SAMP and return its textual result."""
    response = probe.call(target, {"script": command}, mtype="script.aladin.send", timeout=60)
    assert response["samp.status"] == "samp.ok", response
    return response.get("samp.result", {}).get("script.result", "")


def planes(probe: Peer, target: str) -> dict[str, dict[str, str]]:
    """Aladin's planes by name, from its ``status`` command (PlaneNb, NbObj, …)."""
    found = {}
    for block in script(probe, target, "status").split("\n\n"):
        fields = dict(line.split(None, 1) for line in block.splitlines() if len(line.split()) > 1)
        if "PlaneID" in fields:
            found[fields["PlaneID"].strip('"')] = fields
    return found


def test_aladin_round_trip(display, hub, m67_vot, tmp_path, probe, procs):
    home = tmp_path / "home"
    procs.start("listen", [sys.executable, "-m", "vo_ocml.cli", "listen", "-v"])
    procs.start("aladin", aladin(home))

    def registered(name: str, mtype: str) -> str | None:
        procs.check_running("aladin")
        return find_client(probe, name, mtype)

    peer = wait_for(lambda: registered("aladin", "script.aladin.send"), 120, step=0.5)
    wait_for(lambda: registered("vo-ocml", "table.load.votable"), 120, step=0.5)
    script(probe, peer, f"load {m67_vot}")  # the user opens the table in Aladin
    wait_for(lambda: planes(probe, peer).get(m67_vot.name, {}).get("NbObj") == "1494", 60,
             step=0.5)

    window = windows("^Aladin v")[0]
    xdotool("windowmove", window, "0", "0")
    for attempt in range(5):  # the user's click: Interop → Broadcast selected planes
        time.sleep(2)
        xdotool("key", "Escape")
        xdotool("mousemove", *map(str, INTEROP_MENU), "click", "1")
        time.sleep(1)
        xdotool("mousemove", *map(str, BROADCAST_SELECTED_PLANES), "click", "1")
        try:
            wait_for(lambda: re.search(r"received (call|notification) table\.load\.votable "
                                       rf"from {re.escape(peer)}", procs.log("listen")), 15)
            break
        except TimeoutError:
            ImageGrab.grab(xdisplay=display).save(tmp_path / f"attempt{attempt}.png")

    def answered(mtype: str) -> re.Match | None:
        return re.search(rf"received response to {re.escape(mtype)}:\S+ from Aladin "
                         rf"\({re.escape(peer)}\): (\S+)", procs.log("listen"))
    wait_for(lambda: answered("table.load.votable") and answered("table.select.rowList"),
             180, step=0.5)
    assert answered("table.load.votable").group(1) == "samp.ok"  # Aladin loaded it
    assert answered("table.select.rowList").group(1) == "samp.ok"  # it knew its table
    nmembers = int(re.search(r"1494 rows, (\d+) members", procs.log("listen")).group(1))
    assert nmembers > 100

    # the annotated table is a new plane of Aladin's, with the ocml_ columns
    name = f"{m67_vot.name} - members"
    wait_for(lambda: planes(probe, peer).get(name, {}).get("NbObj") == "1494", 60, step=0.5)
    members_plane = planes(probe, peer)[name]
    script(probe, peer, f"export -votable {members_plane['PlaneNb']} {tmp_path / 'back.vot'}")
    back = Table.read(tmp_path / "back.vot", format="votable")
    assert {"ocml_prob", "ocml_member", "ocml_stage"} <= set(back.colnames)
    # Aladin 12 re-exports the BINARY2 boolean ocml_member as T in every row (its own
    # quirk: TOPCAT reads the same file right), so members are counted from ocml_prob
    member = np.asarray(back["ocml_prob"], dtype=float) > 0.5
    assert int(member.sum()) == nmembers

    # the sources Aladin has selected are exactly the members, in its own plane
    script(probe, peer, "cplane vo_ocml_selection")
    assert planes(probe, peer)["vo_ocml_selection"]["NbObj"] == str(nmembers)
    script(probe, peer, f"export -votable vo_ocml_selection {tmp_path / 'selected.vot'}")
    selected = Table.read(tmp_path / "selected.vot", format="votable")
    assert set(np.asarray(selected["source_id"], dtype=np.int64)) == set(
        np.asarray(back["source_id"][member], dtype=np.int64))
