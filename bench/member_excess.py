"""How many members the six distant boxes' clusters really have at each G, without a member list.

`bench/accuracy.py` scores the six distant boxes against Perren et al. (2022)'s final
selections; where vo_ocml and those lists disagree (faint stars), neither is the truth. This
bench counts the members statistically (:func:`vo_ocml.analysis.excess.kinematic_excess`):
inside 2.5 fitted r50 of each run's centre, the stars at the fitted cluster's motion and
parallax minus the field expected there, per G range, against the run's Σ P and N(P > 0.5)
and the reference's count in the same circle. It also gives, inside that circle, the F1 a
method would score against the reference if it selected exactly the counted members
(every reference member among them): what the reference's depth allows.

A test of the stated errors, ``--windows``: the same count with windows holding 0.5 … 0.999
of a member's Gaussian (intrinsic spread plus its stated errors). If the errors are right,
each window's count, divided by its share, is the same; if real members scatter more, the
narrow windows count fewer. ``--simulated SCALE`` is its control: simulated cones whose stated
errors are the true ones divided by SCALE.

Checks of the count itself: ``--null``, the circle moved 6 fitted r50 from the cluster's
centre towards the table's far side (its field beyond 5 r50 of both centres), where the
counts should be 0 within their errors; ``--inject K``, K clusters of `bench/injection.py`'s
design injected into each box with its own cluster masked, against their truth (injections
with fewer than 30 members, not found, or as wide as the box are not counted).
tests/test_excess.py checks it against the truth of simulated cones.

    python bench/member_excess.py [--mode name data] [--null]
    python bench/member_excess.py --inject 24
    python bench/member_excess.py --windows
    python bench/member_excess.py --simulated 1.0      # and 1.2
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

import numpy as np
from astropy.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import DISTANT, _option  # noqa: E402

from injection import ASTROMETRY, D_RANGE, N_RANGE, design  # noqa: E402

from vo_ocml.analysis.excess import WINDOW_COMPLETENESS, kinematic_excess  # noqa: E402
from vo_ocml.injection import TRUTH_COLUMN, FieldModel  # noqa: E402
from vo_ocml.io.tables import read_table  # noqa: E402
from vo_ocml.membership.sky import (angular_distance, from_tangent_plane,  # noqa: E402
                                    tangent_plane)
from vo_ocml.pipeline import run  # noqa: E402
from vo_ocml.simulate import SimCluster, simulate_cone  # noqa: E402

#: the counted circle, in fitted r50 (an EFF profile of slope 4, the Plummer sphere: 86 % of
#: the members)
INNER_R50 = 2.5
#: the field is measured beyond this many fitted r50 (a Plummer sphere's 4 % beyond)
OUTER_R50 = 5.0
#: the null check's circle: this many fitted r50 from the cluster's centre
NULL_OFFSET_R50 = 6.0
#: G ranges: the references' depth falls over G 19–21
G_EDGES = np.array([0.0, 18.0, 19.0, 19.5, 20.0, 21.5])
#: ``--windows``: the windows' shares of a member's Gaussian, narrowest to widest
WINDOWS = (0.5, 0.7, 0.9, 0.99, 0.999)
#: ``--windows``: resamplings of the rows for the narrow / wide ratio's spread
BOOTSTRAP = 200
#: ``--inject``: the injected members with five-parameter astrometry needed to count one
MIN_TRUE = 30
#: ``--simulated``: a distant cluster like the boxes' (parallax 0.25 mas, 1.2′ Plummer radius)
#: in a 0.15° cone of 12,000 field stars, six seeds
SIMULATED = SimCluster(500, -1.0, 0.5, 0.25, sd_pm=0.04, sd_parallax=0.01, plummer_radius=0.02)
SIMULATED_FIELD, SIMULATED_RADIUS, SIMULATED_SEEDS = 12000, 0.15, range(6)


def _excess(annotated, table: Table, sums: dict[str, np.ndarray], *, null: bool = False,
            completeness: float = WINDOW_COMPLETENESS) -> Table:
    """The run's count inside INNER_R50 r50 of its centre, its field beyond OUTER_R50 r50.

    With ``null`` the circle is moved NULL_OFFSET_R50 r50 towards the table's far side (the
    field then beyond OUTER_R50 r50 of both centres).
    """
    s, mixture = annotated.summary, annotated.result.details["mixture"]
    cmap = annotated.columns
    ra, dec = cmap.array(table, "ra"), cmap.array(table, "dec")
    from_cluster = angular_distance(ra, dec, s.ra, s.dec)
    ra0, dec0 = s.ra, s.dec
    if null:
        xy = tangent_plane(ra, dec, s.ra, s.dec)
        far = xy[np.nanargmax(np.hypot(*xy.T))]
        ra0, dec0 = from_tangent_plane(*(NULL_OFFSET_R50 * s.r50 * far / np.hypot(*far)),
                                       s.ra, s.dec)
    from_centre = angular_distance(ra, dec, ra0, dec0)
    inner = from_centre < INNER_R50 * s.r50
    outer = (from_centre > OUTER_R50 * s.r50) & (from_cluster > OUTER_R50 * s.r50)
    kin = np.column_stack([cmap.array(table, q) for q in ("pmra", "pmdec", "parallax")])
    err = np.column_stack([cmap.array(table, q) for q in
                           ("pmra_error", "pmdec_error", "parallax_error")])
    return kinematic_excess(inner, outer, kin, err, cmap.array(table, "phot_g_mean_mag"),
                            np.asarray(mixture["cluster_mean"], float),
                            np.asarray(mixture["cluster_intrinsic_sd"], float),
                            edges=G_EDGES, sums=sums, completeness=completeness)


def _print(title: str, rows: Table, columns: list[str]) -> None:
    print(f"\n{title}")
    print(f"{'G':>11} {'window':>7} {'field':>7} {'counted':>14} " + " ".join(
        f"{c:>9}" for c in columns))
    for r in rows:
        print(f"{r['g_min']:>4.1f}–{r['g_max']:<5.1f} {r['n_inner']:>7} {r['n_field']:>7.1f} "
              f"{r['excess']:>7.1f} ± {r['excess_error']:<4.1f} "
              + " ".join(f"{r[c]:>9.1f}" for c in columns))


def _pooled(tables: list[Table], columns: list[str]) -> Table:
    pooled = tables[0].copy()
    for name in ["n_inner", "n_field", "excess", *columns]:
        pooled[name] = np.sum([t[name] for t in tables], axis=0)
    pooled["excess_error"] = np.sqrt(np.sum([t["excess_error"] ** 2 for t in tables], axis=0))
    return pooled


def real_boxes(shared: Path, mode: str, null: bool, extra: dict[str, str]) -> None:
    """The six boxes, their references, one mode (named or blind); ``extra``: run options."""
    columns = ["sum_p", "members", "reference", "both"]
    tables, ceilings, ours = [], [], []
    for key, name in DISTANT.items():
        table = Table.read(shared / "gaia" / f"distant_{key}_edr3_box.csv", format="ascii.csv")
        reference = np.asarray([str(v) == "True" for v in table["ref_member_perren2022"]])
        annotated = run(table, cluster=name if mode == "name" else None, **extra)
        p = np.nan_to_num(np.asarray(annotated.result.probability, float))
        member = p > annotated.threshold
        rows = _excess(annotated, table, {"sum_p": p, "members": member,
                                          "reference": reference,
                                          "both": member & reference}, null=null)
        tables.append(rows)
        s = annotated.summary
        _print(f"{name} ({mode}; r50 {60 * s.r50:.2f}′, circle {60 * INNER_R50 * s.r50:.2f}′, "
               f"field beyond {60 * OUTER_R50 * s.r50:.2f}′)", rows, columns)
        if null:
            continue
        counted, ref_in = float(np.sum(rows["excess"])), float(np.sum(rows["reference"]))
        members_in, both_in = float(np.sum(rows["members"])), float(np.sum(rows["both"]))
        ceiling = 2 * ref_in / (ref_in + counted) if counted > 0 else np.nan
        f1_in = 2 * both_in / (members_in + ref_in) if members_in + ref_in else np.nan
        ceilings.append(ceiling)
        ours.append(f1_in)
        print(f"inside the circle: counted {counted:.1f} ± "
              f"{np.sqrt(np.sum(rows['excess_error'] ** 2)):.1f}, reference {ref_in:.0f}, "
              f"N(P > 0.5) {members_in:.0f}; F1 against the reference there: vo_ocml "
              f"{f1_in:.3f}, a method selecting exactly the counted members {ceiling:.3f}")
    pooled = _pooled(tables, columns)
    _print(f"six boxes pooled ({mode}{', null' if null else ''})", pooled, columns)
    if null:
        pulls = np.concatenate([t["excess"] / t["excess_error"] for t in tables])
        print(f"count / error over {len(pulls)} bins: mean {np.mean(pulls):.2f}, sd "
              f"{np.std(pulls):.2f} (no cluster there, honest errors: 0 and 1)")
        return
    print("ratios to the count: " + "; ".join(
        f"G {r['g_min']:.1f}–{r['g_max']:.1f} Σ P {r['sum_p'] / r['excess']:.2f}, "
        f"N(P > 0.5) {r['members'] / r['excess']:.2f}, reference {r['reference'] / r['excess']:.2f}"
        for r in pooled))
    print(f"median F1 inside the circles ({mode}): vo_ocml {np.median(ours):.3f}, exactly the "
          f"counted members {np.median(ceilings):.3f}")


def windows(runs: list[tuple[Table, object, dict[str, np.ndarray]]], title: str) -> None:
    """The pooled count for each window of :data:`WINDOWS`: flat if the errors are right.

    The narrowest over the widest window's count, with its standard deviation over
    :data:`BOOTSTRAP` resamplings of each table's rows (the fits kept).
    """
    counts = {c: _pooled([_excess(a, t, sums, completeness=c) for t, a, sums in runs],
                         list(runs[0][2])) for c in WINDOWS}
    rng = np.random.default_rng(0)
    ratios = []
    for _ in range(BOOTSTRAP):
        resampled = [(t[rng.integers(0, len(t), len(t))], a) for t, a, _ in runs]
        narrow, wide = (np.sum([_excess(a, t, {}, completeness=c)["excess"]
                                for t, a in resampled], axis=0) for c in (WINDOWS[0], WINDOWS[-1]))
        ratios.append(narrow / wide)
    spread = np.std(ratios, axis=0)
    print(f"\n{title}: the count with windows holding {', '.join(map(str, WINDOWS))} of a "
          "member's Gaussian; narrowest / widest")
    for i in range(len(G_EDGES) - 1):
        row = " ".join(f"{counts[c]['excess'][i]:>7.1f} ± {counts[c]['excess_error'][i]:<5.1f}"
                       for c in WINDOWS)
        ratio = counts[WINDOWS[0]]["excess"][i] / counts[WINDOWS[-1]]["excess"][i]
        truth = "".join(f"  {name} {counts[WINDOWS[-1]][name][i]:.0f}" for name in runs[0][2])
        print(f"{G_EDGES[i]:>4.1f}–{G_EDGES[i + 1]:<5.1f} {row}  {ratio:.2f} ± {spread[i]:.2f}"
              f"{truth}")


def real_windows(shared: Path) -> None:
    """:func:`windows` on the six boxes' named runs."""
    runs = []
    for key, name in DISTANT.items():
        table = Table.read(shared / "gaia" / f"distant_{key}_edr3_box.csv", format="ascii.csv")
        runs.append((table, run(table, cluster=name), {}))
    windows(runs, "six boxes pooled (named)")


