"""Blind detection: recall against members and distance, false detections, real tables.

Three parts, all with default settings (:func:`vo_ocml.membership.detection.find_candidates`,
declared at the estimator's 3σ global significance):

1. **Recall**: simulated Gaia-like fields (:mod:`vo_ocml.simulate`, 20,000 field stars in a
   0.5° cone) with one injected cluster of N members at distance d (internal dispersion
   1 km/s, depth and Plummer radius 2 pc), as a full cone and as a table pre-cut to a
   proper-motion/parallax box around the cluster (the cluster off the box's centre). A cluster
   counts as detected when the best candidate is within 0.3 mas/yr and max(0.1 mas, 3 σ_ϖ) of
   it (and within 0.1° on the sky when the candidate has a sky position) and reaches 3σ.
2. **False detections**: the same fields without a cluster (cone and box): the fraction whose
   best candidate reaches 3σ.
3. **Real tables** (``--shared``): the best candidates in every Gaia table of the shared data.

Usage::

    python bench/detection.py [--seeds 3] [--shared ../shared/data] [--quick]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from vo_ocml.membership.detection import find_candidates
from vo_ocml.membership.sky import tangent_plane
from vo_ocml.simulate import SimCluster, simulate_cone

#: the estimator's default threshold (MSTGMM.min_significance)
THRESHOLD = 3.0
FIELD_STARS = 20000
MEMBERS = (30, 50, 100, 200, 500)
DISTANCES_KPC = (0.5, 1.0, 2.0, 4.0, 8.0)
#: internal velocity dispersion (km/s) and depth = Plummer radius (pc) of the injected clusters
SIGMA_V, SIZE_PC = 1.0, 2.0


def _cluster(n: int, d_kpc: float, rng: np.random.Generator) -> SimCluster:
    plx = 1.0 / d_kpc
    return SimCluster(n, float(rng.uniform(-4, 2)), float(rng.uniform(-2, 3)), plx,
                      sd_pm=SIGMA_V * plx / 4.74, sd_parallax=SIZE_PC * plx**2 / 1000.0,
                      plummer_radius=float(np.degrees(SIZE_PC / (d_kpc * 1000.0))),
                      offset=(float(rng.uniform(-0.25, 0.25)), float(rng.uniform(-0.25, 0.25))))


def _search(table, box_around: SimCluster | None, rng):
    X = np.column_stack([np.asarray(table[c], float)
                         for c in ("ra", "dec", "pmra", "pmdec", "parallax")])
    E = np.column_stack([np.asarray(table[c], float)
                         for c in ("pmra_error", "pmdec_error", "parallax_error")])
    if box_around is not None:  # a pre-cut box, the cluster off its centre
        c = np.array([box_around.pmra, box_around.pmdec, box_around.parallax])
        width = np.array([1.0, 1.0, max(0.25, 0.3 * box_around.parallax)])
        lo = c - width * rng.uniform(0.3, 1.7, 3)
        keep = np.all((X[:, 2:] >= lo) & (X[:, 2:] <= lo + 2 * width), axis=1)
        X, E = X[keep], E[keep]
    sky = tangent_plane(X[:, 0], X[:, 1], 120.0, -30.0)
    t0 = time.perf_counter()
    found = find_candidates(X[:, 2:], E, sky)
    return found, time.perf_counter() - t0


def _hit(found, c: SimCluster) -> bool:
    if not found or found[0].significance < THRESHOLD:
        return False
    d = found[0]
    ok = np.all(np.abs(d.centre[:2] - [c.pmra, c.pmdec]) < 0.3) and \
        abs(d.centre[2] - c.parallax) < max(0.1, 3 * c.sd_parallax)
    if d.sky_centre is not None:
        ok = ok and np.all(np.abs(d.sky_centre - c.offset) < 0.1)
    return bool(ok)


def recall(seeds: int, members, distances) -> None:
    print(f"recall (detected at ≥ {THRESHOLD}σ and in the right place), {seeds} fields per cell,"
          f" cone | pre-cut box")
    print("N \\ d[kpc] " + " ".join(f"{d:>11}" for d in distances))
    times = []
    for n in members:
        row = []
        for d in distances:
            hits = {"cone": 0, "box": 0}
            for s in range(seeds):
                rng = np.random.default_rng(1000 * n + 10 * s + int(10 * d))
                c = _cluster(n, d, rng)
                table = simulate_cone(FIELD_STARS, (c,), radius=0.5, seed=int(rng.integers(1 << 30)))
                for mode in hits:
                    found, dt = _search(table, c if mode == "box" else None, rng)
                    times.append(dt)
                    hits[mode] += _hit(found, c)
            row.append(f"{hits['cone']}/{seeds} | {hits['box']}/{seeds}")
        print(f"{n:>10} " + " ".join(f"{r:>11}" for r in row), flush=True)
    print(f"detection time per table: median {np.median(times):.2f} s, max {np.max(times):.2f} s")


def false_detections(seeds: int) -> None:
    worst, false = [], 0
    rng = np.random.default_rng(7)
    for s in range(seeds):
        table = simulate_cone(FIELD_STARS, (), radius=0.5, seed=500 + s)
        for mode in ("cone", "box"):
            box = _cluster(100, float(rng.choice(DISTANCES_KPC)), rng) if mode == "box" else None
            found, _ = _search(table, box, rng)
            z = found[0].significance if found else 0.0
            worst.append(z)
            false += z >= THRESHOLD
    print(f"false detections in fields without a cluster: {false}/{len(worst)} "
          f"(best candidate: median {np.median(worst):.2f}σ, max {np.max(worst):.2f}σ)")


def real(shared: Path) -> None:
    from astropy.table import Table

    from vo_ocml.io.columns import resolve_columns
    from vo_ocml.membership.sky import sky_centre

    for path in sorted((shared / "gaia").glob("*.csv")):
        if "reference" in path.name:
            continue
        t = Table.read(path, format="ascii.csv")
        a = resolve_columns(t).arrays(t)
        X = np.column_stack([a[k] for k in ("ra", "dec", "pmra", "pmdec", "parallax")])
        E = np.column_stack([a.get(k, np.full(len(t), np.nan))
                             for k in ("pmra_error", "pmdec_error", "parallax_error")])
        ok = np.all(np.isfinite(X), axis=1)
        X, E = X[ok], E[ok]
        E = E if np.all(np.isfinite(E)) else None
        sky = tangent_plane(X[:, 0], X[:, 1], *sky_centre(X[:, 0], X[:, 1]))
        t0 = time.perf_counter()
        found = find_candidates(X[:, 2:], E, sky)
        print(f"{path.name} ({len(X)} stars, {time.perf_counter() - t0:.1f} s)")
        for d in found[:3]:
            print(f"    {d.describe()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="fields per (N, distance) cell")
    parser.add_argument("--shared", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="fewer cells (a check)")
    args = parser.parse_args()
    if args.quick:
        recall(1, (30, 100, 500), (1.0, 4.0, 8.0))
        false_detections(3)
    else:
        recall(args.seeds, MEMBERS, DISTANCES_KPC)
        false_detections(4 * args.seeds)
    if args.shared.exists():
        real(args.shared)


if __name__ == "__main__":
    main()
