"""Fuzz the service with more than 200 malformed or hostile inputs through a real hub.

Every input must be answered with ``samp.error`` (never samp.ok, never silence), and the
service must still be registered and answering at the end. Inputs: truncated and corrupted
VOTables, wrong types and missing columns, empty and oversized tables, hostile XML, bad URLs
and schemes, hostile loopback HTTP servers, and bad per-message parameters.
"""

from __future__ import annotations

import gzip
import http.server
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sampkit import Peer, gaia_table, write_votable

pytestmark = pytest.mark.timeout(300)

COLUMNS = ("source_id", "ra", "dec", "parallax", "pmra", "pmdec", "phot_g_mean_mag", "bp_rp")
ROW_LIMIT = 2000
MAX_BYTES = 1_000_000


def votable_xml(fields: list[tuple[str, str]], rows: list[list[str]], extra: str = "") -> str:
    """A TABLEDATA VOTable written by hand (cells are inserted verbatim)."""
    head = "".join(f'<FIELD name="{n}" datatype="{t}"/>' for n, t in fields)
    body = "".join("<TR>" + "".join(f"<TD>{c}</TD>" for c in row) + "</TR>" for row in rows)
    return (
        f'<?xml version="1.0"?>{extra}<VOTABLE version="1.4" '
        'xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE><TABLE>'
        f"{head}<DATA><TABLEDATA>{body}</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>"
    )


def gaia_rows(n: int = 60) -> tuple[list[tuple[str, str]], list[list[str]]]:
    """Fields and rows of real M67 stars, as TABLEDATA text."""
    table = gaia_table(rows=n)
    fields = [(c, "long" if c == "source_id" else "double") for c in COLUMNS]
    rows = [[repr(float(v)) if c != "source_id" else str(int(v)) for c, v in zip(COLUMNS, row)]
            for row in table[list(COLUMNS)].filled(np.nan).iterrows()]
    return fields, rows


