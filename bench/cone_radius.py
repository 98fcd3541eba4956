"""How wide a cone to fetch around a catalogued cluster: injected clusters run on their table cut
to discs of k × r50.

``vo-ocml fetch NAME`` and ``vo-ocml batch`` cut a cone of ``R50_FACTOR`` × the catalogue's r50
(:mod:`vo_ocml.tap.resolve`). A cone of k × r50 has a fill (r50 over the rows' median distance
from the centre, :attr:`vo_ocml.analysis.summary.Summary.fill`) of about √2 / k, and a cluster
that fills its table leaves the field's density at its motion unmeasured (docs/injection.md,
fifteenth session). This bench injects clusters as ``bench/injection.py`` does (same design,
backgrounds and thinning), cuts each injected table to discs of k × r50 around the injected
members' centre for every k of ``--factors``, and runs ``vo_ocml.run`` named (centroid, position
and r50 as a catalogue lists them) on each. An injection counts only where the widest disc lies
inside its table (its fill within ``--tolerance`` of √2 / k) and it has at least ``--min-true``
members with five-parameter astrometry, so every k is scored on the same injections.

Printed per k, pooled over the injections: ECE over the candidates (P ≥ 0.05), Σ P / N_true
(every star, and at G 19.5–21), the fraction of injections with N_true ≥ 100 whose Σ P / N_true
lies within 0.9–1.1, median F1 (P > 0.5), and the median rows per cone.

Usage::

    python bench/cone_radius.py [--factors 3,5,8] [--seed 0] [--own-cache DIR]
        [--fields ngc7789_cone,...] [--per-field 8] [--min-true 50]
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from injection import (  # noqa: E402  (the bench's own module, beside this one)
    FAINT_G, SHARED, discover_fields, thinned_injections,
)

from vo_ocml.analysis.calibration import reliability, selection_scores  # noqa: E402
from vo_ocml.membership.sky import angular_distance  # noqa: E402
from vo_ocml.pipeline import run  # noqa: E402
from vo_ocml.tap.resolve import R50_FACTOR  # noqa: E402

#: Σ P / N_true is judged on clusters this rich (the issue's aim: within 0.9–1.1 from 100 up)
RICH = 100


def _injections(label: str, path: Path, args):
    """(index, distance in kpc, injection, truth, usable rows, G, each row's distance from the
    members' centre in deg) of each injection of one field that ``--min-true`` and the widest
    disc admit; truth counts usable rows only (five-parameter astrometry)."""
    widest = max(args.factors)
    for i, d, inj, model, truth, usable in thinned_injections(
            label, path, args.seed, args.per_field, args.own_cache, args.min_true):
        t = inj.table
        dist = angular_distance(model.cmap.array(t, "ra"), model.cmap.array(t, "dec"),
                                inj.truth["members_ra"], inj.truth["members_dec"])
        reached = inj.r50 / np.median(dist[dist <= widest * inj.r50])
        if abs(reached * widest / np.sqrt(2) - 1) > args.tolerance:
            continue
        yield i, d, inj, truth, usable, model.cmap.array(t, "phot_g_mean_mag"), dist


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--factors", default="3,5,8",
                    type=lambda s: sorted(float(k) for k in s.split(",")),
                    help="cone radii in units of r50, comma-separated (default 3,5,8)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--own-cache", type=Path, default=None,
                    help="cache of the fields' own-cluster probabilities (bench/injection.py's)")
    ap.add_argument("--fields", default=None, help="comma-separated field labels (default all)")
    ap.add_argument("--per-field", type=int, default=8)
    ap.add_argument("--min-true", type=int, default=50)
    ap.add_argument("--tolerance", type=float, default=0.15,
                    help="the widest disc's fill may differ from √2 / k by this fraction")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)  # every run's "fills the table" warning: measured here
    fields = discover_fields(SHARED)
    if args.fields:
        fields = {k: v for k, v in fields.items() if k in args.fields.split(",")}
    pooled = {k: {"p": [], "truth": [], "g": [], "per": []} for k in args.factors}
    for label in sorted(fields):
        for i, d, inj, truth, usable, g, dist in _injections(label, fields[label], args):
            line = []
            for k in args.factors:
                rows = dist <= k * inj.r50
                annotated = run(inj.table[rows], centroid=inj.centroid, position=inj.position,
                                r50=inj.r50)
                p = np.nan_to_num(np.asarray(annotated.result.probability, float))[usable[rows]]
                tr, gg = truth[rows][usable[rows]], g[rows][usable[rows]]
                s = selection_scores(p, tr)
                ratio = p.sum() / tr.sum()  # the members inside this disc
                out = pooled[k]
                out["p"].append(p), out["truth"].append(tr), out["g"].append(gg)
                out["per"].append((truth.sum(), ratio, s.f1, rows.sum()))
                fill = inj.r50 / np.median(dist[rows])
                line.append(f"k {k:g}: rows {rows.sum():6d} fill {fill:.2f} ΣP/N {ratio:.2f} "
                            f"F1 {s.f1:.2f}")
            print(f"{label[:24]:24s} {i} N_true {truth.sum():4d} d {d:.1f} kpc | "
                  + " | ".join(line), flush=True)
    default = f" (the default, {R50_FACTOR:g} × r50)"
    print(f"\nseed {args.seed}; rows: named runs on discs of k × r50 around the injected "
          "members' centre")
    print("k     injections  ECE    ΣP/N   ΣP/N G 19.5–21  within 0.9–1.1 (N≥100)  "
          "median F1  median rows")
    for k, out in pooled.items():
        if not out["per"]:
            print(f"{k:<5g} 0")
            continue
        p, tr, g = (np.concatenate(out[q]) for q in ("p", "truth", "g"))
        per = np.array(out["per"], float)
        rich = per[:, 0] >= RICH
        faint = (g >= FAINT_G[0]) & (g < FAINT_G[1])
        within = np.mean(np.abs(per[rich, 1] - 1) <= 0.1) if rich.any() else np.nan
        print(f"{k:<5g} {len(per):10d}  {reliability(p, tr).ece:.3f}  {p.sum() / tr.sum():.3f}  "
              f"{p[faint].sum() / max(tr[faint].sum(), 1):14.3f}  "
              f"{within:.2f} of {rich.sum():<14d}  {np.median(per[:, 2]):9.3f}  "
              f"{np.median(per[:, 3]):11.0f}" + (default if k == R50_FACTOR else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
