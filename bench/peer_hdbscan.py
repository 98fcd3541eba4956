"""vo_ocml against a plain HDBSCAN on the injection benchmark's clusters (known truth).

The independent benchmark of issue 15 scored a plain HDBSCAN (``min_cluster_size`` 10, leaf
selection) above vo_ocml on distant fields and on synthetic ones. This bench puts both on the
same ground truth: every injection of ``bench/injection.py`` (same design, backgrounds and
thinning; N_true ≥ ``MIN_TRUE``) is run

- by vo_ocml's default model, named (centroid, position and r50, as ``bench/injection.py``
  gives them) and blind, members P > 0.5;
- by scikit-learn's HDBSCAN on the rows with five-parameter astrometry, in the space Hunt &
  Reffert (2023) cluster in: tangent-plane x, y (degrees), pmra, pmdec, parallax, each scaled
  by ``RobustScaler``; ``min_cluster_size`` = ``min_samples`` = ``MIN_CLUSTER_SIZE``, leaf
  selection (``--min-samples`` changes ``min_samples``: 5 did best of the variants tried,
  docs/injection.md, nineteenth session). HDBSCAN returns many clusters and names none; two choices are scored:
  *named*, the cluster whose median lies nearest the injected cluster's catalogue entry (the
  same centroid, position the named run gets, in the scaled space) -- what a user matching
  HDBSCAN's output to a catalogue gets; and *best*, every cluster whose rows are mostly true
  members merged (leaf selection splits rich clusters; the single cluster of highest F1 when
  none is) -- an upper bound no user can reach, since it reads the truth.

Printed: median F1 by N_true × distance and by fill (the injected r50 over the table's median
radius, ``bench/injection.py``'s ``FILL_SPLIT``), purity at G 19–21, the ratio of selected
members to N_true, and the ECE (P ≥ 0.05) of vo_ocml's probabilities and of HDBSCAN's
``probabilities_`` (its membership strengths, which are not probabilities; shown because a
user might read them as such).

``--real`` runs the real set of ``bench/accuracy.py`` instead (published member lists: M67,
the Pleiades, six distant boxes, oc345p67): vo_ocml blind and named, HDBSCAN's cluster nearest
the shipped catalogue's entry, and its cluster that best matches the reference (an oracle).

Usage::

    python bench/peer_hdbscan.py [--own-cache DIR] [--seed 0] [--fields a,b] [--jobs 2]
    python bench/peer_hdbscan.py --real [--min-samples 10]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.cluster import HDBSCAN
from sklearn.preprocessing import RobustScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))

from injection import (  # noqa: E402  (the bench's own module, beside this one)
    D_CLASSES, FILL_SPLIT, MIN_TRUE, N_CLASSES, PER_FIELD, SHARED, _fill, _in, discover_fields,
    over_fields, thinned_injections,
)

from vo_ocml.analysis.calibration import reliability, selection_scores  # noqa: E402
from vo_ocml.analysis.validate import validate  # noqa: E402
from vo_ocml.catalog import lookup_cluster  # noqa: E402
from vo_ocml.pipeline import run  # noqa: E402

#: the independent benchmark's HDBSCAN setting (also Hunt & Reffert 2023's min_cluster_size)
MIN_CLUSTER_SIZE = 10
#: the columns HDBSCAN clusters in, after the sky position's tangent-plane projection
KINEMATICS = ("pmra", "pmdec", "parallax")
#: "best": every HDBSCAN cluster whose rows are more than this fraction true members, merged
#: (leaf selection splits a rich cluster into several)
ORACLE_PURITY = 0.5
#: an injection is listed when HDBSCAN's named F1 exceeds vo_ocml's by more than this
AHEAD = 0.1
#: the faint range of the purity row (issue 15's aim: purity ≥ 0.8 there)
FAINT = (19.0, 21.0)
METHODS = ("ours named", "ours blind", "HDBSCAN named", "HDBSCAN best")


def tangent_plane(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float) -> tuple[np.ndarray, np.ndarray]:
    """Gnomonic projection about (ra0, dec0), in degrees."""
    a, d, a0, d0 = (np.radians(v) for v in (ra, dec, ra0, dec0))
    cos_c = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(a - a0)
    x = np.cos(d) * np.sin(a - a0) / cos_c
    y = (np.cos(d0) * np.sin(d) - np.sin(d0) * np.cos(d) * np.cos(a - a0)) / cos_c
    return np.degrees(x), np.degrees(y)


def hdbscan_fit(ra: np.ndarray, dec: np.ndarray, kin: np.ndarray, usable: np.ndarray,
                min_samples: int):
    """HDBSCAN over the ``usable`` rows in Hunt & Reffert's space: labels (−1: noise or not
    clustered), strengths, every row's scaled features (0 where unknown), and a function that
    scales a point (ra, dec, pmra, pmdec, parallax) into that space."""
    ra0, dec0 = float(np.nanmedian(ra)), float(np.nanmedian(dec))
    x, y = tangent_plane(ra, dec, ra0, dec0)
    features = np.column_stack([x, y, kin])
    scaler = RobustScaler().fit(features[usable])
    fit = HDBSCAN(min_cluster_size=MIN_CLUSTER_SIZE, min_samples=min_samples,
                  cluster_selection_method="leaf", copy=True).fit(scaler.transform(features[usable]))
    labels = np.full(len(ra), -1)
    strength = np.zeros(len(ra))
    labels[usable], strength[usable] = fit.labels_, fit.probabilities_

    def scale(point) -> np.ndarray:
        px, py = tangent_plane(np.array([point[0]]), np.array([point[1]]), ra0, dec0)
        return scaler.transform(np.array([[px[0], py[0], *point[2:]]]))[0]
    return labels, strength, scaler.transform(np.where(np.isfinite(features), features, 0.0)), scale


def nearest(labels: np.ndarray, scaled: np.ndarray, point: np.ndarray) -> int | None:
    """The HDBSCAN cluster whose median lies nearest ``point`` (scaled); None: no cluster."""
    ids = np.unique(labels[labels >= 0])
    if not ids.size:
        return None
    medians = np.array([np.median(scaled[labels == k], axis=0) for k in ids])
    return int(ids[np.argmin(np.linalg.norm(medians - point, axis=1))])


def score_injection(inj, model, truth: np.ndarray, usable: np.ndarray, min_samples: int) -> dict:
    """Every method's selection, scores and probabilities on one injected table."""
    g = model.cmap.array(inj.table, "phot_g_mean_mag")
    out = {}
    for mode in ("named", "blind"):
        named = {"centroid": inj.centroid, "position": inj.position, "r50": inj.r50} if mode == "named" else {}
        prob = np.nan_to_num(np.asarray(run(inj.table, **named).result.probability, float))
        out[f"ours {mode}"] = prob
    t = inj.table
    labels, strength, scaled, scale = hdbscan_fit(
        model.cmap.array(t, "ra"), model.cmap.array(t, "dec"),
        np.column_stack([model.cmap.array(t, q) for q in KINEMATICS]), usable, min_samples)
    ids = np.unique(labels[labels >= 0])
    if ids.size:
        near = nearest(labels, scaled, scale((*inj.position, *inj.centroid)))
        scores = [selection_scores((labels == k).astype(float), truth, exclude=~usable) for k in ids]
        mostly = ids[[sc.purity > ORACLE_PURITY for sc in scores]]
        best = mostly if mostly.size else ids[[int(np.argmax([sc.f1 for sc in scores]))]]
        out["HDBSCAN named"] = np.where(labels == near, strength, 0.0)
        out["HDBSCAN best"] = np.where(np.isin(labels, best), strength, 0.0)
    else:
        out["HDBSCAN named"] = out["HDBSCAN best"] = np.zeros(len(labels))
    record = {"fill": _fill(inj, model), "n_true": int(truth.sum()), "clusters": int(ids.size)}
    for name, prob in out.items():
        # HDBSCAN's members are its cluster's rows: strength > 0 (it is 0 for noise)
        member = prob > 0.5 if name.startswith("ours") else prob > 0
        s = selection_scores(member.astype(float), truth, exclude=~usable)
        keep = usable & (member | (prob >= 0.01) | truth)
        record[name] = {"f1": s.f1, "completeness": s.completeness, "purity": s.purity,
                        "n_selected": s.n_selected, "member": member[keep], "prob": prob[keep],
                        "truth": truth[keep], "g": g[keep]}
    return record


