"""Fixtures for the SAMP tests: a private pyvo hub per test, the service, a Python peer.

Each test gets its own hub whose lockfile lives in the test's tmp directory (SAMP_HUB), so
nothing touches ~/.samp and parallel jobs cannot collide. Teardown order (pytest reverses
setup order) stops the service and the peer before the hub.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sampkit import Peer, Processes, gaia_table, write_votable

from vo_ocml.samp.hub import start_hub
from vo_ocml.samp.options import ServiceSettings
from vo_ocml.samp.service import MembershipService


@pytest.fixture
def samp_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point SAMP_HUB at a lockfile in the test's tmp directory."""
    lock = tmp_path / "samp.lock"
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{lock.as_uri()}")
    return lock


@pytest.fixture
def hub(samp_lock: Path) -> Iterator[Any]:
    """A running in-process pyvo hub."""
    server = start_hub(label="vo-ocml test hub")
    yield server
    server.stop()


@pytest.fixture
def make_service(hub: Any) -> Iterator[Callable[..., MembershipService]]:
    """Factory: start a registered service with the given ServiceSettings fields."""
    services: list[MembershipService] = []

    def make(**settings: Any) -> MembershipService:
        settings.setdefault("hub_check_interval", 0.5)
        service = MembershipService(ServiceSettings(**settings))
        services.append(service)
        service.start()
        assert service.wait_registered(20), "the service did not register"
        return service

    yield make
    for service in services:
        service.stop()


@pytest.fixture
def service(make_service: Callable[..., MembershipService]) -> MembershipService:
    """The service with default settings."""
    return make_service()


@pytest.fixture
def peer(hub: Any) -> Iterator[Peer]:
    """A Python peer subscribed to table.load.votable and table.select.rowList."""
    client = Peer()
    yield client
    client.close()


@pytest.fixture
def probe(hub: Any) -> Iterator[Peer]:
    """A Python peer that subscribes to nothing: it finds the other clients and calls them."""
    client = Peer(name="probe", mtypes=())
    yield client
    client.close()


@pytest.fixture
def procs(hub: Any, tmp_path: Path) -> Iterator[Processes]:
    """Background processes (TOPCAT, Aladin, ``vo-ocml listen``) logging into the test's tmp
    directory, killed after the test and before the hub stops."""
    processes = Processes(tmp_path)
    yield processes
    processes.close()


@pytest.fixture(scope="session")
def m67_vot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The M67 Gaia DR3 fixture (1,494 rows) as a BINARY2 VOTable."""
    return write_votable(gaia_table(), tmp_path_factory.mktemp("tables") / "m67.vot")


@pytest.fixture
def display(monkeypatch: pytest.MonkeyPatch):
    """A private Xvfb server on an unused high display number; DISPLAY points at it.

    A high number keeps clear of the :0/:99 servers other jobs on a shared machine start.
    """
    for number in range(100 + os.getpid() % 700, 1000, 7):
        if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
            continue
        xvfb = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        env = {**os.environ, "DISPLAY": f":{number}"}
        for _ in range(100):
            ready = subprocess.run(["xdotool", "getdisplaygeometry"], env=env,
                                   capture_output=True).returncode == 0
            if ready or xvfb.poll() is not None:
                break
            time.sleep(0.1)
        if ready:
            monkeypatch.setenv("DISPLAY", f":{number}")
            yield f":{number}"
            Processes.kill(xvfb)
            return
        Processes.kill(xvfb)
    pytest.fail("could not start Xvfb")
