"""Several clusters in one field: does ``--clusters all`` find, separate and name each of them?

Three parts (each optional):

``--pairs N``
    N simulated pairs (and every fourth a triple), seeded: separations 0.05–1°, Δpm 0.2–3
    mas/yr, Δparallax 0–0.3 mas, richness ratios 1:1 to 1:10, distances 0.5–5 kpc (intrinsic
    dispersion 1 km/s, Plummer radius 2 pc). For each true cluster: completeness, purity and
    F1 of the found cluster that holds most of it, and the ECE of that cluster's probabilities
    for the true one (candidates at P ≥ 0.05, :mod:`vo_ocml.analysis.calibration`); "missed"
    when no found cluster holds 20 % of a true cluster's members, "merged" when one found
    cluster holds 20 % of each of two true ones, "split" when a true cluster's recovered
    members are shared by two found clusters (each ≥ 20 %). "ceiling" is the F1 of the
    simulation's own model with the true
    values (:func:`vo_ocml.simulate.true_posterior`, P > 0.5): the best any method can do on
    that cone -- faint members are indistinguishable from the field, so it is often below 0.9;
    "c.mrg" counts the merges of that model itself, scored as the run's clusters are (a poor
    cluster a fifth of whose members the true posterior gives to a neighbour, and fewer to its
    own cluster, is merged there too).
    Rows are binned by how far apart the two nearest clusters are: the
    largest of |Δpm| / σ_pm, |Δϖ| / σ_ϖ and separation / r50 in combined (intrinsic + median
    error) spreads. With ``--alone``, each true cluster is also run by itself: the same cone
    without the other clusters' stars, a blind single-cluster run (members: P > 0.5); its F1
    ("alone") is what the joint model would reach if the neighbours cost nothing.
``--real``
    The real fields (shared data): every cluster found with its catalogue match, and the
    catalogue's clusters (≥ 50 members) inside the table: rows within the catalogue's r50 of
    its centre, its proper motion and parallax inside the table's ranges (a pre-cut box).
``--catalogued N``
    N simulated fields where a pair of catalogued clusters stands: NGC 7790 (250 members) and,
    0.28° away and 0.74 mas/yr apart, a poor NGC 7788 (20–80 members, seeded), each at its
    catalogued position, motion, parallax and r50, run with ``--clusters all`` with and
    without the catalogued clusters as seeds (``catalogue_seeds``): each cluster's F1, and
    how often the poor one is found or merged. The catalogue's other clusters around them
    (not simulated) must not be reported. First columns: a single-cluster run named NGC 7790
    (the default ``--clusters 1``), its F1 and Σ P / N_true, without and with the catalogued
    competitor fitted beside it (``--method dec``: DEC's single runs take no catalogued
    competitor, so both columns are the same run).
``--speed``
    A 2,000,000-row simulated cone with five clusters: wall time and peak memory.

Usage::

    nice -n 10 python bench/multi_cluster.py --pairs 24 --real --speed
    nice -n 10 python bench/multi_cluster.py --pairs 24 --alone
    nice -n 10 python bench/multi_cluster.py --pairs 24 --real --method dec
    nice -n 10 python bench/multi_cluster.py --catalogued 12 [--method dec]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
from astropy.table import Table

from vo_ocml.analysis.calibration import expected_calibration_error, selection_scores
from vo_ocml.catalog import lookup_cluster
from vo_ocml.membership.gaia_precision import nominal_errors
from vo_ocml.membership.sky import tangent_plane
from vo_ocml.pipeline import run
from vo_ocml.simulate import SimCluster, simulate_cone, true_posterior

#: field stars per square degree of the simulated cones
FIELD_DENSITY = 12000
#: intrinsic velocity dispersion (km/s) and Plummer radius (pc) of the simulated clusters
SIGMA_V, PLUMMER_PC = 1.0, 2.0
#: richness of the first cluster
N_FIRST = 250
#: bins of "how far apart" (combined sigma) for the summary
APART_BINS = (0, 3, 5, 10, np.inf)
#: share of a true cluster's members (or of its recovered members) that makes a found cluster
#: one of its recoveries: below it for every found cluster the true one is missed, not merged
#: into the found cluster that happens to hold a few of its stars
RECOVERY_SHARE = 0.2


def _cluster(rng, distance: float, n: int, pm: tuple[float, float], offset) -> SimCluster:
    plx = 1.0 / distance
    return SimCluster(n, pm[0], pm[1], plx, sd_pm=SIGMA_V * plx / 4.74, sd_parallax=0.02,
                      plummer_radius=np.degrees(PLUMMER_PC / (1000 * distance)),
                      offset=tuple(offset))


def _spread(c: SimCluster) -> tuple[float, float]:
    """Observed pm and parallax spreads of a cluster's typical (G ≈ 17) member."""
    e = nominal_errors(np.array([17.0]))[0]
    return float(np.hypot(c.sd_pm, e[0])), float(np.hypot(c.sd_parallax, e[2]))


