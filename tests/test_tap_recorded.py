"""TAP fetcher against recorded real responses (GAVO DaCHS 2.7, tests/data/tap/recorded),
replayed by a local HTTP server: overflow, ADQL error passthrough, empty result, unreachable
service, member lists, cache and CLI. No DaCHS and no internet needed.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest
from astropy.io.votable import parse_single_table
from astropy.table import Table

from vo_ocml.cli import main
from vo_ocml.errors import InputError, NotFoundError, ServiceError
from vo_ocml.tap.fetch import MEMBERS_MAXREC, fetch_cone, fetch_hunt_members

RECORDED = Path(__file__).parent / "data" / "tap" / "recorded"
INDEX = json.loads((RECORDED / "index.json").read_text(encoding="utf-8"))
M67 = {"ra": 132.85, "dec": 11.8174, "radius": 0.1}


class _ReplayServer(ThreadingHTTPServer):
    """Replays recorded DaCHS answers: POST <base>/sync gets the response named by ``answer``;
    an async job (POST <base>/async, phase, polls, result, DELETE) replays the job named by
    ``job``: the job document in phase EXECUTING until ``executing_polls`` GETs after the
    RUN request, then the final one; GET
    <base>/capabilities gets the recorded VOSI capabilities if ``capabilities``."""

    answer = "cone_ok"
    job = "async_ok"
    capabilities = True
    executing_polls = 3

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, str]] = []
        self.job_polls = 0
        self.running = False
        self.deleted = False

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.root}/tap"


class _Handler(BaseHTTPRequestHandler):
    server: _ReplayServer

    @property
    def _job(self) -> dict:
        return INDEX[self.server.job]

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        path = self.path.split("?")[0]
        if path == "/tap/capabilities" and self.server.capabilities:
            self._send_record("capabilities")
        elif path == self._job["job_path"]:
            self.server.job_polls += self.server.running
            part = "executing" if self.server.job_polls <= self.server.executing_polls else "final"
            text = (RECORDED / self._job[part]).read_text(encoding="utf-8")
            self._send(200, "text/xml", text.replace("{base}", self.server.root).encode())
        elif path == self._job.get("result_path"):
            self._send(200, self._job["content_type"],
                       (RECORDED / self._job["result"]).read_bytes())
        else:
            self.send_error(404)

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        form = {k: v[0] for k, v in parse_qs(body).items()}
        form["path"] = self.path
        self.server.requests.append(form)
        if self.path == "/tap/sync":
            self._send_record(self.server.answer)
        elif self.path in ("/tap/async", self._job["job_path"] + "/phase"):
            self.server.running = form.get("PHASE") == "RUN" or self.server.running
            self._redirect(self._job["job_path"])
        else:
            self.send_error(404)

    def do_DELETE(self) -> None:  # noqa: N802 (http.server API)
        if self.path == self._job["job_path"]:
            self.server.deleted = True
            self._redirect("/tap/async")
        else:
            self.send_error(404)

    def _redirect(self, path: str) -> None:
        self.send_response(303)
        self.send_header("Location", self.server.root + path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_record(self, name: str) -> None:
        record = INDEX[name]
        self._send(record["status"], record["content_type"],
                   (RECORDED / record["file"]).read_bytes())

    def _send(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep test output quiet."""


@pytest.fixture
def replay() -> Iterator[_ReplayServer]:
    server = _ReplayServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _rows(name: str) -> int:
    return len(parse_single_table(RECORDED / INDEX[name]["file"]).array)


def test_sync_cone_sends_the_recorded_adql_and_returns_every_row(replay: _ReplayServer,
                                                                 tmp_path: Path) -> None:
    table = fetch_cone(**M67, service=replay.url, cache_dir=tmp_path, mode="sync")
    (request,) = replay.requests
    assert request["path"] == "/tap/sync" and request["LANG"] == "ADQL"
    assert request["QUERY"] == INDEX["cone_ok"]["query"]
    assert request["MAXREC"] == "20000000"  # DaCHS's hard limit, from its capabilities
    assert len(table) == _rows("cone_ok") > 50
    assert table["source_id"].dtype == np.int64
    assert str(table["pmra"].unit) == "mas / yr"
    params = {p["name"]: p["value"] for p in table.meta["ocml_params"]}
    assert params["ocml_tap_service"] == replay.url
    assert params["ocml_tap_query"] == INDEX["cone_ok"]["query"]
    assert params["ocml_cone_radius"] == 0.1


def test_async_job_is_polled_with_progress_then_deleted(replay: _ReplayServer,
                                                       tmp_path: Path) -> None:
    events: list[str] = []
    table = fetch_cone(**M67, service=replay.url, cache_dir=tmp_path, mode="async",
                       progress=events.append)
    (request,) = replay.requests[:1]
    assert request["path"] == "/tap/async"
    assert request["QUERY"] == INDEX["async_ok"]["query"] and request["MAXREC"] == "20000000"
    assert [r["PHASE"] for r in replay.requests[1:]] == ["RUN"]
    assert len(table) == len(parse_single_table(RECORDED / INDEX["async_ok"]["result"]).array)
    assert events[1] == f"submitted async job {replay.root}{INDEX['async_ok']['job_path']}"
    phases = [e.split(": ")[1].split(" (")[0] for e in events if e.startswith("async job")]
    assert phases[0] == "EXECUTING" and phases[-1] == "COMPLETED"
    assert events[-2] == "downloading the result"
    assert replay.deleted