class Hostile(http.server.BaseHTTPRequestHandler):
    """A loopback HTTP server that misbehaves in a different way on each path."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        path = self.path
        if path.startswith("/status/"):
            self.send_error(int(path.rsplit("/", 1)[1]))
        elif path.startswith("/redirect?"):
            self.send_response(302)
            self.send_header("Location", path.split("?", 1)[1])
            self.end_headers()
        elif path == "/html":
            self._send(b"<html><body>not a table</body></html>", "text/html")
        elif path == "/huge":
            self.send_response(200)
            self.end_headers()
            chunk = b" " * 65536
            for _ in range(2 * MAX_BYTES // len(chunk)):
                self.wfile.write(chunk)
        elif path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"<?xml version='1.0'?><VOTABLE>")
            self.wfile.flush()
            time.sleep(4)
        elif path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"<?xml version='1.0'?><VOTABLE>")
        else:
            self.send_error(404)

    def _send(self, body: bytes, ctype: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def hostile_http() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def file_cases(d: Path) -> list[tuple[str, dict[str, Any]]]:
    """Hostile table files, each sent as table.load.votable (or .fits) with a file:// URL."""
    cases: list[tuple[str, dict[str, Any]]] = []

    def add(name: str, content: bytes | str, mtype: str = "table.load.votable") -> None:
        path = d / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        cases.append((mtype, {"url": path.as_uri(), "name": name}))

    fields, rows = gaia_rows()
    good = votable_xml(fields, rows).encode()
    for i, cut in enumerate(np.linspace(1, len(good) - 40, 60).astype(int)):
        add(f"truncated_td_{i}.vot", good[:cut])
    binary2 = write_votable(gaia_table(rows=300), d / "b2.vot").read_bytes()
    for i, cut in enumerate(np.linspace(1, len(binary2) - 20, 30).astype(int)):
        add(f"truncated_b2_{i}.vot", binary2[:cut])
    # Characters outside the base64 alphabet are skipped by every decoder (as whitespace is),
    # so the stream is replaced by one whose length cannot be base64: it must be refused.
    add("b2_bad_base64.vot", re.sub(rb"(<STREAM[^>]*>).*?(</STREAM>)",
                                    rb"\1!!@@##QUJ\2", binary2, flags=re.S))
    for col in ("ra", "dec", "pmra", "pmdec", "parallax"):
        keep = [i for i, (n, _) in enumerate(fields) if n != col]
        add(f"missing_{col}.vot",
            votable_xml([fields[i] for i in keep], [[r[i] for i in keep] for r in rows]))
    add("only_source_id.vot", votable_xml(fields[:1], [r[:1] for r in rows]))
    add("no_fields.vot", votable_xml([], []))
    add("empty_rows.vot", votable_xml(fields, []))
    add("all_nan.vot", votable_xml(fields, [[r[0]] + ["NaN"] * 7 for r in rows]))
    add("text_in_numbers.vot", votable_xml(fields, [[r[0]] + ["abc"] * 7 for r in rows]))
    add("char_astrometry.vot", votable_xml(
        [(n, "char" if n != "source_id" else "long") for n, _ in fields],
        [[r[0]] + ["x"] * 7 for r in rows]))
    add("bool_astrometry.vot", votable_xml(
        [(n, "boolean" if n != "source_id" else "long") for n, _ in fields],
        [[r[0]] + ["T"] * 7 for r in rows]))
    add("bad_datatype.vot", votable_xml([(n, "quaternion") for n, _ in fields], rows))
    add("one_row.vot", votable_xml(fields, rows[:1]))
    add("two_rows.vot", votable_xml(fields, rows[:2]))
    add("duplicated_names.vot", votable_xml([("pmra", "double")] * 8, rows))
    big = gaia_table()
    add("over_row_limit.vot", write_votable(big[np.tile(np.arange(len(big)), 2)],
                                            d / "big.tmp").read_bytes())
    add("over_byte_limit.vot", b" " * (MAX_BYTES + 10))
    add("empty_file.vot", b"")
    add("whitespace.vot", b" \n\t " * 100)
    add("nul_bytes.vot", b"\x00" * 5000)
    rng = np.random.default_rng(5)
    for i in range(8):
        add(f"random_{i}.vot", rng.integers(0, 256, 2000 * (i + 1), dtype=np.uint8).tobytes())
    add("html.vot", "<html><body><h1>not a table</h1></body></html>")
    add("svg.vot", '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>')
    add("xml_decl_only.vot", '<?xml version="1.0"?>')
    add("json.vot", '{"ra": [1, 2], "dec": [3, 4]}')
    add("csv_as_votable.vot", (Path(__file__).parents[1] / "data/samp/m67_dr3_pmbox.csv")
        .read_bytes()[:20000])
    add("votable_no_table.vot", '<?xml version="1.0"?><VOTABLE version="1.4"><RESOURCE/></VOTABLE>')
    add("votable_no_data.vot", '<?xml version="1.0"?><VOTABLE version="1.4"><RESOURCE><TABLE>'
        '<FIELD name="ra" datatype="double"/></TABLE></RESOURCE></VOTABLE>')
    laughs = ('<!DOCTYPE v [<!ENTITY a "lollollollollol">'
              + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'
                        for i in range(6)) + "]>")
    add("billion_laughs.vot", votable_xml(fields, [[r[0]] + ["&g;"] * 7 for r in rows[:3]],
                                          extra=laughs))
    xxe = '<!DOCTYPE v [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    add("xxe.vot", votable_xml(fields, [[r[0]] + ["&x;"] * 7 for r in rows[:3]], extra=xxe))
    add("deep_nesting.vot", '<?xml version="1.0"?><VOTABLE>' + "<RESOURCE>" * 20000
        + "</RESOURCE>" * 20000 + "</VOTABLE>")
    add("gzip_zeros.vot", gzip.compress(b"\x00" * 5_000_000))
    add("gzip_truncated.vot", gzip.compress(good)[:400])
    add("fits_garbage.fits", b"SIMPLE  =                    T" + b" " * 2850, "table.load.fits")
    add("votable_as_fits.fits", good, "table.load.fits")
    add("empty.fits", b"", "table.load.fits")
    gaia_table()[:0].write(d / "empty_rows.fits", format="fits")
    cases.append(("table.load.fits", {"url": (d / "empty_rows.fits").as_uri()}))
    fifo = d / "fifo.vot"
    os.mkfifo(fifo)
    cases.append(("table.load.votable", {"url": fifo.as_uri()}))
    loop = d / "loop.vot"
    loop.symlink_to(loop)
    cases.append(("table.load.votable", {"url": loop.as_uri()}))
    cases.append(("table.load.votable", {"url": d.as_uri()}))
    return cases


