"""Throughput, memory and recovery of ``vo-ocml batch`` on a simulated sky in a HATS catalogue.

Builds a simulated sky (not committed; in ``--workdir``): ``--clusters`` fields of radius
``FIELD_RADIUS`` on a grid, each a Gaia-like field (:mod:`vo_ocml.simulate`) with one cluster of
random richness, motion, parallax and size, ``--rows`` rows in all; imports it into a HATS
catalogue with hats-import; then runs the batch (blind: every cluster found in the data) on a
LocalCluster with 1 worker (on the first ``--subset-1`` clusters) and with 2 workers (on all),
and prints clusters per minute, the scaling, peak memory per worker, the time extrapolated to
the 7,167 Hunt & Reffert (2023) clusters on 2 and on 64 cores, and the recovery against the
simulated truth (detection rate, median F1).

Usage::

    nice -n 10 python bench/batch.py [--clusters 200] [--rows 20000000] [--subset-1 50]
                                     [--workdir bench/out/batch]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from vo_ocml.simulate import SimCluster, simulate_cone

#: radius of each simulated field (deg); fields sit on a grid FIELD_SPACING apart
FIELD_RADIUS = 1.0
FIELD_SPACING = 2.5
#: cone radius of each batch target (deg)
CONE_RADIUS = 0.5
#: clusters in Hunt & Reffert (2023), the extrapolation's target
HUNT_CLUSTERS = 7167
#: a cluster counts as detected when found and at least this fraction of its members are true
DETECTION_PRECISION = 0.5
COLUMNS = ("source_id", "ra", "dec", "parallax", "parallax_error", "pmra", "pmra_error", "pmdec",
           "pmdec_error", "phot_g_mean_mag", "bp_rp", "true_cluster")


def _grid(n: int) -> list[tuple[float, float]]:
    """n field centres on a grid in |dec| ≤ 60°, FIELD_SPACING apart (cos dec-corrected)."""
    centres = []
    dec = -60.0
    while len(centres) < n:
        step = FIELD_SPACING / np.cos(np.radians(dec))
        for ra in np.arange(0.0, 360.0 - step, step):
            centres.append((float(ra), dec))
            if len(centres) == n:
                break
        dec += FIELD_SPACING
    return centres


def _separation(ra, dec, ra0, dec0):
    ra, dec, ra0, dec0 = map(np.radians, (ra, dec, ra0, dec0))
    cos = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def generate(workdir: Path, n_clusters: int, rows: int, seed: int = 1) -> Path:
    """Write the simulated fields as Parquet and a targets/truth table; returns the input dir."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    inputs = workdir / "input"
    if (workdir / "truth.json").exists():
        return inputs
    inputs.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    truth = []
    per_field = rows // n_clusters
    for k, (ra, dec) in enumerate(_grid(n_clusters)):
        n_members = int(rng.integers(100, 800))
        cluster = SimCluster(n_members, pmra=float(rng.normal(-1.5, 3.0)),
                             pmdec=float(rng.normal(0.5, 3.0)),
                             parallax=float(rng.uniform(0.3, 2.0)),
                             sd_pm=float(rng.uniform(0.05, 0.2)),
                             sd_parallax=float(rng.uniform(0.01, 0.04)),
                             plummer_radius=float(rng.uniform(0.03, 0.12)))
        table = simulate_cone(per_field - n_members, (cluster,), ra=ra, dec=dec,
                              radius=FIELD_RADIUS, missing_fraction=0.05, seed=seed * 1000 + k)
        table["source_id"] = np.int64(6_000_000_000_000_000) + k * 10_000_000 + np.arange(len(table))
        inside = _separation(np.asarray(table["ra"]), np.asarray(table["dec"]), ra, dec) <= CONE_RADIUS
        truth.append({"name": f"SIM-{k:04d}", "ra": ra, "dec": dec, "n": n_members,
                      "n_true_in_cone": int(np.sum(inside & (np.asarray(table["true_cluster"]) == 1))),
                      "rows_in_cone": int(inside.sum())})
        pq.write_table(pa.table({c: np.asarray(table[c]) for c in COLUMNS}),
                       inputs / f"field_{k:04d}.parquet")
    (workdir / "truth.json").write_text(json.dumps(truth), encoding="utf-8")
    return inputs


def import_hats(workdir: Path, inputs: Path, workers: int) -> tuple[Path, float]:
    """hats-import the fields; returns the catalogue path and the seconds it took."""
    from distributed import Client, LocalCluster
    from hats_import.catalog.arguments import ImportArguments
    from hats_import.pipeline import pipeline_with_client

    catalog = workdir / "hats" / "sim_sky"
    if (catalog / "properties").exists() or (catalog / "hats.properties").exists():
        return catalog, float("nan")
    start = time.perf_counter()
    args = ImportArguments(output_path=str(workdir / "hats"), output_artifact_name="sim_sky",
                           input_file_list=sorted(str(p) for p in inputs.glob("*.parquet")),
                           file_reader="parquet", ra_column="ra", dec_column="dec",
                           tmp_dir=str(workdir / "tmp"), pixel_threshold=500_000,
                           progress_bar=False, resume=False)
    with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as lc, \
            Client(lc) as client:
        pipeline_with_client(args, client)
    return catalog, time.perf_counter() - start