def test_async_job_error_passes_the_server_message(replay: _ReplayServer,
                                                   tmp_path: Path) -> None:
    replay.job = "async_error"
    with pytest.raises(ServiceError, match="rejected the query.*column 'nosuch' could not be"):
        fetch_cone(**M67, extra_columns=["nosuch"], service=replay.url, cache_dir=tmp_path,
                   mode="async")
    assert replay.deleted


def test_overflow_is_an_error_and_nothing_is_cached(replay: _ReplayServer,
                                                    tmp_path: Path) -> None:
    replay.answer = "cone_overflow"
    with pytest.raises(ServiceError, match=r"truncated at 10 rows by the requested limit of 10"
                       r".*OVERFLOW"):
        fetch_cone(**M67, service=replay.url, cache_dir=tmp_path, mode="sync", maxrec=10)
    assert replay.requests[0]["MAXREC"] == "10"
    with pytest.raises(ServiceError, match=r"the service's row limit \(20000000, its hard"):
        fetch_cone(**M67, service=replay.url, cache_dir=tmp_path, mode="sync")
    replay.capabilities = False
    with pytest.raises(ServiceError, match=r"the service's row limit \(QUERY_STATUS"):
        fetch_cone(**M67, service=replay.url, cache_dir=tmp_path, mode="sync")
    assert "MAXREC" not in replay.requests[-1]
    assert not list(tmp_path.glob("*.vot"))


def test_adql_error_text_is_passed_through(replay: _ReplayServer, tmp_path: Path) -> None:
    replay.answer = "query_error"
    with pytest.raises(ServiceError) as info:
        fetch_cone(**M67, extra_columns=["nosuch"], service=replay.url, cache_dir=tmp_path,
                   mode="sync")
    message = str(info.value)
    assert replay.url in message and "rejected the query" in message
    assert "column 'nosuch' could not be located" in message


def test_empty_cone_is_not_found(replay: _ReplayServer, tmp_path: Path) -> None:
    replay.answer = "cone_empty"
    with pytest.raises(NotFoundError, match=r"No sources .* pass the cuts"):
        fetch_cone(ra=10.0, dec=10.0, radius=0.1, service=replay.url, cache_dir=tmp_path,
                   mode="sync")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_unreachable_service_names_the_url_and_suggests_offline(mode: str,
                                                                tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/tap"
    with pytest.raises(ServiceError, match=rf"Cannot reach the TAP service at {url}.*offline="):
        fetch_cone(**M67, service=url, cache_dir=tmp_path, mode=mode)


def test_cache_serves_repeats_offline_and_refresh_asks_again(replay: _ReplayServer,
                                                             tmp_path: Path) -> None:
    first = fetch_cone(**M67, service=replay.url, cache_dir=tmp_path, mode="sync")
    again = fetch_cone(**M67, service=replay.url, cache_dir=tmp_path, mode="sync", offline=True)
    assert len(replay.requests) == 1
    assert list(again["source_id"]) == list(first["source_id"])
    fetch_cone(**M67, service=replay.url, cache_dir=tmp_path, mode="sync", refresh=True)
    assert len(replay.requests) == 2
    with pytest.raises(NotFoundError, match=r"Offline \(offline=…\): no cached result"):
        fetch_cone(**M67, gmax=19.0, service=replay.url, cache_dir=tmp_path, offline=True)
    with pytest.raises(InputError, match="exclude each other"):
        fetch_cone(**M67, service=replay.url, cache_dir=tmp_path, offline=True, refresh=True)


def test_hunt_members_query_and_source_id(replay: _ReplayServer, tmp_path: Path) -> None:
    replay.answer = "members_shape"
    members = fetch_hunt_members("M67", service=replay.url, cache_dir=tmp_path)
    (request,) = replay.requests
    assert request["QUERY"] == (
        'SELECT * FROM "J/A+A/673/A114/members" WHERE "Name" = \'NGC_2682\'')
    assert request["MAXREC"] == str(MEMBERS_MAXREC)
    assert members.colnames[0] == "source_id" and members["source_id"].dtype == np.int64
    assert list(members["source_id"]) == list(members["GaiaDR3"])
    assert len(members) == _rows("members_shape")


def test_hunt_members_need_a_hunt_cluster(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="not in Hunt & Reffert"):
        fetch_hunt_members("Alessi 15", cache_dir=tmp_path, offline=True)


def test_cli_fetch_writes_votable_and_refuses_to_overwrite(
        replay: _ReplayServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m67.vot"
    args = ["fetch", "--ra", "132.85", "--dec", "11.8174", "--radius", "0.1", "--mode", "sync",
            "--service", replay.url, "--cache-dir", str(tmp_path / "cache"), "-o", str(out)]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert f"wrote {_rows('cone_ok')} rows to {out}" in captured.out
    assert "sync query to" in captured.err
    assert len(Table.read(out)) == _rows("cone_ok")
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--offline", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert len(replay.requests) == 1


def test_cli_errors_map_to_exit_codes(replay: _ReplayServer, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    replay.answer = "query_error"
    common = ["--service", replay.url, "--cache-dir", str(tmp_path), "--mode", "sync", "-q"]
    assert main(["fetch", "M67", "--columns", "nosuch", "-o", str(tmp_path / "a.vot"),
                 *common]) == 3
    assert "nosuch" in capsys.readouterr().err
    assert main(["fetch", "--ra", "10", "-o", str(tmp_path / "b.vot"), *common]) == 2
    assert main(["fetch", "--hunt-members", "-o", str(tmp_path / "c.vot"), *common]) == 2
    assert main(["fetch", *common]) == 2
    assert "Give a cluster name" in capsys.readouterr().err
