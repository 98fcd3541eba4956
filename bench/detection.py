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
   best candidate reaches 3σ; and such fields cut to 2 × 2 mas/yr × 0.5 mas boxes on a grid
   around and beside their proper-motion peak (the density rising towards an edge).
3. **Real tables** (``--shared``): the best candidates in every Gaia table of the shared data.
4. **Injections into real fields** (``--inject K``, :mod:`vo_ocml.injection`, the field's
   catalogued clusters masked): K clusters per field, N log-uniform in 30–2,000 and distance
   log-uniform in what the field's parallax range admits (0.3–8 kpc); recall against N_true
   (injected members with astrometry in the table) and distance, and how often the masked
   field alone gives a ≥ 3σ candidate (uncatalogued clusters count as false here).

Usage::

    python bench/detection.py [--seeds 3] [--shared ../shared/data] [--quick] [--inject 6]
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
#: box_slopes: the boxes' lower corners (pmra, pmdec in mas/yr, parallax in mas) and size
BOX_GRID_PMRA, BOX_GRID_PMDEC, BOX_GRID_PARALLAX = (-1.0, 0.0, 1.0), (-0.5, 0.5, 1.5), (0.0, 0.25)
BOX_SIZE = np.array([2.0, 2.0, 0.5])
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
                table = simulate_cone(FIELD_STARS, (c,), radius=0.5,
                                      seed=int(rng.integers(1 << 30)))
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


def box_slopes(seeds: int) -> None:
    """Pure fields cut to 2 × 2 mas/yr × 0.5 mas boxes on a grid around and beside the field's
    proper-motion peak, where the density rises towards the box's edges: how many give a
    ≥ 3σ candidate."""
    false, total, worst = 0, 0, 0.0
    for s in range(seeds):
        table = simulate_cone(FIELD_STARS, (), radius=0.5, seed=500 + s)
        X = np.column_stack([np.asarray(table[c], float)
                             for c in ("ra", "dec", "pmra", "pmdec", "parallax")])
        E = np.column_stack([np.asarray(table[c], float)
                             for c in ("pmra_error", "pmdec_error", "parallax_error")])
        sky = tangent_plane(X[:, 0], X[:, 1], 120.0, -30.0)
        for lo in np.stack(np.meshgrid(BOX_GRID_PMRA, BOX_GRID_PMDEC, BOX_GRID_PARALLAX),
                           axis=-1).reshape(-1, 3):
            keep = np.all((X[:, 2:] >= lo) & (X[:, 2:] <= lo + BOX_SIZE), axis=1)
            found = find_candidates(X[keep, 2:], E[keep], sky[keep])
            z = found[0].significance if found else 0.0
            false, total, worst = false + (z >= THRESHOLD), total + 1, max(worst, z)
    print(f"pure fields cut to boxes beside their peak with a ≥ {THRESHOLD}σ candidate: "
          f"{false}/{total} (max {worst:.2f}σ)")


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


def _matches(det, truth: dict, origin: tuple[float, float]) -> bool:
    from vo_ocml.membership.sky import from_tangent_plane

    pm_tol = max(0.3, 1.5 * truth["sigma_pm"])
    plx_tol = max(0.1, 0.15 * truth["parallax"])
    ok = np.all(np.abs(det.centre[:2] - [truth["pmra"], truth["pmdec"]]) <= pm_tol) and \
        abs(det.centre[2] - truth["parallax"]) <= plx_tol
    if det.sky_centre is not None:
        ra, dec = from_tangent_plane(*det.sky_centre, *origin)
        ok = ok and np.hypot((ra - truth["ra"]) * np.cos(np.radians(truth["dec"])),
                             dec - truth["dec"]) <= max(0.1, 0.5 * truth["r_tidal_deg"])
    return bool(ok)


def _find_in(table):
    from vo_ocml.io.columns import resolve_columns
    from vo_ocml.membership.sky import sky_centre

    a = resolve_columns(table).arrays(table)
    X = np.column_stack([a[k] for k in ("ra", "dec", "pmra", "pmdec", "parallax")])
    E = np.column_stack([a.get(k, np.full(len(table), np.nan))
                         for k in ("pmra_error", "pmdec_error", "parallax_error")])
    ok = np.all(np.isfinite(X), axis=1)
    X, E = X[ok], E[ok]
    E = E if np.all(np.isfinite(E)) else None
    origin = sky_centre(X[:, 0], X[:, 1])
    return find_candidates(X[:, 2:], E, tangent_plane(X[:, 0], X[:, 1], *origin)), origin


