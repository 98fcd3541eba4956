"""Helpers for the SAMP tests: a recording Python peer, Gaia fixture tables, JVM peers.

Everything here talks real SAMP through a real hub; nothing is mocked.
"""

from __future__ import annotations

import io
import os
import queue
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table
from pyvo.samp import SAMPIntegratedClient, conf

conf.use_internet = False

DATA = Path(__file__).resolve().parents[1] / "data" / "samp"
JARS = Path("/usr/share/java")
#: keep every JVM off the network: all http(s) goes to a closed loopback port
JAVA_NO_NET = [
    "-Dhttp.proxyHost=127.0.0.1",
    "-Dhttp.proxyPort=9",
    "-Dhttps.proxyHost=127.0.0.1",
    "-Dhttps.proxyPort=9",
    "-Dhttp.nonProxyHosts=localhost|127.*|[::1]",
]


def gaia_table(name: str = "m67_dr3_pmbox.csv", rows: int | None = None) -> Table:
    """A real Gaia fixture from tests/data/samp (optionally its first ``rows`` rows)."""
    table = Table.read(DATA / name, format="ascii.csv")
    return table[:rows] if rows is not None else table


def write_votable(table: Table, path: Path) -> Path:
    """Write ``table`` as a BINARY2 VOTable (astropy's TABLEDATA writer is unsafe under SAMP)."""
    table.write(path, format="votable", tabledata_format="binary2", overwrite=True)
    return path


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, step: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; raise TimeoutError otherwise."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"condition not met within {timeout} s")


class Peer:
    """A Python SAMP peer that records the tables and row lists it is sent and answers samp.ok.

    Parameters
    ----------
    name : str
        Its ``samp.name``.
    mtypes : sequence of str
        MTypes it subscribes to (calls and notifications).
    """

    def __init__(
        self,
        name: str = "peer",
        mtypes: Sequence[str] = ("table.load.votable", "table.select.rowList"),
    ) -> None:
        self.client = SAMPIntegratedClient(name=name, addr="127.0.0.1")
        self.client.connect()
        self.received: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._kept: list[tuple[str, dict[str, Any]]] = []  # met by expect, not yet asked for
        for mtype in mtypes:
            self.client.bind_receive_call(mtype, self._on_call, declare=False)
            self.client.bind_receive_notification(mtype, self._on_notify, declare=False)
        self.client.declare_subscriptions()

    @property
    def id(self) -> str:
        """The peer's public id."""
        return self.client.get_public_id()

    def _on_call(self, pk: str, sender: str, msg_id: str, mtype: str, params: Any, extra: Any) -> None:
        self.received.put((mtype, params))
        self.client.reply(msg_id, {"samp.status": "samp.ok", "samp.result": {}})

    def _on_notify(self, pk: str, sender: str, mtype: str, params: Any, extra: Any) -> None:
        self.received.put((mtype, params))

    def call(
        self,
        target: str,
        params: Mapping[str, Any],
        mtype: str = "table.load.votable",
        timeout: int = 60,
    ) -> dict[str, Any]:
        """Send a call and wait for the response."""
        message = {"samp.mtype": mtype, "samp.params": dict(params)}
        return self.client.call_and_wait(target, message, str(timeout))

    def expect(self, mtype: str, timeout: float = 30.0) -> dict[str, Any]:
        """The earliest received message of ``mtype`` not yet taken.

        Messages of other mtypes met on the way are kept for a later call: the hub delivers
        each message on a thread of its own, so a table and its row list, sent one after the
        other, may arrive in either order.
        """
        for i, (got, params) in enumerate(self._kept):
            if got == mtype:
                del self._kept[i]
                return params
        end = time.monotonic() + timeout
        while True:
            got, params = self.received.get(timeout=max(0.01, end - time.monotonic()))
            if got == mtype:
                return params
            self._kept.append((got, params))

    def close(self) -> None:
        """Unregister."""
        try:
            self.client.disconnect()
        except Exception:  # the hub may be gone already
            pass


def table_from(url: str) -> Table:
    """Read the (file://) VOTable a service broadcast."""
    from urllib.request import url2pathname
    from urllib.parse import urlparse

    return Table.read(url2pathname(urlparse(url).path), format="votable")


def member_rows(table: Table) -> list[int]:
    """Row indices with ``ocml_member`` set."""
    return [int(i) for i in np.flatnonzero(np.asarray(table["ocml_member"]).astype(bool))]


# ---------------------------------------------------------------- JVM and X peers
def have_jvm_peers() -> bool:
    """Whether java, JSAMP and STILTS (Debian packages) are installed."""
    return shutil.which("java") is not None and all(
        (JARS / jar).exists() for jar in ("jsamp.jar", "starlink-ttools.jar")
    )


def have_topcat() -> bool:
    """Whether TOPCAT, Xvfb and xdotool are installed."""
    return (
        have_jvm_peers()
        and (JARS / "starlink-topcat.jar").exists()
        and shutil.which("Xvfb") is not None
        and shutil.which("xdotool") is not None
    )


def have_aladin() -> bool:
    """Whether Aladin (Debian ``aladin``), Xvfb and xdotool are installed."""
    return (
        shutil.which("java") is not None
        and (JARS / "aladin.jar").exists()
        and shutil.which("Xvfb") is not None
        and shutil.which("xdotool") is not None
    )