def apart(a: SimCluster, b: SimCluster) -> float:
    """How far apart two clusters are: the largest of the three combined-sigma separations."""
    (pa, xa), (pb, xb) = _spread(a), _spread(b)
    d_pm = np.hypot(a.pmra - b.pmra, a.pmdec - b.pmdec) / np.hypot(pa, pb)
    d_plx = abs(a.parallax - b.parallax) / np.hypot(xa, xb)
    d_sky = np.hypot(*np.subtract(a.offset, b.offset)) / np.hypot(a.plummer_radius,
                                                                  b.plummer_radius)
    return float(max(d_pm, d_plx, d_sky))


def design(n: int, seed: int) -> list[tuple[SimCluster, ...]]:
    """N random pairs (every fourth a triple) over the issue's ranges."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        distance = float(np.exp(rng.uniform(np.log(0.5), np.log(5.0))))
        members = [_cluster(rng, distance, N_FIRST, (-2.5, 1.0), (0.0, 0.0))]
        for _ in range(2 if i % 4 == 3 else 1):
            sep = float(np.exp(rng.uniform(np.log(0.05), np.log(1.0))))
            phi = rng.uniform(0, 2 * np.pi)
            dpm = float(np.exp(rng.uniform(np.log(0.2), np.log(3.0))))
            psi = rng.uniform(0, 2 * np.pi)
            dplx = float(rng.uniform(0.0, 0.3))
            ratio = float(np.exp(rng.uniform(0.0, np.log(10.0))))
            c = _cluster(rng, 1.0 / (1.0 / distance + dplx), int(N_FIRST / ratio),
                         (-2.5 + dpm * np.cos(psi), 1.0 + dpm * np.sin(psi)),
                         (sep * np.cos(phi) / 2, sep * np.sin(phi) / 2))
            members.append(c)
        first = members[0]
        members[0] = SimCluster(first.n, first.pmra, first.pmdec, first.parallax, first.sd_pm,
                                first.sd_parallax, first.plummer_radius,
                                tuple(-np.asarray(members[1].offset)))
        cases.append(tuple(members))
    return cases


def ceiling(table: Table, clusters: tuple[SimCluster, ...], radius: float) -> list[dict]:
    """Per true cluster, the simulation's own model (P > 0.5), the best possible: its F1
    (``f1``, its own column against the truth) and whether it, too, holds a fifth of this
    cluster and of another in one cluster (``merged``, as :func:`recoveries` counts it)."""
    truth = np.asarray(table["true_cluster"])
    posterior = true_posterior(table, clusters, radius=radius)
    member = posterior[:, :-1] > 0.5
    merged = [r["merged"] for r in recoveries(truth, posterior)]
    return [{"f1": float(2 * np.sum(member[:, j] & (truth == j + 1))
                         / (np.sum(truth == j + 1) + member[:, j].sum())), "merged": merged[j]}
            for j in range(len(clusters))]


def recoveries(truth: np.ndarray, P: np.ndarray | None) -> list[dict]:
    """Per true cluster (``truth``: 0 field, j the j-th cluster), against the clusters of a
    posterior ``P`` (n, K + 1, the field last; None: no cluster): best found cluster,
    completeness, purity, F1, ECE, missed, merged, split."""
    found = np.zeros((len(truth), 0), bool) if P is None else \
        np.nan_to_num(P[:, :-1]) > 0.5
    rows, best = [], []
    for j in range(1, truth.max() + 1):
        t = truth == j
        overlap = (found & t[:, None]).sum(axis=0)
        k = int(np.argmax(overlap)) if found.shape[1] and overlap.max() > 0 else -1
        best.append(k)
        if k < 0:
            rows.append({"completeness": 0.0, "purity": np.nan, "f1": 0.0, "ece": np.nan,
                         "split": False})
            continue
        tp = overlap[k]
        shares = overlap / max(overlap.sum(), 1)
        if tp < RECOVERY_SHARE * t.sum():
            best[-1] = -1
        rows.append({"completeness": tp / t.sum(), "purity": tp / found[:, k].sum(),
                     "f1": 2 * tp / (t.sum() + found[:, k].sum()),
                     "ece": expected_calibration_error(P[:, k], t),
                     "split": bool(np.sum(shares >= RECOVERY_SHARE) >= 2)})
    for j, r in enumerate(rows):
        r["missed"] = best[j] < 0
        r["merged"] = best[j] >= 0 and best.count(best[j]) > 1
        r["best"] = best[j]
    return rows


def score(table: Table, annotated) -> list[dict]:
    """:func:`recoveries` of the clusters a run found, each with the name of its recovery."""
    rows = recoveries(np.asarray(table["true_cluster"]), annotated.result.cluster_probability)
    for r in rows:
        r["name"] = annotated.clusters[r["best"]].name if r["best"] >= 0 else "—"
    return rows


def alone(table: Table, method: str) -> list[float]:
    """Per true cluster: F1 of a blind single-cluster run on the cone without the others."""
    truth = np.asarray(table["true_cluster"])
    scores = []
    for j in range(1, truth.max() + 1):
        keep = (truth == 0) | (truth == j)
        annotated = run(table[keep], method=method, random_state=0)
        scores.append(selection_scores(annotated.result.probability, truth[keep] == j).f1)
    return scores


def pairs(n: int, seed: int, method: str, by_itself: bool = False) -> None:
    print(f"{'case':>4} {'kpc':>4} {'N':>9} {'sep°':>5} {'Δpm':>5} {'Δplx':>5} {'apart':>6} "
          f"{'F1 per cluster':>20} {'ceiling':>20} "
          + (f"{'alone':>20} " if by_itself else "")
          + f"{'missed':>6} {'merged':>6} {'c.mrg':>5} {'split':>5} {'found':>5} {'time':>5}")
    summary = []
    for i, clusters in enumerate(design(n, seed)):
        a, b = clusters[0], clusters[1]
        extent = max(np.hypot(*c.offset) + 4 * c.plummer_radius for c in clusters)
        radius = float(max(0.4, extent))
        n_field = int(FIELD_DENSITY * np.pi * radius**2)
        table = simulate_cone(n_field, clusters, radius=radius, seed=seed + i)
        t0 = time.perf_counter()
        annotated = run(table, method=method, clusters="all", random_state=0)
        elapsed = time.perf_counter() - t0
        rows = score(table, annotated)
        for r, best in zip(rows, ceiling(table, clusters, radius)):
            r["ceiling"], r["ceiling_merged"] = best["f1"], best["merged"]
        if by_itself:
            for r, f1 in zip(rows, alone(table, method)):
                r["alone"] = f1
        d = min(apart(x, y) for x in clusters for y in clusters if x is not y)
        for r in rows:
            summary.append((d, r))
        sep = np.hypot(*np.subtract(a.offset, b.offset))
        f1s = " ".join(f"{r['f1']:.2f}" for r in rows)
        best = " ".join(f"{r['ceiling']:.2f}" for r in rows)
        by_self = f"{' '.join('%.2f' % r['alone'] for r in rows):>20} " if by_itself else ""
        print(f"{i:>4} {1 / a.parallax:>4.1f} {'/'.join(str(c.n) for c in clusters):>9} "
              f"{sep:>5.2f} {np.hypot(a.pmra - b.pmra, a.pmdec - b.pmdec):>5.2f} "
              f"{abs(a.parallax - b.parallax):>5.2f} {d:>6.1f} "
              f"{f1s:>20} {best:>20} {by_self}"
              f"{sum(r['missed'] for r in rows):>6} {sum(r['merged'] for r in rows):>6} "
              f"{sum(r['ceiling_merged'] for r in rows):>5} {sum(r['split'] for r in rows):>5} "
              f"{len(annotated.clusters):>5} {elapsed:>5.1f}", flush=True)
    print(f"\n{'apart (σ)':<10} {'clusters':>8} {'median F1':>9} {'ceiling':>7} {'F1/ceil':>7} "
          f"{'F1≥0.9':>7} {'compl':>6} {'purity':>6} {'missed':>6} {'merged':>6} {'c.mrg':>5} "
          f"{'split':>5} "
          f"{'ECE':>5}" + (f" {'alone':>6} {'≥0.9':>5} {'F1−alone':>8}" if by_itself else ""))
    for lo, hi in zip(APART_BINS[:-1], APART_BINS[1:]):
        sel = [r for d, r in summary if lo <= d < hi]
        if not sel:
            continue
        f1 = np.array([r["f1"] for r in sel])
        best = np.array([r["ceiling"] for r in sel])
        purity = [r["purity"] for r in sel if np.isfinite(r["purity"])]
        print(f"{lo:>3g}–{hi:<6g} {len(sel):>8} {np.median(f1):>9.3f} {np.median(best):>7.3f} "
              f"{np.median(f1 / best):>7.3f} {np.mean(f1 >= 0.9):>7.2f} "
              f"{np.median([r['completeness'] for r in sel]):>6.3f} "
              f"{np.median(purity) if purity else np.nan:>6.3f} "
              f"{np.mean([r['missed'] for r in sel]):>6.2f} "
              f"{np.mean([r['merged'] for r in sel]):>6.2f} "
              f"{np.mean([r['ceiling_merged'] for r in sel]):>5.2f} "
              f"{np.mean([r['split'] for r in sel]):>5.2f} "
              f"{np.nanmedian([r['ece'] for r in sel]) if any(np.isfinite(r['ece']) for r in sel) else np.nan:>5.3f}"
              + (f" {np.median([r['alone'] for r in sel]):>6.3f} "
                 f"{np.mean([r['alone'] >= 0.9 for r in sel]):>5.2f} "
                 f"{np.median([r['f1'] - r['alone'] for r in sel]):>8.3f}" if by_itself else ""))


def real(shared: Path, method: str, max_clusters: int | None) -> None:
    from vo_ocml.analysis.clusters import format_clusters
    from vo_ocml.analysis.identification import catalogued_in_table
    for file in ("ubc482_edr3_plane_frame.csv", "ubc246_edr3_plane_frame.csv",
                 "ngc7789_cone.csv", "oc345p67_edr3_cone40.csv"):
        table = Table.read(shared / "gaia" / file, format="ascii.csv")
        t0 = time.perf_counter()
        annotated = run(table, method=method, clusters="all",
                        **({} if max_clusters is None else {"max_clusters": max_clusters}))
        print(f"\n{file}: {len(table)} rows, {time.perf_counter() - t0:.1f} s")
        print(format_clusters(annotated.clusters) if annotated.clusters else
              f"no cluster: {annotated.result.details.get('no_cluster_reason')}")
        inside = [e for e in catalogued_in_table(annotated.columns.arrays(table))
                  if np.nan_to_num(e.n_members) >= 50]
        matched = {c.match.entry.name for c in annotated.clusters if c.match is not None}
        for e in inside:
            print(f"  catalogue: {e.name:<20} N={int(e.n_members):>5} pm ({e.pmra:.2f}, "
                  f"{e.pmdec:.2f}) plx {e.parallax:.3f}: "
                  f"{'found' if e.name in matched else 'not found'}")


def catalogued(n: int, seed: int, method: str) -> None:
    """:func:`score` of ``n`` simulated NGC 7790 / NGC 7788 fields, with and without the
    catalogue's clusters as seeds, run by ``method``."""
    a, b = lookup_cluster("NGC 7790"), lookup_cluster("NGC 7788")
    offset = tuple(tangent_plane(np.array([b.ra]), np.array([b.dec]), a.ra, a.dec)[0])
    rng = np.random.default_rng(seed)
    print("case  N poor   single, no seeds: F1  Σ P/N   with: F1  Σ P/N   "
          "all, F1 without seeds (found)   F1 with seeds (found)")
    rows, single = {False: [], True: []}, {False: [], True: []}
    for i in range(n):
        poor = int(rng.integers(20, 81))
        clusters = tuple(SimCluster(m, e.pmra, e.pmdec, e.parallax, sd_pm=0.06,
                                    sd_parallax=0.02, plummer_radius=e.r50, offset=off)
                         for m, e, off in ((N_FIRST, a, (0.0, 0.0)), (poor, b, offset)))
        table = simulate_cone(5000, clusters, ra=a.ra, dec=a.dec, radius=0.4, seed=seed + i)
        truth = np.asarray(table["true_cluster"]) == 1
        line = f"{i:>4} {poor:>7}"
        for seeded in (False, True):
            P = np.nan_to_num(run(table, method=method, cluster=a.name, catalogue_seeds=seeded)
                              .result.probability)
            single[seeded].append((2 * np.sum((P > 0.5) & truth)
                                   / (np.sum(P > 0.5) + truth.sum()), P.sum() / truth.sum()))
            line += f"   {single[seeded][-1][0]:>8.2f} {single[seeded][-1][1]:>6.2f}"
        for seeded in (False, True):
            annotated = run(table, method=method, clusters="all", catalogue_seeds=seeded)
            scored = score(table, annotated)
            best = scored[0]["best"]
            scored[0]["sum_p"] = np.nan if best < 0 else \
                np.nansum(annotated.result.cluster_probability[:, best]) / truth.sum()
            rows[seeded].append(scored)
            line += (f"   {scored[0]['f1']:.2f} {scored[1]['f1']:.2f} "
                     f"({', '.join(c.name for c in annotated.clusters)})").ljust(31)
        print(line)
    for seeded in (False, True):
        f1, ratio = zip(*single[seeded])
        print(f"single run named NGC 7790, {'with' if seeded else 'without'} catalogue seeds: "
              f"median F1 {np.median(f1):.3f}, Σ P / N_true median {np.median(ratio):.2f} "
              f"[{min(ratio):.2f}–{max(ratio):.2f}]")
    for seeded in (False, True):
        first = [r[0]["f1"] for r in rows[seeded]]
        second = [r[1]["f1"] for r in rows[seeded]]
        ratio = [r[0]["sum_p"] for r in rows[seeded]]
        print(f"{'with' if seeded else 'without'} catalogue seeds: NGC 7790 median F1 "
              f"{np.median(first):.3f}, Σ P / N_true median {np.median(ratio):.2f} "
              f"[{min(ratio):.2f}–{max(ratio):.2f}], NGC 7788 median F1 {np.median(second):.3f}, "
              f"found {np.mean([not r[1]['missed'] for r in rows[seeded]]):.2f}, merged "
              f"{np.mean([r[1]['merged'] for r in rows[seeded]]):.2f}")