def injections(shared: Path, per_field: int, seed: int = 0) -> None:
    import warnings

    from vo_ocml.injection import FieldModel
    from vo_ocml.io.tables import read_table

    warnings.simplefilter("ignore")
    fields = sorted(p for p in (shared / "gaia").glob("*.csv") if "reference" not in p.name)
    records, nulls = [], []
    for path in fields:
        try:
            model = FieldModel(read_table(path), own="mask")
            d_lo, d_hi = model.distance_range(0.3, 8.0)
        except Exception as exc:  # a field that admits no injection is reported and skipped
            print(f"{path.stem}: skipped ({exc})")
            continue
        base, _ = _find_in(model.base)
        nulls.append(base[0].significance if base else 0.0)
        rng = np.random.default_rng([seed, len(records), len(path.stem)])
        for _ in range(per_field):
            n = int(round(np.exp(rng.uniform(np.log(30), np.log(2000)))))
            d = float(np.exp(rng.uniform(np.log(d_lo), np.log(d_hi))))
            inj = model.inject(rng, n, d)
            if inj.truth["n_true"] < 10:
                continue
            found, origin = _find_in(inj.table)
            top = bool(found and found[0].significance >= THRESHOLD
                       and _matches(found[0], inj.truth, origin))
            listed = any(c.significance >= THRESHOLD and _matches(c, inj.truth, origin)
                         for c in found)
            records.append((path.stem, inj.truth["n_true"], d, top, listed))
            if inj.truth["n_true"] >= 100 and not top:
                t = inj.truth
                print(f"  missed N_true {t['n_true']} at {d:.2f} kpc (pm {t['pmra']:.2f}, "
                      f"{t['pmdec']:.2f}, parallax {t['parallax']:.3f}, r_t "
                      f"{60 * t['r_tidal_deg']:.0f}'); best: "
                      f"{found[0].describe() if found else 'none'}; listed: {listed}")
        print(f"{path.stem}: masked field's best {nulls[-1]:.1f}σ; injections so far "
              f"{len(records)}",
              flush=True)
    print(f"\ninjections into {len(nulls)} real fields (catalogued clusters masked): "
          f"detected = the best candidate (listed = any candidate) matches at ≥ {THRESHOLD}σ")
    print("| N_true | d ≤ 1 kpc | 1–3 kpc | 3–8 kpc | all |")
    print("|---|---|---|---|---|")
    for lo, hi in ((10, 50), (50, 100), (100, 200), (200, 500), (500, 10**6), (100, 10**6)):
        cells = []
        for dlo, dhi in ((0, 1), (1, 3), (3, 9), (0, 9)):
            sel = [r for r in records if lo <= r[1] < hi and dlo <= r[2] < dhi]
            cells.append(f"{sum(r[3] for r in sel)}/{len(sel)} ({sum(r[4] for r in sel)})"
                         if sel else "–")
        top = hi if hi < 10**6 else "…"
        label = f"≥ {lo}" if hi == 10**6 and lo == 100 else f"{lo}–{top}"
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(f"masked fields with a ≥ {THRESHOLD}σ candidate: {sum(z >= THRESHOLD for z in nulls)}/"
          f"{len(nulls)} (best candidates: {', '.join(f'{z:.1f}' for z in nulls)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="fields per (N, distance) cell")
    parser.add_argument("--shared", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="fewer cells (a check)")
    parser.add_argument("--inject", type=int, default=0, metavar="K",
                        help="also inject K clusters into every real field (needs --shared)")
    parser.add_argument("--only-inject", action="store_true", help="skip parts 1–3")
    args = parser.parse_args()
    if args.only_inject:
        injections(args.shared, args.inject or 6)
        return
    if args.quick:
        recall(1, (30, 100, 500), (1.0, 4.0, 8.0))
        false_detections(3)
    else:
        recall(args.seeds, MEMBERS, DISTANCES_KPC)
        false_detections(4 * args.seeds)
        box_slopes(2 * args.seeds)
    if args.shared.exists():
        real(args.shared)
        if args.inject:
            injections(args.shared, args.inject)


if __name__ == "__main__":
    main()