def simulated_windows(scale: float) -> None:
    """:func:`windows` on simulated cones whose stated errors are the true ones / ``scale``."""
    runs = []
    for seed in SIMULATED_SEEDS:
        table = simulate_cone(SIMULATED_FIELD, (SIMULATED,), radius=SIMULATED_RADIUS, seed=seed)
        for q in ("pmra", "pmdec", "parallax"):
            table[f"{q}_error"] = np.asarray(table[f"{q}_error"]) / scale
        annotated = run(table, centroid=(SIMULATED.pmra, SIMULATED.pmdec, SIMULATED.parallax),
                        position=(float(np.median(table["ra"])), float(np.median(table["dec"]))),
                        r50=SIMULATED.plummer_radius)
        runs.append((table, annotated, {"true": np.asarray(table["true_cluster"]) == 1}))
    windows(runs, f"{len(runs)} simulated cones, stated errors = true / {scale} (named)")


def injected(shared: Path, per_field: int) -> None:
    """The count on clusters injected into the six boxes, their own cluster masked (every
    star near it in position and motion removed: no remnant of it is taken for field), run
    named as `bench/injection.py` runs them (seed 0), against the injected members."""
    tables = []
    for key in DISTANT:
        label = f"distant_{key}_edr3_box"
        model = FieldModel(read_table(shared / "gaia" / f"{label}.csv"), own="mask")
        plan = design(label, 0, per_field, model.distance_range(*D_RANGE), N_RANGE)
        for i, (n, d, ss) in enumerate(plan):
            inj = model.inject(np.random.default_rng(ss), n, d)
            usable = np.all([np.isfinite(model.cmap.array(inj.table, q)) for q in ASTROMETRY],
                            axis=0)
            truth = np.asarray(inj.table[TRUTH_COLUMN], bool)[usable]
            if truth.sum() < MIN_TRUE:
                continue
            table = inj.table[usable]
            annotated = run(table, centroid=inj.centroid, position=inj.position, r50=inj.r50)
            if not annotated.summary.found:
                continue
            p = np.nan_to_num(np.asarray(annotated.result.probability, float))
            try:
                rows = _excess(annotated, table, {"true": truth, "sum_p": p})
            except ValueError:  # a cluster as wide as the box: no field beyond 5 r50
                continue
            tables.append(rows)
            print(f"{label} {i} ({truth.sum()} members at {d:.1f} kpc): counted "
                  f"{np.sum(rows['excess']):.1f} ± {np.sqrt(np.sum(rows['excess_error'] ** 2)):.1f}"
                  f", true {np.sum(rows['true']):.0f}, Σ P {np.sum(rows['sum_p']):.1f} in the circle")
    totals = np.array([[np.sum(t["excess"]), np.sqrt(np.sum(t["excess_error"] ** 2)),
                        np.sum(t["true"]), np.sum(t["sum_p"])] for t in tables])
    pulls = (totals[:, 0] - totals[:, 2]) / totals[:, 1]
    print(f"\n{len(tables)} injections counted: count / true median "
          f"{np.median(totals[:, 0] / totals[:, 2]):.2f}, Σ P / true median "
          f"{np.median(totals[:, 3] / totals[:, 2]):.2f}; (count − true) / error median "
          f"{np.median(pulls):.2f}, sd {np.std(pulls):.2f} (honest errors: 1), beyond 3: "
          f"{np.sum(np.abs(pulls) > 3)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--mode", nargs="+", default=["name", "data"], choices=["name", "data"],
                        help="named runs, blind runs (centroid from the data), or both")
    parser.add_argument("--null", action="store_true",
                        help="count in a circle away from the cluster (a check: counts ≈ 0)")
    parser.add_argument("--set", action="append", default=[], type=_option, metavar="NAME=VALUE",
                        help="any other option of vo_ocml.run for the boxes' runs, e.g. --set "
                             "error_scale=1.1 (repeatable; the count keeps the stated errors)")
    parser.add_argument("--windows", action="store_true",
                        help="instead: the count with narrower and wider kinematic windows "
                             "(flat if the errors are right)")
    parser.add_argument("--inject", type=int, metavar="K",
                        help="instead: the count on K injections into each box (its own cluster "
                             "masked), against their truth")
    parser.add_argument("--simulated", type=float, metavar="SCALE",
                        help="instead: the same on simulated cones whose stated errors are the "
                             "true ones / SCALE (1: right; 1.2: 20 %% too small)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("vo_ocml.analysis.summary").setLevel(logging.ERROR)
    if args.inject:
        injected(args.shared, args.inject)
        return
    if args.simulated is not None:
        simulated_windows(args.simulated)
        return
    if args.windows:
        real_windows(args.shared)
        return
    for mode in args.mode:
        real_boxes(args.shared, mode, args.null, dict(args.set))


if __name__ == "__main__":
    main()