def run_field(label: str, path: Path, args) -> list[dict]:
    """Every scored injection into one field."""
    warnings.simplefilter("ignore")
    logging.getLogger("vo_ocml.analysis.summary").setLevel(logging.ERROR)
    records = []
    started = time.perf_counter()
    for i, d, inj, model, truth, usable in thinned_injections(label, path, args.seed, args.per_field,
                                                              args.own_cache, MIN_TRUE):
        records.append({"field": label, "i": i, "distance_kpc": d,
                        **score_injection(inj, model, truth, usable, args.min_samples)})
    print(f"{label}: {len(records)} injections in {time.perf_counter() - started:.0f} s",
          file=sys.stderr, flush=True)
    return records


def real_set(shared: Path, min_samples: int) -> str:
    """The real set of ``bench/accuracy.py`` (published member lists): vo_ocml's F1 blind and
    named, and HDBSCAN's for its cluster nearest the shipped catalogue's entry and for its
    cluster that best matches the reference (an oracle), as a markdown table."""
    from accuracy import cases  # the bench's own module, beside this one

    lines = ["| cone | rows | vo_ocml blind | vo_ocml named | HDBSCAN nearest the catalogue entry "
             "| HDBSCAN best match (oracle) | HDBSCAN clusters |", "|---|---|---|---|---|---|---|"]
    for label, table, reference, name in cases(shared):
        blind = run(table)
        f1 = [validate(blind, reference).f1,
              validate(run(table, cluster=name), reference).f1 if name else np.nan]
        kin = np.column_stack([np.asarray(table[q], float) for q in KINEMATICS])
        usable = np.all(np.isfinite(kin), axis=1)
        labels, _, scaled, scale = hdbscan_fit(np.asarray(table["ra"], float),
                                               np.asarray(table["dec"], float), kin, usable,
                                               min_samples)
        scored = blind.table.copy(copy_data=False)

        def f1_of(k: int | None) -> float:
            scored["ocml_prob"] = (labels == k).astype(float) if k is not None else 0.0
            return validate(scored, reference, threshold=0.5).f1
        ids = np.unique(labels[labels >= 0])
        named = np.nan
        if name:
            entry = lookup_cluster(name)
            named = f1_of(nearest(labels, scaled, scale((entry.ra, entry.dec, entry.pmra,
                                                         entry.pmdec, entry.parallax))))
        best = max((f1_of(k) for k in ids), default=0.0)
        lines.append(f"| {label} | {len(table)} | {f1[0]:.3f} | "
                     + " | ".join("–" if np.isnan(x) else f"{x:.3f}" for x in (f1[1], named))
                     + f" | {best:.3f} | {ids.size} |")
    return "\n".join(lines)