def url_cases(d: Path, http: str) -> list[tuple[str, dict[str, Any]]]:
    """Bad URLs, bad parameter types, hostile servers and bad custom-MType parameters."""
    urls: list[Any] = [
        "", "   ", "file://", "m67.vot", "file:m67.vot", "file://otherhost/etc/passwd",
        "file:///does/not/exist.vot", "file:///dev/zero", "file:///dev/urandom", "file:///",
        "file:///etc/passwd", "file:///proc/self/status", "http://192.0.2.1/t.vot",
        "https://192.0.2.1/t.vot", "http://example.invalid/t.vot", "http://10.0.0.1/t.vot",
        "http://[2001:db8::1]/t.vot", "ftp://127.0.0.1/t.vot", "data:text/xml,<VOTABLE/>",
        "javascript:alert(1)", "gopher://127.0.0.1/", "jar:file:///x.jar!/t.vot",
        "http://127.0.0.1:9/closed.vot", "http://[::1]:9/closed.vot", "http://127.0.0.1:99999/",
        "http://127.0.0.1:port/", "http://:80/", "http:///t.vot", "http://user:pw@192.0.2.1/t",
        "http://127.0.0.1@192.0.2.1/t.vot", "http://0x7f.1/t.vot?x", "ht tp://127.0.0.1/",
        "\u2603://snow/t.vot", "file:///" + "a" * 5000, "http://127.0.0.1/" + "%" * 300,
        f"{http}/status/404", f"{http}/status/500", f"{http}/status/403", f"{http}/html",
        f"{http}/huge", f"{http}/stall", f"{http}/short", f"{http}/redirect?http://192.0.2.1/x",
        f"{http}/redirect?ftp://127.0.0.1/x", f"{http}/redirect?file:///etc/passwd",
        f"{http}/redirect?/redirect?/status/404", f"{http}/redirect?{http}/status/410",
        0, 1.5, True, ["file:///etc/passwd"], {"url": "file:///etc/passwd"},
    ]
    cases: list[tuple[str, dict[str, Any]]] = [("table.load.votable", {"url": u}) for u in urls]
    cases += [("table.load.votable", {}), ("table.load.votable", {"name": "no url"}),
              ("table.load.fits", {"table-id": "x"})]
    good = write_votable(gaia_table(rows=500), d / "good.vot").as_uri()
    run = "vo_ocml.membership.run"
    bad_params: list[dict[str, Any]] = [
        {"threshold": t} for t in ("-0.1", "1.5", "nan", "inf", "", "high", "1e309", ["0.5"])
    ] + [
        {"centroid": c} for c in ("1,2", "1,2,3,4", "a,b,c", "nan,0,0", "", "1;2;3", ["1", "2"])
    ] + [
        {"method": m} for m in ("", "kmeans", "MSTGMM ", "dec;rm -rf /", ["dec"])
    ] + [
        {"send": "everything"}, {"send": ""}, {"to": "everyone"}, {"to": ["sender"]},
        {"columns": "pmra=pm_ra"}, {"columns": ["pmra"]}, {"columns": {"pmra": ""}},
        {"cluster": ""}, {"cluster": ["NGC 2682"]}, {"format": "parquet"}, {"format": ""},
        {"unknown": "1"}, {"samp.mtype": "x"}, {"threshold": "0.5", "sneaky": "1"},
    ]
    cases += [(run, {"url": good, **p}) for p in bad_params]
    cases += [(run, {"url": good, "cluster": "Not A Cluster 99999"}),
              (run, {"url": good, "columns": {"pmra": "no_such_column"}})]
    return cases


def test_fuzz_hostile_inputs_all_answered_with_error(make_service, hub, tmp_path, hostile_http):
    service = make_service(row_limit=ROW_LIMIT, max_bytes=MAX_BYTES, fetch_timeout=2.0)
    cases = file_cases(tmp_path) + url_cases(tmp_path, hostile_http)
    assert len(cases) >= 200
    sender = Peer(name="fuzzer", mtypes=())
    failures = []
    t0 = time.monotonic()
    try:
        for mtype, params in cases:
            response = sender.call(service.public_id, params, mtype=mtype, timeout=30)
            text = response.get("samp.error", {}).get("samp.errortxt", "")
            if response.get("samp.status") != "samp.error" or not text:
                failures.append((mtype, params, response))
        elapsed = time.monotonic() - t0
        ping = sender.call(service.public_id, {}, mtype="samp.app.ping", timeout=10)
        good = write_votable(gaia_table(), tmp_path / "after.vot").as_uri()
        after = sender.call(service.public_id, {"url": good}, timeout=60)
    finally:
        sender.close()
    assert not failures, f"{len(failures)} inputs not refused: {failures[:5]}"
    assert ping["samp.status"] == "samp.ok"
    assert after["samp.status"] == "samp.ok", after
    assert service.registrations == 1
    print(f"fuzz: {len(cases)} hostile inputs, all answered with samp.error in {elapsed:.1f} s")