def aladin(home: Path) -> list[str]:
    """argv starting Aladin off the network, with ``home`` as its user.home.

    Aladin ignores SAMP_HUB: it reads the hub's lockfile from ``<user.home>/.samp`` only (and
    deletes that file, starting a hub of its own, when the hub it names cannot be reached).
    """
    return ["java", "-Xmx1024m", f"-Duser.home={home}", *JAVA_NO_NET, "-jar",
            str(JARS / "aladin.jar"), "-local", "-nolog", "-noreleasetest", "-noplugin",
            "-nobeta"]


class Processes:
    """Background processes started in their own process groups, killed group-wise on close."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.by_name: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None,
              **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start ``argv`` with stdout+stderr in ``<logdir>/<name>.log``."""
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            list(argv), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **(env or {})}, **kwargs,
        )
        log.close()
        self.procs.append(proc)
        self.by_name[name] = proc
        return proc

    def log(self, name: str) -> str:
        """What a process has written so far."""
        return (self.logdir / f"{name}.log").read_text(errors="replace")

    def check_running(self, *names: str) -> None:
        """Fail, with the end of its log, when one of the named processes has exited."""
        for name in names:
            assert self.by_name[name].poll() is None, \
                f"{name} exited:\n" + self.log(name)[-2000:]

    @staticmethod
    def kill(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, wait: float = 10) -> None:
        """Signal a process group, escalating to SIGKILL."""
        for s in (sig, signal.SIGKILL):
            try:
                os.killpg(proc.pid, s)
            except ProcessLookupError:
                return
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def close(self) -> None:
        """Kill every process group still running (newest first)."""
        for proc in reversed(self.procs):
            self.kill(proc)


def java(jar: str, main: str, *args: str) -> list[str]:
    """argv running ``main`` from a Debian jar, off the network (JVM started directly)."""
    return ["java", *JAVA_NO_NET, "-classpath", str(JARS / jar), main, *args]


def stilts(*args: str) -> list[str]:
    """argv for STILTS."""
    return java("starlink-ttools.jar", "uk.ac.starlink.ttools.Stilts", *args)


def find_client(probe: Peer, name: str, mtype: str | None = None) -> str | None:
    """The id of the client whose ``samp.name`` is ``name`` (case-insensitive), once it is
    registered (``mtype`` None) or subscribed to ``mtype``; None before."""
    clients = (probe.client.get_registered_clients() if mtype is None
               else probe.client.get_subscribed_clients(mtype))
    for cid in clients:
        if probe.client.get_metadata(cid).get("samp.name", "").lower() == name.lower():
            return cid
    return None


# ---------------------------------------------------------------- TOPCAT and X
#: where TOPCAT's widgets are when its main window opens at (0, 0) on a bare X server
TOPCAT_BROADCAST_BUTTON = (115, 40)
TOPCAT_TABLE_LIST_ROW_1 = (50, 97)
TOPCAT_ROW_SUBSET_COMBO = (434, 217)


def xdotool(*args: str) -> None:
    """Run xdotool on the current DISPLAY."""
    subprocess.run(["xdotool", *args], check=True, timeout=30)


def click(x: int, y: int) -> None:
    """A left click at (x, y), then a pause for the GUI to react."""
    xdotool("mousemove", str(x), str(y), "click", "1")
    time.sleep(0.7)


def windows(title: str, timeout: float = 60) -> list[str]:
    """The X window ids whose title matches the regular expression ``title``, once there are
    any."""
    return wait_for(lambda: subprocess.run(["xdotool", "search", "--name", title],
                                           capture_output=True, text=True).stdout.split(),
                    timeout, step=0.5)


def start_topcat(procs: Processes, probe: Peer, table: Path, watch: Sequence[str] = ()) -> str:
    """Start TOPCAT (on the running hub, ``-nohub``) with ``table`` loaded; its client id once
    it subscribes to table.load.votable. TOPCAT, and the processes of ``procs`` named in
    ``watch``, must keep running meanwhile."""
    procs.start("topcat", java("starlink-topcat.jar", "uk.ac.starlink.topcat.Driver", "-samp",
                               "-nohub", str(table)))

    def registered() -> str | None:
        procs.check_running("topcat", *watch)
        return find_client(probe, "topcat", "table.load.votable")

    return wait_for(registered, 120, step=0.5)


def broadcast_from_topcat(received: Callable[[], Any], display: str, shots: Path) -> None:
    """The user's click on TOPCAT's broadcast button, repeated until ``received()`` is true
    (the button works once TOPCAT has seen a subscriber); a screenshot of each miss goes to
    ``shots/attemptN.png``."""
    from PIL import ImageGrab

    windows("^TOPCAT$")
    for attempt in range(5):
        time.sleep(2)
        click(*TOPCAT_BROADCAST_BUTTON)
        try:
            wait_for(received, 10)
            return
        except TimeoutError:
            ImageGrab.grab(xdisplay=display).save(shots / f"attempt{attempt}.png")


def topcat_table(probe: Peer, topcat: str, index: int, timeout: float = 60) -> Table:
    """Table ``index`` as TOPCAT holds it (current subset applied), via its table.get.stil."""
    from urllib.request import urlopen

    def fetched() -> dict | None:  # TOPCAT answers a load before the table is in its list
        response = probe.call(topcat, {"format": "votable", "index": str(index)},
                              mtype="table.get.stil", timeout=60)
        return response if response["samp.status"] == "samp.ok" else None

    response = wait_for(fetched, timeout, step=1.0)
    with urlopen(response["samp.result"]["url"], timeout=60) as stream:
        return Table.read(io.BytesIO(stream.read()), format="votable")