def recovery(result, truth: dict[str, dict]) -> tuple[float, float, float]:
    """(detection rate, median F1 over all clusters, median F1 over detected ones)."""
    import pyarrow.parquet as pq
    members = pq.read_table(result.files["members"], columns=["cluster", "true_cluster"]).to_pandas() \
        if "members" in result.files else None
    f1s, detected = [], []
    for row in result.summary:
        t = truth[str(row["name"])]
        tp = fp = 0
        if row["status"] == "found" and members is not None:
            mine = members[members["cluster"] == row["name"]]
            tp = int((mine["true_cluster"] == 1).sum())
            fp = len(mine) - tp
        fn = max(t["n_true_in_cone"] - tp, 0)
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        f1s.append(f1)
        detected.append(row["status"] == "found" and tp / max(tp + fp, 1) >= DETECTION_PRECISION)
    f1s, detected = np.array(f1s), np.array(detected)
    return (float(detected.mean()), float(np.median(f1s)),
            float(np.median(f1s[detected])) if detected.any() else float("nan"))


def run(catalog: Path, truth: list[dict], workdir: Path, workers: int, n: int):
    from vo_ocml.batch.driver import run_batch
    from vo_ocml.batch.sources import HatsSource
    from vo_ocml.batch.targets import Target

    targets = [Target(t["name"], t["ra"], t["dec"], CONE_RADIUS, "bench") for t in truth[:n]]
    outdir = workdir / f"out_{workers}w"
    shutil.rmtree(outdir, ignore_errors=True)
    result = run_batch(targets, HatsSource(str(catalog)), outdir,
                       options={"method": "mstgmm", "threshold": 0.5, "random_state": 0},
                       columns=("ra", "dec", "true_cluster"), workers=workers,
                       memory_limit="auto", progress=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--subset-1", type=int, default=50,
                        help="clusters run with 1 worker")
    parser.add_argument("--subset-2", type=int, default=None,
                        help="clusters run with 2 workers (default: all)")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out" / "batch")
    parser.add_argument("--keep", action="store_true", help="keep the generated sky")
    args = parser.parse_args()
    workdir = args.workdir / f"sky_{args.clusters}_{args.rows}"
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    inputs = generate(workdir, args.clusters, args.rows)
    t_gen = time.perf_counter() - t0
    catalog, t_import = import_hats(workdir, inputs, workers=2)
    truth = json.loads((workdir / "truth.json").read_text(encoding="utf-8"))
    by_name = {t["name"]: t for t in truth}
    print(f"sky: {args.clusters} clusters, {args.rows:,} rows; generated in {t_gen:.0f} s, "
          f"hats-import {t_import:.0f} s (2 workers); median cone {np.median([t['rows_in_cone'] for t in truth]):,.0f} rows")
    lines = []
    rates = {}
    n2 = min(args.subset_2 or args.clusters, args.clusters)
    steady = {}
    for workers, n in ((1, min(args.subset_1, args.clusters)), (2, n2)):
        result = run(catalog, truth, workdir, workers, n)
        s = result.summary
        # throughput from the tasks' own span: the batch's wall time minus start-up and assembly
        ok = np.isin(np.asarray(s["status"]), ["found", "not_found"])
        rate = n / (result.elapsed_s / 60.0)
        rates[workers] = rate
        ends = np.sort([json.loads(p.read_text())["finished_unix"]
                        for p in (result.outdir / "clusters").glob("*.json")])
        # steady state: from each worker's first finished task (imports, catalogue opened) on
        steady[workers] = (len(ends) - workers) / ((ends[-1] - ends[workers - 1]) / 60.0) \
            if len(ends) > workers and ends[-1] > ends[workers - 1] else float("nan")
        peak = {}
        for w, mem in zip(s["worker"], s["peak_rss_mb"]):
            if np.isfinite(mem):
                peak[w] = max(peak.get(w, 0.0), float(mem))
        det, f1_all, f1_det = recovery(result, by_name)
        lines.append(f"{workers} worker(s): {n} clusters in {result.elapsed_s:.0f} s (incl. cluster "
                     f"start-up) = {rate:.1f} clusters/min, steady state {steady[workers]:.1f} clusters/min; median task {np.median(s['fetch_time_s'][ok] + s['run_time_s'][ok]):.1f} s "
                     f"(cone {np.median(s['fetch_time_s'][ok]):.1f} s, run {np.median(s['run_time_s'][ok]):.1f} s); "
                     f"peak RSS per worker {', '.join(f'{v:.0f}' for v in peak.values())} MiB; "
                     f"found {result.counts['found']}, failed {result.counts['failed']}; "
                     f"detection rate {det:.3f}, median F1 {f1_all:.3f} (detected: {f1_det:.3f})")
        print(lines[-1], flush=True)
    per_worker = steady[2] / 2
    print(f"scaling 1 → 2 workers (steady state): ×{steady[2] / steady[1]:.2f}; "
          f"with start-up: ×{rates[2] / rates[1]:.2f}")
    print(f"extrapolated for {HUNT_CLUSTERS:,} clusters of cones like these (steady state): "
          f"{HUNT_CLUSTERS / steady[2] / 60:.1f} h on 2 cores; "
          f"{HUNT_CLUSTERS / (per_worker * 64) / 60:.2f} h on 64 cores (linear in workers from "
          f"the 2-worker rate)")
    if not args.keep:
        shutil.rmtree(workdir / "input", ignore_errors=True)


if __name__ == "__main__":
    main()
