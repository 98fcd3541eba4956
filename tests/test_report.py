"""The HTML report on a tiny real table: files, links, tables, provenance, offline-ness."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from astropy.table import Table
from matplotlib.image import imread

from vo_ocml.analysis.report import write_report
from vo_ocml.annotated import Annotated
from vo_ocml.io.columns import resolve_columns
from vo_ocml.membership.base import Centroid, MembershipResult

DATA = Path(__file__).parent / "data" / "analysis"

#: the output columns of a first run
OUTPUT_NAMES = {"prob": "ocml_prob", "member": "ocml_member", "stage": "ocml_stage"}


def tiny_run(n: int = 200) -> Annotated:
    """A run (table, result, summary) on the first ``n`` rows of the M67 fixture."""
    table = Table.read(DATA / "m67_dr3_subset.csv")[:n]
    distance = np.hypot(table["pmra"] + 10.97, table["pmdec"] + 2.91)
    prob = np.clip(1.3 - distance / 0.5, 0.0, 1.0)
    stage = np.where(distance > 1.0, "filter", "gmm").astype("U10")
    table["ocml_prob"] = prob
    table["ocml_member"] = prob > 0.5
    table["ocml_stage"] = stage
    table.meta["ocml_params"] = [
        {"name": "ocml_method", "value": "mstgmm", "ucd": "meta.code", "unit": None,
         "description": "membership method <filter → MST → GMM>"},
        {"name": "ocml_centroid_pmra", "value": -10.97, "ucd": "pos.pm", "unit": "mas/yr", "description": ""},
        {"name": "ocml_centroid_pmdec", "value": -2.91, "ucd": "pos.pm", "unit": "mas/yr", "description": ""},
        {"name": "ocml_centroid_parallax", "value": 1.15, "ucd": "pos.parallax", "unit": "mas",
         "description": ""},
    ]
    result = MembershipResult(
        probability=prob, stage=stage, step_counts={"cone": n, "filter": int((stage == "gmm").sum()),
                                                    "gmm": int((prob > 0.5).sum())},
        centroid=Centroid(-10.97, -2.91, 1.15, source="user", name="NGC 2682"), method="mstgmm",
        details={"mst_edge_weights": np.random.default_rng(0).gamma(2, 0.1, n), "mst_threshold": 0.5,
                 "cluster_component_reason": "component 1 is the densest", "detection_significance": 12.345},
    )
    summary = SimpleNamespace(as_rows=lambda: [("N (P > 0.5)", str(int((prob > 0.5).sum())))])
    return Annotated(table=table, result=result, summary=summary, columns=resolve_columns(table),
                     names=OUTPUT_NAMES, threshold=0.5)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of :func:`tiny_run` validated against the Babusiaux et al. subset."""
    directory = tmp_path_factory.mktemp("report")
    index = write_report(tiny_run(), directory, reference=DATA / "babusiaux2018_ngc2682_subset.csv")
    assert index == directory / "index.html"
    return index


def test_report_is_complete_and_offline(report: Path) -> None:
    index = report
    page = index.read_text(encoding="utf-8")
    assert "<title>vo_ocml: NGC 2682</title>" in page
    images = re.findall(r'<img src="([^"]+)"', page)
    assert {"cmd.png", "pm.png", "parallax.png", "sky.png", "kde.png", "mst.png", "king.png",
            "validation.png"} == set(images)
    assert all((index.parent / src).stat().st_size > 10_000 for src in images)
    for needle in ("King r_c", "completeness", "contamination", "F1", "ocml_centroid_pmra",
                   "N (P &gt; 0.5)", "component 1 is the densest", "12.35", "&lt;filter → MST → GMM&gt;"):
        assert needle in page, needle
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page


def test_report_without_reference_or_king(tmp_path: Path) -> None:
    run = tiny_run(40)
    run.table["ocml_prob"][:] = 0.0
    run.result.probability[:] = 0.0
    index = write_report(run, tmp_path, title="Custom & title")
    page = index.read_text(encoding="utf-8")
    assert "<title>Custom &amp; title</title>" in page
    assert "No King profile" in page and "Validation" not in page
    assert "validation.png" not in page and "king.png" not in page


def test_report_of_a_real_run(tmp_path: Path) -> None:
    import vo_ocml

    table = Table.read(DATA / "m67_dr3_subset.csv")
    table["ocml_prob"] = np.zeros(len(table))  # an input column of the same name is kept
    run = vo_ocml.run(table, cluster="NGC 2682")
    assert run.names["prob"] != "ocml_prob"
    index = write_report(run, tmp_path, reference=DATA / "babusiaux2018_ngc2682_subset.csv")
    page = index.read_text(encoding="utf-8")
    assert "<title>vo_ocml: NGC 2682</title>" in page and "mst.png" in page
    assert f"<th>members (P &gt; 0.5)</th><td class=num>{int(run.members.sum())}</td>" in page
    assert "catalogue:Hunt" in page and "ocml_version" in page
    completeness = re.search(r"<th>completeness</th><td class=num>([\d.]+) %", page)
    assert completeness and 0 < float(completeness.group(1)) <= 100


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")
def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    index = report
    shot = tmp_path / "shot.png"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
               "--window-size=1200,2000", index.resolve().as_uri()]
    subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert shot.exists(), "chromium wrote no screenshot"
    image = imread(shot)[..., :3]
    assert image.shape[:2] == (2000, 1200)
    assert image.std() > 0.05, "the screenshot is blank"
    # the plots were loaded: the page holds coloured (not grey) pixels in quantity
    saturation = image.max(axis=2) - image.min(axis=2)
    assert (saturation > 0.3).mean() > 0.005, "no coloured plot pixels: images did not load"