def speed(seed: int, method: str) -> None:
    rng = np.random.default_rng(seed)
    clusters = tuple(SimCluster(400, float(rng.uniform(-5, 2)), float(rng.uniform(-4, 3)),
                                float(rng.uniform(0.3, 1.5)), plummer_radius=0.05,
                                offset=tuple(rng.uniform(-0.8, 0.8, 2))) for _ in range(5))
    table = simulate_cone(2_000_000, clusters, radius=1.5, seed=seed)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    annotated = run(table, method=method, clusters="all")
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    rows = score(table, annotated)
    print(f"\nspeed: {len(table)} rows, 5 clusters: {elapsed:.1f} s, peak RSS {peak:.2f} GB "
          f"(whole process, table included); load average {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after (the machine is shared: a load above its cores "
          f"slows the run); clusters found {len(annotated.clusters)}; F1 "
          + " ".join(f"{r['f1']:.2f}" for r in rows) + "; ceiling "
          + " ".join(f"{c['f1']:.2f}" for c in ceiling(table, clusters, 1.5)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=0, help="simulated pairs/triples to run")
    parser.add_argument("--real", action="store_true", help="the real fields")
    parser.add_argument("--speed", action="store_true", help="2,000,000 rows, five clusters")
    parser.add_argument("--catalogued", type=int, default=0,
                        help="simulated fields of a catalogued pair, with and without "
                             "catalogue seeds")
    parser.add_argument("--alone", action="store_true",
                        help="with --pairs: also run each true cluster by itself")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-clusters", type=int,
                        help="with --real: most clusters a run models (default: vo_ocml's)")
    parser.add_argument("--method", default="mstgmm", choices=("mstgmm", "dec"))
    parser.add_argument("--shared", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    if args.pairs:
        pairs(args.pairs, args.seed, args.method, args.alone)
    if args.real:
        real(args.shared, args.method, args.max_clusters)
    if args.catalogued:
        catalogued(args.catalogued, args.seed, args.method)
    if args.speed:
        speed(args.seed, args.method)


if __name__ == "__main__":
    main()