def _median(values: list[float]) -> str:
    return f"{np.median(values):.2f}" if values else "–"


def report(records: list[dict]) -> str:
    """The markdown tables."""
    lines = [f"{len(records)} injections (N_true ≥ {MIN_TRUE}); members: vo_ocml P > 0.5, "
             "HDBSCAN its cluster's rows.", "",
             "| | " + " | ".join(METHODS) + " |", "|---|" + "---|" * len(METHODS)]

    def row(label: str, cell) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(m) for m in METHODS) + " |")

    row("median F1, all", lambda m: _median([r[m]["f1"] for r in records]))
    for nc in N_CLASSES:
        for dc in D_CLASSES:
            sel = [r for r in records if _in(r["n_true"], nc) and _in(r["distance_kpc"], dc)]
            if sel:
                row(f"N_true {nc[0]}–{nc[1] if nc[1] < 100000 else '…'}, {dc[0]}–{dc[1]} kpc (n={len(sel)})",
                    lambda m, sel=sel: _median([r[m]["f1"] for r in sel]))
    for name, inside in (("compact", True), ("filling", False)):
        sel = [r for r in records if (r["fill"] < FILL_SPLIT) == inside]
        row(f"median F1, {name} (fill {'<' if inside else '≥'} {FILL_SPLIT:g}, n={len(sel)})",
            lambda m, sel=sel: _median([r[m]["f1"] for r in sel]))
        row(f"… median completeness / purity, {name}",
            lambda m, sel=sel: f"{_median([r[m]['completeness'] for r in sel])} / "
                               f"{_median([r[m]['purity'] for r in sel if r[m]['n_selected']])}")
    row("median members / N_true", lambda m: _median([r[m]["n_selected"] / r["n_true"] for r in records]))

    def pooled(m: str, key: str) -> np.ndarray:
        return np.concatenate([r[m][key] for r in records])

    def faint_purity(m: str) -> str:
        g, member, truth = pooled(m, "g"), pooled(m, "member"), pooled(m, "truth")
        sel = member & (g >= FAINT[0]) & (g < FAINT[1])
        return f"{truth[sel].mean():.2f} ({sel.sum()})" if sel.any() else "–"
    row(f"purity of members at G {FAINT[0]:g}–{FAINT[1]:g} (pooled)", faint_purity)
    row("ECE over P ≥ 0.05 (HDBSCAN: its strengths)",
        lambda m: f"{reliability(pooled(m, 'prob'), pooled(m, 'truth')).ece:.3f}")
    row("F1 ≥ 0.9 (fraction of injections)", lambda m: f"{np.mean([r[m]['f1'] >= 0.9 for r in records]):.2f}")
    ahead = [r for r in records if r["HDBSCAN named"]["f1"] > r["ours named"]["f1"] + AHEAD]
    lines += ["", f"Injections where HDBSCAN (named) beats vo_ocml named by more than {AHEAD:g} in F1: "
              f"{len(ahead)} of {len(records)}", ""]
    if ahead:
        lines += ["| field | injection | N_true | d (kpc) | fill | " + " | ".join(METHODS) + " |",
                  "|---|---|---|---|---|" + "---|" * len(METHODS)]
        lines += [f"| {r['field']} | {r['i']} | {r['n_true']} | {r['distance_kpc']:.2f} | {r['fill']:.2f} | "
                  + " | ".join(f"{r[m]['f1']:.2f}" for m in METHODS) + " |" for r in ahead]
    lines += ["", "HDBSCAN clusters per table: median "
              f"{np.median([r['clusters'] for r in records]):.0f} "
              f"[{np.min([r['clusters'] for r in records])}–{np.max([r['clusters'] for r in records])}]."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fields", help="comma-separated field names (substrings match)")
    parser.add_argument("--per-field", type=int, default=PER_FIELD)
    parser.add_argument("--own-cache", type=Path, metavar="DIR",
                        help="the thinning's own-cluster probabilities (bench/injection.py --own-cache)")
    parser.add_argument("--min-samples", type=int, default=MIN_CLUSTER_SIZE,
                        help=f"HDBSCAN's min_samples (default {MIN_CLUSTER_SIZE})")
    parser.add_argument("--jobs", type=int, default=1, help="fields run in parallel (joblib)")
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--real", action="store_true",
                        help="the real set of bench/accuracy.py (published member lists) instead")
    args = parser.parse_args(argv)
    if args.real:
        print(f"HDBSCAN min_cluster_size {MIN_CLUSTER_SIZE}, min_samples {args.min_samples}, leaf; "
              "F1 against the references of bench/accuracy.py")
        print(real_set(args.shared, args.min_samples))
        return 0
    fields = discover_fields(args.shared)
    if args.fields:
        fields = {k: v for k, v in fields.items() if any(w in k for w in args.fields.split(","))}
    if not fields:
        parser.error("no field matches --fields")
    t0 = time.perf_counter()
    records = over_fields(run_field, fields, args)
    print(f"HDBSCAN min_cluster_size {MIN_CLUSTER_SIZE}, min_samples {args.min_samples}, leaf; "
          f"seed {args.seed}")
    print(report(records))
    print(f"\n{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
