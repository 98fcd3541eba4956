"""One-page HTML overview of a batch: counts, plots (embedded PNGs) and the per-cluster table.

Plots: Δparallax/σ against the catalogue distance, the distribution of N ratios, and
Δpm/σ against the number of members. The page has its own CSS and no external resources.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from vo_ocml.io.atomic import atomic_write

__all__ = ["write_overview", "plots"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 0.2em 0.5em; text-align: right; }
td.t, th { text-align: left; } th { background: #f3f3f3; }
tr.failed td { background: #fdecea; } tr.not_found td { background: #fff7e0; }
.grid { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 1em; }
figure { margin: 0; } img { width: 100%; } figcaption { font-size: 0.85em; color: #444; }
"""
#: columns of the per-cluster table and how each is printed
_TABLE = (("name", "{}"), ("status", "{}"), ("n_members", "{:d}"), ("n_p08", "{:d}"),
          ("pmra", "{:.3f}"), ("pmdec", "{:.3f}"), ("parallax", "{:.4f}"),
          ("r50", "{:.4f}"), ("king_rc", "{:.4f}"), ("significance", "{:.1f}"),
          ("d_pmra_sigma", "{:+.1f}"), ("d_pmdec_sigma", "{:+.1f}"),
          ("d_parallax_sigma", "{:+.1f}"), ("n_ratio", "{:.2f}"), ("run_time_s", "{:.1f}"),
          ("reason", "{}"))


def _png(fig) -> str:
    import matplotlib.pyplot as plt
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _log_x(ax, values: np.ndarray) -> None:
    values = values[np.isfinite(values)]
    if values.size and (values > 0).any():
        ax.set_xscale("log")


def plots(summary: Table) -> dict[str, str]:
    """The overview's plots as base64 PNGs (keys: parallax_distance, n_ratio, pm_n)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = np.asarray(summary["status"]) == "found"
    out = {}
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(np.asarray(summary["cat_distance"])[found],
               np.asarray(summary["d_parallax_sigma"])[found], s=12)
    ax.axhline(0, color="grey", lw=0.8)
    for k in (-3, 3):
        ax.axhline(k, color="grey", lw=0.6, ls=":")
    _log_x(ax, np.asarray(summary["cat_distance"], float)[found])
    ax.set_xlabel("catalogue distance (pc)")
    ax.set_ylabel("Δparallax / σ")
    out["parallax_distance"] = _png(fig)
    fig, ax = plt.subplots(figsize=(5, 4))
    ratio = np.asarray(summary["n_ratio"])[found]
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    if ratio.size:
        ax.hist(ratio, bins=np.geomspace(max(ratio.min(), 1e-2) / 1.2, ratio.max() * 1.2,
                                         min(30, max(5, ratio.size))))
        ax.set_xscale("log")
    ax.set_xlabel("N(P > threshold) / catalogue N")
    ax.set_ylabel("clusters")
    out["n_ratio"] = _png(fig)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(np.asarray(summary["n_members"])[found],
               np.asarray(summary["d_pm_sigma"])[found], s=12)
    _log_x(ax, np.asarray(summary["n_members"], float)[found])
    ax.set_xlabel("members")
    ax.set_ylabel("|Δpm| / σ")
    out["pm_n"] = _png(fig)
    return out


_CAPTIONS = {
    "parallax_distance": "Members' mean parallax minus the catalogue's, in units of the "
                         "combined standard error, against the catalogue distance.",
    "n_ratio": "Members found divided by the catalogue's number of members.",
    "pm_n": "Proper-motion offset from the catalogue (combined σ) against the members found.",
}


def _cell(value: Any, fmt: str) -> str:
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return ""
    if isinstance(value, (np.integer, int)) and value < 0:
        return ""
    try:
        text = fmt.format(value)
    except (ValueError, TypeError):
        text = str(value)
    return html.escape(text)


def write_overview(summary: Table, path: str | Path, provenance: dict[str, Any]) -> Path:
    """Write the overview page; returns its path."""
    status = [str(s) for s in summary["status"]]
    counts = {s: status.count(s) for s in ("found", "not_found", "failed")}
    figures = "".join(
        f'<figure><img alt="{k}" src="data:image/png;base64,{png}">'
        f"<figcaption>{html.escape(_CAPTIONS[k])}</figcaption></figure>"
        for k, png in plots(summary).items())
    head = "".join(f"<th>{html.escape(name)}</th>" for name, _ in _TABLE)
    rows = []
    for row in summary:
        cells = "".join(
            f'<td class="{"t" if name in ("name", "status", "reason") else "n"}">'
            f"{_cell(row[name], fmt)}</td>" for name, fmt in _TABLE)
        rows.append(f'<tr class="{html.escape(str(row["status"]))}">{cells}</tr>')
    found = np.asarray(summary["status"]) == "found"

    def med(col: str) -> str:
        v = np.abs(np.asarray(summary[col], float)[found])
        v = v[np.isfinite(v)]
        return f"{np.median(v):.2f}" if v.size else "—"

    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>vo_ocml batch overview</title>
<style>{_CSS}</style></head><body>
<h1>vo_ocml batch overview</h1>
<p>{len(status)} clusters from {html.escape(str(provenance.get("ocml_batch_source")))}:
<b>{counts["found"]}</b> found, {counts["not_found"]} without a cluster, {counts["failed"]}
failed. Median |Δparallax|/σ {med("d_parallax_sigma")}, median |Δpm|/σ {med("d_pm_sigma")},
median N ratio {med("n_ratio")} (clusters found, against the catalogue's own values).</p>
<div class="grid">{figures}</div>
<h2>Clusters</h2>
<table><tr>{head}</tr>{"".join(rows)}</table>
<h2>Provenance</h2>
<pre>{html.escape(json.dumps(provenance, indent=1, default=str))}</pre>
</body></html>
"""
    path = Path(path)
    atomic_write(path, lambda p: Path(p).write_text(page, encoding="utf-8"))
    return path
