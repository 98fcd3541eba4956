"""Record real TAP responses from the local DaCHS service for tests/test_tap_recorded.py.

    bash .ci/dachs.sh && python tests/tap/record_responses.py [http://127.0.0.1:8080/tap]

Each response body goes to tests/data/tap/recorded/NAME.xml; index.json records the request
(ADQL, MAXREC), the HTTP status and the content type, so the replay server answers exactly as
DaCHS did. The VOSI capabilities document (row limits) is recorded as "capabilities". Async
(UWS) jobs are recorded as the job document while EXECUTING, the final job document and the
result; the server's base URL in them is replaced by "{base}".
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import requests

from vo_ocml.tap.adql import ConeQuery

OUT = Path(__file__).resolve().parents[1] / "data" / "tap" / "recorded"

#: M67 centre (Hunt & Reffert 2023) and a small cone inside the test table's M67 field
M67 = (132.85, 11.8174)

REQUESTS: dict[str, tuple[str, int | None]] = {
    "cone_ok": (ConeQuery(*M67, 0.1).adql(), None),
    "cone_overflow": (ConeQuery(*M67, 0.1).adql(), 10),
    "cone_empty": (ConeQuery(10.0, 10.0, 0.1).adql(), None),
    "query_error": (ConeQuery(*M67, 0.1, extra_columns=("nosuch",)).adql(), None),
    # gaia_source rows renamed to the VizieR members table's column names: the *shape* of a
    # J/A+A/673/A114/members answer (these rows are not Hunt & Reffert members)
    "members_shape": (
        "SELECT TOP 50 'NGC_2682' AS \"Name\", source_id AS \"GaiaDR3\", ra AS \"RA_ICRS\", "
        "dec AS \"DE_ICRS\", parallax AS \"Plx\", pmra AS \"pmRA\", pmdec AS \"pmDE\", "
        "phot_g_mean_mag AS \"Gmag\", bp_rp AS \"BP-RP\" FROM gaiadr3.gaia_source "
        "WHERE 1=CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 132.85, 11.8174, 0.1)) "
        "ORDER BY source_id", None),
}


#: async jobs to record: (ADQL, MAXREC)
ASYNC_REQUESTS: dict[str, tuple[str, int | None]] = {
    "async_ok": REQUESTS["cone_ok"],
    "async_error": REQUESTS["query_error"],
}


def _record_async(service: str, name: str, query: str, maxrec: int | None) -> dict:
    """Run one UWS job by hand, saving the job documents and the result with "{base}"."""
    root = re.match(r"https?://[^/]+", service).group(0)
    data = {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query}
    if maxrec is not None:
        data["MAXREC"] = str(maxrec)
    created = requests.post(f"{service}/async", data=data, allow_redirects=False, timeout=60)
    job = created.headers["Location"]
    requests.post(f"{job}/phase", data={"PHASE": "RUN"}, allow_redirects=False, timeout=60)
    entry = {"kind": "async", "query": query, "maxrec": maxrec,
             "job_path": job[len(root):], "recorded_from": service}
    executing = requests.get(job, timeout=60).text
    while (final := requests.get(job, timeout=60).text) and re.search(
            r"<uws:phase>(QUEUED|EXECUTING|PENDING)</uws:phase>", final):
        time.sleep(0.5)
    for part, text in (("executing", executing), ("final", final)):
        (OUT / f"{name}_{part}.xml").write_text(text.replace(root, "{base}"), encoding="utf-8")
        entry[part] = f"{name}_{part}.xml"
    result = re.search(r'xlink:href="([^"]+)"', final)
    if result:
        response = requests.get(result.group(1), timeout=60)
        (OUT / f"{name}_result.xml").write_bytes(response.content)
        entry.update(result=f"{name}_result.xml", result_path=result.group(1)[len(root):],
                     content_type=response.headers["content-type"])
    requests.delete(job, allow_redirects=False, timeout=60)
    phase = re.search(r"<uws:phase>(\w+)", final)
    print(f"{name}: {phase.group(1) if phase else '?'}")
    return entry


def main(service: str) -> None:
    """Record every request of :data:`REQUESTS` from ``service`` into :data:`OUT`."""
    OUT.mkdir(parents=True, exist_ok=True)
    response = requests.get(f"{service}/capabilities", timeout=60)
    (OUT / "capabilities.xml").write_bytes(response.content)
    index = {"capabilities": {"status": response.status_code,
                              "content_type": response.headers["content-type"],
                              "file": "capabilities.xml", "recorded_from": service}}
    for name, (query, maxrec) in REQUESTS.items():
        data = {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query}
        if maxrec is not None:
            data["MAXREC"] = str(maxrec)
        response = requests.post(f"{service}/sync", data=data, timeout=60)
        (OUT / f"{name}.xml").write_bytes(response.content)
        index[name] = {"query": query, "maxrec": maxrec, "status": response.status_code,
                       "content_type": response.headers["content-type"],
                       "file": f"{name}.xml", "recorded_from": service}
        print(f"{name}: HTTP {response.status_code}, {len(response.content)} bytes")
    for name, (query, maxrec) in ASYNC_REQUESTS.items():
        index[name] = _record_async(service, name, query, maxrec)
    (OUT / "index.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080/tap")
