"""vo-ocml batch over TAP against a real server: GAVO DaCHS on 127.0.0.1:8080 serving real Gaia
DR3 rows (set up by ``bash .ci/dachs.sh``; skipped without it unless VO_OCML_REQUIRE_DACHS=1).

The batch fetches each cone with vo_ocml's TAP fetcher into its cache; the members must equal a
single ``vo_ocml.run`` on the same cone read back from that cache (offline).
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

from vo_ocml import run  # noqa: E402
from vo_ocml.batch.driver import run_batch  # noqa: E402
from vo_ocml.batch.sources import parse_source  # noqa: E402
from vo_ocml.batch.targets import from_names  # noqa: E402
from vo_ocml.tap.fetch import fetch_cone  # noqa: E402

pytestmark = [pytest.mark.peers, pytest.mark.slow]

DACHS = os.environ.get("VO_OCML_DACHS_TAP", "http://127.0.0.1:8080/tap")
OPTIONS = {"method": "mstgmm", "threshold": 0.5, "random_state": 0}


@pytest.fixture(scope="module")
def dachs() -> str:
    try:
        with urllib.request.urlopen(f"{DACHS}/availability", timeout=5) as response:
            up = b"<avl:available>true" in response.read()
    except OSError:
        up = False
    if not up:
        reason = f"no DaCHS TAP service at {DACHS} (start it with `bash .ci/dachs.sh`)"
        if os.environ.get("VO_OCML_REQUIRE_DACHS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return DACHS


def test_batch_over_tap_matches_single_runs(dachs: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    targets = from_names(["NGC 2682", "Pleiades"])
    source = parse_source(f"tap:{dachs}", cache_dir=str(cache))
    result = run_batch(targets, source, tmp_path / "out", options=OPTIONS, workers=1,
                       progress=False)
    assert result.counts["found"] == 2, list(result.summary["reason"])
    import pyarrow.parquet as pq
    members = pq.read_table(result.files["members"]).to_pandas()
    for t in targets:
        cone = fetch_cone(ra=t.ra, dec=t.dec, radius=t.radius, service=dachs,
                          cache_dir=cache, offline=True)  # what the batch fetched
        single = run(cone, cluster=t.cluster, **OPTIONS)
        ours = members[members["cluster"] == t.name]["source_id"].to_numpy()
        assert np.array_equal(np.sort(ours),
                              np.sort(np.asarray(cone["source_id"])[single.members]))
        record = json.loads((tmp_path / "out" / "clusters" / f"{t.slug}.json").read_text())
        assert record["source_provenance"]["ocml_tap_service"] == dachs
        assert record["n_rows"] == len(cone)
