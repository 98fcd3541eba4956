"""SAMP service figures through a real hub: send-to-broadcast latency, 20 tables at once, and
hub restart / crash recovery.

Everything runs as it would for a user: ``vo-ocml hub`` and ``vo-ocml listen`` are separate
processes; this script is the sending peer. Tables are the real NGC 2477 Gaia fixture of the
SAMP tests (3,000 rows of a 0.26 deg cone, tests/data/samp) tiled to the wanted size, with proper
motions and parallaxes jittered by 0.05 mas/yr and 0.02 mas so that no two rows are identical.

    python bench/samp_latency.py                       # 30,000 and 500,000 rows
    python bench/samp_latency.py --sizes 30000 --repeats 5 --threads 0
    python bench/samp_latency.py --sizes 30000 --method dec --latency-only
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "samp" / "ngc2477_cone_3000.csv"
VO_OCML = [sys.executable, "-m", "vo_ocml.cli"]


def tiled_cone(nrows: int, seed: int = 0):
    """The NGC 2477 fixture repeated to ``nrows`` rows, astrometry jittered."""
    from vo_ocml.io.tables import read_table

    cone = read_table(FIXTURE)
    rng = np.random.default_rng(seed)
    table = cone[np.resize(np.arange(len(cone)), nrows)]
    for name, sigma in (("pmra", 0.05), ("pmdec", 0.05), ("parallax", 0.02)):
        table[name] = np.asarray(table[name], float) + rng.normal(0.0, sigma, nrows)
    return table


class Sender:
    """The benchmarking peer: sends tables, timestamps the broadcasts it receives."""

    def __init__(self) -> None:
        from pyvo.samp import SAMPIntegratedClient

        self.client = SAMPIntegratedClient(name="bench", addr="127.0.0.1")
        self.client.connect()
        self.loads: dict[str, float] = {}
        self.replies: dict[str, tuple[float, dict[str, Any]]] = {}
        self.arrived = threading.Condition()
        self.client.bind_receive_call("table.load.votable", self._on_load)

    def _on_load(self, pk: str, sender: str, msg_id: str, mtype: str, params: dict,
                 extra: dict) -> None:
        with self.arrived:
            self.loads[params["name"]] = time.perf_counter()
            self.arrived.notify_all()
        self.client.reply(msg_id, {"samp.status": "samp.ok", "samp.result": {}})

    def _on_reply(self, pk: str, responder: str, tag: str, response: dict) -> None:
        with self.arrived:
            self.replies[tag] = (time.perf_counter(), response)
            self.arrived.notify_all()

    def service_id(self) -> str | None:
        for cid in self.client.get_registered_clients():
            if self.client.get_metadata(cid).get("samp.name") == "vo-ocml":
                return cid
        return None

    def send(self, target: str, path: Path, name: str, timeout: float) -> dict[str, float]:
        """Send one table; return the reply and broadcast latencies in seconds."""
        tag = f"bench-{name}"
        self.client.bind_receive_response(tag, self._on_reply)
        t0 = time.perf_counter()
        self.client.call(target, tag, {"samp.mtype": "table.load.votable",
                                       "samp.params": {"url": path.as_uri(), "name": name}})
        with self.arrived:  # the broadcast may reach us before the reply: wait for both
            ok = self.arrived.wait_for(
                lambda: tag in self.replies and (
                    f"{name} - members" in self.loads
                    or self.replies[tag][1].get("samp.status") != "samp.ok"),
                timeout)
        if not ok or f"{name} - members" not in self.loads:
            raise RuntimeError(f"{name}: no broadcast; reply {self.replies.get(tag)}")
        return {"reply_s": self.replies[tag][0] - t0,
                "broadcast_s": self.loads[f"{name} - members"] - t0}

    def close(self) -> None:
        self.client.disconnect()


def wait(predicate, timeout: float, step: float = 0.01) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError("condition not met")


def start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(proc.pid, sig)
        proc.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def hub_up(lock: Path) -> bool:
    from pyvo.samp.lockfile_helpers import check_running_hub

    return lock.exists() and check_running_hub(str(lock))[0]


def registered_on_new_hub(lock: Path, sig: int, work: Path, old_hub) -> tuple[float, Any]:
    """Stop the hub with ``sig``, start a new one; seconds from the new hub being up (its
    lockfile answering) to the service being registered with it."""
    stop(old_hub, sig)
    time.sleep(2.5)  # the service notices (announcement or failed check) and backs off
    hub = start([*VO_OCML, "hub", "-q"], work / "hub.log")
    wait(lambda: hub_up(lock), 60)
    t0 = time.perf_counter()
    probe = wait(lambda: _probe_service(), 60)
    return time.perf_counter() - t0, (hub, probe)


def _probe_service():
    try:
        sender = Sender()
    except Exception:
        return None
    if sender.service_id():
        return sender
    sender.close()
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[30_000, 500_000])
    parser.add_argument("--repeats", type=int, default=3, help="sends per size (median kept)")
    parser.add_argument("--threads", type=int, default=1, help="vo-ocml listen --threads")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--method", default="mstgmm", choices=("mstgmm", "dec"),
                        help="vo-ocml listen --method")
    parser.add_argument("--latency-only", action="store_true",
                        help="skip the 20 tables at once and the hub restart / crash")
    args = parser.parse_args(argv)

    from pyvo.samp import conf

    conf.use_internet = False
    from threadpoolctl import threadpool_limits

    from vo_ocml.io.tables import read_table, write_table
    from vo_ocml.pipeline import run

    work = Path(tempfile.mkdtemp(prefix="samp-bench-"))
    lock = work / "samp.lock"
    os.environ["SAMP_HUB"] = f"std-lockurl:{lock.as_uri()}"
    figures: dict[str, Any] = {"method": args.method, "threads": args.threads,
                               "cpus": os.cpu_count(),
                               "load_average": os.getloadavg()[0]}
    tables = {}
    for n in args.sizes:
        tables[n] = work / f"ngc2477_x{n}.vot"
        write_table(tiled_cone(n), tables[n])
    hub = start([*VO_OCML, "hub", "-q"], work / "hub.log")
    wait(lambda: hub_up(lock), 60)
    listen = start([*VO_OCML, "listen", "-v", "--send", "broadcast", "--to", "sender",
                    "--threads", str(args.threads), "--method", args.method], work / "listen.log")
    sender = wait(_probe_service, 120, step=0.2)
    try:
        target = sender.service_id()
        for n, path in tables.items():
            t0 = time.perf_counter()
            table = read_table(path)
            t1 = time.perf_counter()
            with threadpool_limits(limits=args.threads or None):
                annotated = run(table, method=args.method)
            t2 = time.perf_counter()
            write_table(annotated.table, work / f"direct_{n}.vot")
            split = {"read_s": t1 - t0, "run_s": t2 - t1, "write_s": time.perf_counter() - t2}
            runs = [sender.send(target, path, f"{n}-{i}", timeout=1800)
                    for i in range(args.repeats if n <= 100_000 else 1)]
            figures[f"rows_{n}"] = {
                "send_to_broadcast_s": statistics.median(r["broadcast_s"] for r in runs),
                "send_to_reply_s": statistics.median(r["reply_s"] for r in runs),
                "all_send_to_broadcast_s": [round(r["broadcast_s"], 3) for r in runs],
                "in_process": split,
                "members": int(np.sum(annotated.table["ocml_member"])),
            }
            print(f"{n:>9,} rows: send->broadcast {figures[f'rows_{n}']['send_to_broadcast_s']:.2f} s"
                  f" (runs {figures[f'rows_{n}']['all_send_to_broadcast_s']}),"
                  f" in-process read {split['read_s']:.2f} s + run {split['run_s']:.2f} s +"
                  f" write {split['write_s']:.2f} s", flush=True)

        if args.latency_only:
            return _finish(args, figures)
        fixture = read_table(FIXTURE)
        paths = [work / f"batch_{i}.vot" for i in range(20)]
        for p in paths:
            write_table(fixture, p)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(20) as pool:
            responses = list(pool.map(lambda p: sender.client.call_and_wait(
                target, {"samp.mtype": "table.load.votable",
                         "samp.params": {"url": p.as_uri(), "name": p.name}}, "1800"), paths))
        ok = sum(r.get("samp.status") == "samp.ok" for r in responses)
        figures["twenty_at_once"] = {"answered_ok": ok, "rows_each": len(fixture),
                                     "total_s": time.perf_counter() - t0}
        print(f"20 tables of {len(fixture)} rows at once: {ok}/20 answered samp.ok in "
              f"{figures['twenty_at_once']['total_s']:.1f} s", flush=True)
        sender.close()

        for label, sig in (("hub_restart", signal.SIGTERM), ("hub_crash", signal.SIGKILL)):
            seconds, (hub, sender) = registered_on_new_hub(lock, sig, work, hub)
            figures[label + "_recovery_s"] = seconds
            print(f"{label.replace('_', ' ')} ({signal.Signals(sig).name}): registered "
                  f"{seconds:.2f} s after the new hub was up", flush=True)
            target = sender.service_id()
            sender.send(target, tables[args.sizes[0]], f"after-{label}", timeout=1800)
            if label == "hub_restart":
                sender.close()
    finally:
        sender.close()
        stop(listen)
        stop(hub)
    return _finish(args, figures)


def _finish(args: argparse.Namespace, figures: dict[str, Any]) -> int:
    """Print the figures (and write them to ``--json``)."""
    figures["load_average_end"] = os.getloadavg()[0]
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
