"""How long the analysis plots and the HTML report take on a two-million-row table.

A synthetic Gaia-like cone (field + a 3,000-star cluster) with the vo_ocml output columns is
built in memory; the script prints the time of each step. Usage::

    python bench/plots_speed.py [--rows 2000000] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from astropy.table import Table

from vo_ocml.analysis.king import fit_members
from vo_ocml.analysis.plots import PlotData, save_plots
from vo_ocml.analysis.report import write_report
from vo_ocml.annotated import Annotated
from vo_ocml.io.columns import resolve_columns
from vo_ocml.membership.base import Centroid, MembershipResult

#: the output columns of a first run
OUTPUT_NAMES = {"prob": "ocml_prob", "member": "ocml_member", "stage": "ocml_stage"}


def synthetic_run(n_rows: int, n_cluster: int = 3000, seed: int = 0) -> Annotated:
    """A run (table, result, summary) with ``n_rows`` Gaia-like stars."""
    rng = np.random.default_rng(seed)
    n_field = n_rows - n_cluster
    r = np.concatenate([1.5 * np.sqrt(rng.random(n_field)), np.abs(rng.normal(0, 0.08, n_cluster))])
    theta = rng.random(n_rows) * 2 * np.pi
    dec = 10.0 + r * np.sin(theta)
    ra = 130.0 + r * np.cos(theta) / np.cos(np.radians(10.0))
    pmra = np.concatenate([rng.normal(-2, 6, n_field), rng.normal(-11, 0.15, n_cluster)])
    pmdec = np.concatenate([rng.normal(-3, 6, n_field), rng.normal(-3, 0.15, n_cluster)])
    parallax = np.concatenate([rng.gamma(2.0, 0.4, n_field), rng.normal(1.15, 0.05, n_cluster)])
    g = np.concatenate([20.5 - rng.exponential(1.8, n_field), rng.uniform(10, 19, n_cluster)])
    bp_rp = np.concatenate([rng.normal(1.2, 0.5, n_field), 0.6 + (np.r_[g[n_field:]] - 10) * 0.2])
    dist = np.hypot(pmra + 11, pmdec + 3) / 0.15
    prob = np.where(dist < 4, np.exp(-0.5 * (dist / 2.5) ** 2), 0.0)
    stage = np.full(n_rows, "filter", dtype="U10")
    stage[dist < 4] = "gmm"
    table = Table({"source_id": np.arange(n_rows, dtype=np.int64), "ra": ra, "dec": dec, "pmra": pmra,
                   "pmdec": pmdec, "parallax": parallax, "phot_g_mean_mag": g, "bp_rp": bp_rp,
                   "ocml_prob": prob, "ocml_member": prob > 0.5, "ocml_stage": stage})
    centroid = (("pmra", -11), ("pmdec", -3), ("parallax", 1.15))
    table.meta["ocml_params"] = [{"name": f"ocml_centroid_{k}", "value": v, "ucd": "", "unit": "",
                                  "description": ""} for k, v in centroid]
    result = MembershipResult(
        probability=prob, stage=stage, step_counts={"cone": n_rows, "gmm": int((stage == "gmm").sum())},
        centroid=Centroid(-11, -3, 1.15, source="user", name="synthetic"), method="mstgmm",
        details={"mst_edge_weights": rng.gamma(2, 0.1, int((stage == "gmm").sum())), "mst_threshold": 0.6})
    summary = SimpleNamespace(as_rows=lambda: [("rows", f"{n_rows:,}")])
    return Annotated(table=table, result=result, summary=summary, columns=resolve_columns(table),
                     names=OUTPUT_NAMES, threshold=0.5)


def main() -> None:
    """Build the table, then time each step and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--out", type=Path, default=None, help="keep the plots and report here")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="vo_ocml_plots_"))

    t0 = time.perf_counter()
    run = synthetic_run(args.rows)
    print(f"table of {args.rows:,} rows built in {time.perf_counter() - t0:.2f} s "
          f"({int(run.table['ocml_member'].sum()):,} members)")

    t0 = time.perf_counter()
    data = PlotData.from_run(run)
    t_data = time.perf_counter() - t0
    t0 = time.perf_counter()
    king = fit_members(run.table)
    t_king = time.perf_counter() - t0
    t0 = time.perf_counter()
    paths = save_plots(data, out / "plots", king=king)
    t_plots = time.perf_counter() - t0
    print(f"PlotData.from_run         {t_data:6.2f} s")
    print(f"fit_members (King)        {t_king:6.2f} s  r_c = {king.r_c:.2f} ± {king.r_c_err:.2f} arcmin")
    print(f"save_plots ({len(paths)} PNGs)      {t_plots:6.2f} s  largest PNG "
          f"{max(p.stat().st_size for p in paths.values()) / 1e3:.0f} kB")
    t0 = time.perf_counter()
    index = write_report(run, out / "report")
    print(f"write_report (all of it)  {time.perf_counter() - t0:6.2f} s  -> {index}")


if __name__ == "__main__":
    main()
