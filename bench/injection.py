"""Injection–recovery benchmark: simulated clusters injected into every real field we have.

Into each real Gaia table (tests/data cones and, when present, every cone, box and plane frame
of ../shared/data/gaia) the injector (:mod:`vo_ocml.injection`) adds one simulated cluster at
a time — King profile, Kroupa IMF on a main sequence, extinction, internal dispersion
0.5–2 km/s, 30–2,000 members at 0.3–8 kpc (Latin-hypercube in log N and log d within what
the field's parallax box admits), observed with that field's own errors — with the field's
catalogued clusters taken out: each row removed with its probability of belonging to them, from
vo_ocml's default model run named on each (:func:`own_probability`): as many rows as they hold,
no hole, but a kept row of probability P is still one of their members with probability P (faint
members partly stay, labelled field); ``--own mask`` removes every row near them in motion
instead (the first sessions' mask, which carves a kinematic hole:
:mod:`vo_ocml.injection.field`), ``--own keep`` keeps them and leaves them out of the scores.
``vo_ocml.run`` then runs blind and with the cluster named (its true centroid as Gaia would
measure it, and the mean position and r50 of its injected stars as a catalogue would list them;
``--named-without-position``: the centroid alone). N_true counts the injected stars actually
in the table (inside the footprint, the field's G range and box, with five-parameter
astrometry): a 2,000-member cluster at 8 kpc has most of its stars below the G limit. Injections with N_true < ``MIN_TRUE`` are counted
but not run.

Scores (members: P > 0.5) count the rows with five-parameter astrometry only, N_true's: an
injected star copied from a two-parameter donor has no proper motion or parallax, and no
method can place it. Blind detection (the blind members hold ≥ half the injected
members, and injected stars are ≥ 10 % of the blind members) against N_true and distance;
completeness, purity, F1 against G and by N_true × distance; calibration over candidate
stars (P ≥ 0.05): reliability diagram (PNG in ``--out``) and ECE -- pooled, and split by
whether the run modelled the injected cluster (``OUTCOME_F1``) or found a real catalogued
cluster of the field instead (the shipped catalogue, :mod:`vo_ocml.catalog.match`: a named run
whose injection lies on one, or what the thinning left of one) or another structure the field
holds without the injection (blind runs on the field alone find it: :func:`field_structures`,
an uncatalogued cluster or a thinned one moved too far for the match) -- and Σ P / N_true,
also against the spread Σ P (1 − P) that calibrated probabilities leave N_true around Σ P. A
blind run that misses a rich injected cluster is repeated with ``clusters="all"``: the single
run returns the most significant cluster, which may be a real one of the field.

Usage::

    nice -n 10 python bench/injection.py [--quick] [--method mstgmm] [--seed 0]
        [--fields ubc246,ngc2112] [--per-field 8] [--n-range 30 2000] [--d-range 0.3 8]
        [--own thin|mask|keep] [--own-cache DIR] [--g-max G] [--jobs 1] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_expit, logit

from vo_ocml.analysis.calibration import P_MIN, reliability, selection_scores
from vo_ocml.catalog.match import match_cluster
from vo_ocml.errors import VoOcmlError
from vo_ocml.injection import KNOWN_COLUMN, TRUTH_COLUMN, FieldModel
from vo_ocml.io.columns import resolve_columns
from vo_ocml.io.tables import read_table
from vo_ocml.membership.sky import angular_distance
from vo_ocml.pipeline import run

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
#: fields always available (tests/data); the shared ones are added when present
#: (the shared copy of m67_dr3_pmbox, the same file, replaces it when present)
TEST_FIELDS = {"ngc2477_cone_3000": ROOT / "tests/data/samp/ngc2477_cone_3000.csv",
               "m67_dr3_pmbox": ROOT / "tests/data/core/m67_dr3_pmbox.csv"}
QUICK_FIELDS = ("ngc2477_cone_3000", "m67_dr3_pmbox", "ubc246_edr3_plane_frame", "distant_ber73_edr3_box")
N_RANGE, D_RANGE = (30, 2000), (0.3, 8.0)
PER_FIELD, QUICK_PER_FIELD = 8, 4
#: injections with fewer members in the table than this are not run (nothing to find)
MIN_TRUE = 10
#: blind detection: fraction of the injected members recovered, and of the members injected
DETECT_COMPLETENESS, DETECT_PURITY = 0.5, 0.1
#: the detection target counts injected clusters with at least this many members in the table
DETECT_MIN_TRUE = 100
#: the Σ P / N_true target counts injected clusters with at least this many members
SUM_P_MIN_TRUE = 100
#: Σ P / N_true per cluster: if the probabilities are calibrated, N_true − Σ P has variance
#: Σ P (1 − P), and |z| ≤ this for 95 % of clusters
Z_LIMIT = 1.96
G_BINS = ((0, 15), (15, 17), (17, 19), (19, 21))
#: G bins of the calibration-against-G table: finer at the faint end, where it fails
CALIBRATION_G_BINS = ((0, 17), (17, 19), (19, 20), (20, 21), (21, 99))
#: a row is scored only with all of these (N_true's rows)
ASTROMETRY = ("pmra", "pmdec", "parallax")
#: the ECE is also split by the run's outcome: F1 ≥ this, the model fitted the injected cluster;
#: below, it fitted another structure (a real cluster the mask left, a field feature) or none
OUTCOME_F1 = 0.5
#: a run that did not model the injected cluster found a structure its field holds without the
#: injection when at least this fraction of its members (P > 0.5) among the field's rows are
#: members of one that blind runs on the field alone find (:func:`field_structures`)
HELD_FRACTION = 0.5
#: the calibration shift δ: P clipped this far from 0 and 1 before its logit, |δ| searched up to
LOGIT_CLIP, MAX_SHIFT = 1e-6, 5.0
#: how much of its table a cluster fills: its members' r50 over the median distance of the
#: table's rows from its centre. From about half of it, no part of the table is far from the
#: cluster and position no longer tells the field from it; the faint members' Σ P / N_true
#: then falls (docs/injection.md, fifteenth session), so the Σ P rows are split there
FILL_SPLIT = 0.5
#: the faint range of the split Σ P rows (every star, as in the calibration-against-G table)
FAINT_G = (19.5, 21.0)
N_CLASSES = ((10, 50), (50, 100), (100, 200), (200, 500), (500, 100000))
D_CLASSES = ((0.3, 1.0), (1.0, 3.0), (3.0, 8.0))


def discover_fields(shared: Path) -> dict[str, Path]:
    """Every field: tests/data cones, then the shared Gaia tables (references excluded)."""
    fields = dict(TEST_FIELDS)
    gaia = shared / "gaia"
    if gaia.is_dir():
        for path in sorted(gaia.glob("*.csv")):
            if "reference" not in path.name:
                fields[path.stem] = path
    else:
        print(f"note: {gaia} not found: only the tests/data fields are used", file=sys.stderr)
    return fields


def design(field_label: str, seed: int, k: int, d_range: tuple[float, float],
           n_range: tuple[int, int] = N_RANGE):
    """k (n, distance, seed-sequence) draws, Latin hypercube in log N and log d, reproducible."""
    ss = np.random.SeedSequence([seed, zlib.crc32(field_label.encode())])
    rng = np.random.default_rng(ss)
    u_n = (rng.permutation(k) + rng.random(k)) / k
    u_d = (rng.permutation(k) + rng.random(k)) / k
    n = np.exp(np.log(n_range[0]) + u_n * np.log(n_range[1] / n_range[0])).round().astype(int)
    d = np.exp(np.log(d_range[0]) + u_d * np.log(d_range[1] / d_range[0]))
    return list(zip(n.tolist(), d.tolist(), ss.spawn(k)))


def run_field(label: str, path: Path, args) -> list[dict]:
    """Every injection into one field: per-injection records with per-star arrays."""
    warnings.simplefilter("ignore")
    # the runs' "fills the table" warning: the bench measures that itself (FILL_SPLIT)
    logging.getLogger("vo_ocml.analysis.summary").setLevel(logging.ERROR)
    started = time.perf_counter()
    table = read_table(path)
    keep = _brighter(table, args.g_max)
    if args.own == "thin":
        own, named = _cached_own_probability(table, label, args.own_cache)
        table, own = table[keep], own[keep]
        model = FieldModel(table, own="thin", own_probability=own,
                           random_state=zlib.crc32(label.encode()) + args.seed,
                           noise_scale=args.noise_scale)
        print(f"{label}: thinned by {', '.join(named) or 'no catalogued cluster'}: "
              f"{model.n_masked} of {len(table)} rows removed", file=sys.stderr, flush=True)
    else:
        model = FieldModel(table[keep], own=args.own, noise_scale=args.noise_scale)
    structures = field_structures(model.base, args)
    records = []
    plan = design(label, args.seed, args.per_field, model.distance_range(*args.d_range), tuple(args.n_range))
    for i, (n, d, ss) in enumerate(plan):
        rng = np.random.default_rng(ss)
        inj = model.inject(rng, n, d)
        rec = {"field": label, "i": i, **inj.truth, "rows": len(inj.table)}
        rec["fill"] = _fill(inj, model)
        if inj.truth["n_true"] < MIN_TRUE:
            records.append(rec)
            continue
        t = inj.table
        truth = np.asarray(t[TRUTH_COLUMN], bool)
        exclude = np.asarray(t[KNOWN_COLUMN], bool) if KNOWN_COLUMN in t.colnames else np.zeros(len(t), bool)
        # rows without five-parameter astrometry (N_true leaves them out) are not scored
        exclude = exclude | ~np.all([np.isfinite(model.cmap.array(t, q)) for q in ASTROMETRY], axis=0)
        g = model.cmap.array(t, "phot_g_mean_mag")
        for mode in ("named", "blind"):
            t0 = time.perf_counter()
            named = {"centroid": inj.centroid} if mode == "named" else {}
            if mode == "named" and not args.named_without_position:
                named.update(position=inj.position, r50=inj.r50 * _r50_error(args, label, i))
            annotated = run(t, method=args.method, **named, **dict(args.set))
            rec[f"{mode}_time"] = time.perf_counter() - t0
            rec[f"{mode}_found"] = bool(annotated.summary.found)
            prob = np.nan_to_num(np.asarray(annotated.result.probability, float))
            s = selection_scores(prob, truth, exclude=exclude)
            rec[f"{mode}_f1"], rec[f"{mode}_completeness"], rec[f"{mode}_purity"] = s.f1, s.completeness, s.purity
            rec[f"{mode}_sum_p"] = float(prob[~exclude].sum())
            # the variance of N_true around Σ P if the probabilities were calibrated
            rec[f"{mode}_var_p"] = float((prob * (1.0 - prob))[~exclude].sum())
            rec[f"{mode}_n_selected"] = s.n_selected
            keep = (prob >= 0.01) | truth  # the stars any score below can involve
            rec[f"{mode}_stars"] = (prob[keep & ~exclude].astype(np.float32), truth[keep & ~exclude],
                                    g[keep & ~exclude].astype(np.float32))
            rec[f"{mode}_catalogued"] = _catalogued(annotated) if s.f1 < OUTCOME_F1 else None
            rec[f"{mode}_held"] = (held_by(prob[:len(model.base)], structures)
                                   if s.f1 < OUTCOME_F1 and not rec[f"{mode}_catalogued"] else None)
        rec["detected"] = _detected(s)  # s: the blind run's scores (the loop's last mode)
        if not rec["detected"] and inj.truth["n_true"] >= DETECT_MIN_TRUE:
            rec["detected_all"] = _detected_by_joint_run(t, truth, exclude, args)
        records.append(rec)
    print(f"{label}: {len(records)} injections in {time.perf_counter() - started:.0f} s",
          file=sys.stderr, flush=True)
    return records


def _brighter(table, g_max: float | None) -> np.ndarray:
    """The rows of a table cut to G < ``g_max`` (``--g-max``; rows without G are left out), as
    an archive query or a TOPCAT subset cuts it; every row without a cut."""
    if g_max is None:
        return np.ones(len(table), bool)
    return resolve_columns(table).array(table, "phot_g_mean_mag") < g_max


def field_structures(base, args) -> list[tuple[str, np.ndarray]]:
    """The clusters blind runs find in a field without any injection -- the single run's and
    every one of a ``clusters="all"`` run's: (name and significance, its members: P > 0.5 over
    the field's rows).

    Real structures of the field that no catalogue lists (or what the thinning left of a
    catalogued one, its centroid moved too far for the catalogue match): a run on an injected
    table that finds one of them found the field, not the injection (:func:`held_by`)."""
    found = []
    for clusters in (1, "all"):
        annotated = run(base, method=args.method, **{**dict(args.set), "clusters": clusters})
        if not annotated.summary.found:
            continue
        cp = annotated.result.cluster_probability
        if cp is None:  # one cluster: the single run's answer
            sig = annotated.result.details.get("detection_significance", np.nan)
            found.append((f"a cluster ({_fmt(sig, 0)}σ)",
                          np.nan_to_num(np.asarray(annotated.result.probability, float)) > 0.5))
        else:
            found += [(f"{c.name} ({_fmt(c.found.significance, 0)}σ)", np.nan_to_num(cp[:, k]) > 0.5)
                      for k, c in enumerate(annotated.clusters)]
    return found


def held_by(prob: np.ndarray, structures: list[tuple[str, np.ndarray]]) -> str | None:
    """The field structure (:func:`field_structures`) that holds at least ``HELD_FRACTION`` of
    a run's members among the field's rows (``prob``: the run's probabilities of those rows),
    or None."""
    members = prob > 0.5
    if not members.any():
        return None
    for name, held in structures:
        if (members & held).sum() >= HELD_FRACTION * members.sum():
            return name
    return None


def _fill(inj, model) -> float:
    """The injected cluster's r50 over the median distance of its table's rows from its centre
    (:data:`FILL_SPLIT`)."""
    t = inj.table
    spread = np.nanmedian(angular_distance(model.cmap.array(t, "ra"), model.cmap.array(t, "dec"),
                                           inj.truth["members_ra"], inj.truth["members_dec"]))
    return float(inj.r50 / spread) if spread > 0 else np.inf


def _detected(s) -> bool:
    """Whether a selection (:func:`selection_scores`) detects the injected cluster: it holds at
    least ``DETECT_COMPLETENESS`` of its members, at a purity of at least ``DETECT_PURITY``."""
    return bool(s.completeness >= DETECT_COMPLETENESS
                and (s.purity if s.n_selected else 0) >= DETECT_PURITY)


def _detected_by_joint_run(t, truth: np.ndarray, exclude: np.ndarray, args) -> bool:
    """Whether a blind ``clusters="all"`` run detects the injected cluster as one of the
    clusters it models: the single blind run returns the most significant cluster only, which
    may be a real one that the field holds."""
    annotated = run(t, method=args.method, **{**dict(args.set), "clusters": "all"})
    cp = annotated.result.cluster_probability
    if cp is None:  # one cluster or none: the single run's answer
        cp = np.asarray(annotated.result.probability, float)[:, None]
    return any(_detected(selection_scores(np.nan_to_num(cp[:, k]), truth, exclude=exclude))
               for k in range(cp.shape[1] - (annotated.result.cluster_probability is not None)))


def thinned_injections(label: str, path: Path, seed: int, per_field: int, own_cache: Path | None,
                       min_true: int):
    """Each injection into one field's thinned background, as :func:`run_field` makes them,
    that has at least ``min_true`` members with five-parameter astrometry: (index, distance
    in kpc, the injection, the field model, truth, usable rows); truth counts usable rows only.
    For the benches that re-run these injections another way (bench/cone_radius.py,
    bench/global_field.py)."""
    table = read_table(path)
    own, _ = _cached_own_probability(table, label, own_cache)
    model = FieldModel(table, own="thin", own_probability=own,
                       random_state=zlib.crc32(label.encode()) + seed)
    for i, (n, d, ss) in enumerate(design(label, seed, per_field,
                                          model.distance_range(*D_RANGE), N_RANGE)):
        inj = model.inject(np.random.default_rng(ss), n, d)
        usable = np.all([np.isfinite(model.cmap.array(inj.table, q)) for q in ASTROMETRY], axis=0)
        truth = np.asarray(inj.table[TRUTH_COLUMN], bool) & usable
        if truth.sum() >= min_true:
            yield i, d, inj, model, truth, usable


def _r50_error(args, label: str, i: int) -> float:
    """The factor by which injection ``i``'s named r50 is off (``--r50-scatter``: log-normal,
    reproducible, drawn apart from the injection so that the clusters stay the same)."""
    if not args.r50_scatter:
        return 1.0
    rng = np.random.default_rng([args.seed, zlib.crc32(label.encode()), i])
    return float(np.exp(args.r50_scatter * rng.standard_normal()))


def _cached_own_probability(table, label: str, cache: Path | None) -> tuple[np.ndarray, list[str]]:
    """:func:`own_probability`, read from ``cache/<label>.json`` when there (written otherwise):
    two versions of the model then get the same thinned backgrounds (the probabilities come
    from the model under test, so a changed model otherwise also changes the backgrounds)."""
    path = None if cache is None else cache / f"{label}.json"
    if path is not None and path.exists():
        saved = json.loads(path.read_text())
        return np.array(saved["probability"], float), saved["named"]
    own, named = own_probability(table)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"probability": own.tolist(), "named": named}))
    return own, named


def own_probability(table) -> tuple[np.ndarray, list[str]]:
    """Each row's probability of belonging to one of the field's catalogued clusters.

    Every catalogued cluster with stars in the field (:class:`FieldModel`'s ``known``) is run
    named with vo_ocml's default model; a row's probability is 1 − Π (1 − P_k). Clusters that
    the run cannot place (off the table, "no cluster") are left out.
    """
    stay, named = np.ones(len(table)), []
    for name, _ in FieldModel(table, own="keep").known:
        try:
            annotated = run(table, cluster=name)
        except VoOcmlError:
            continue
        if annotated.summary.found:
            stay *= 1.0 - np.nan_to_num(np.asarray(annotated.result.probability, float))
            named.append(name)
    return 1.0 - stay, named


def _catalogued(annotated) -> str | None:
    """The shipped catalogue's name for the cluster a run found, or None (none found, no match).

    The injected cluster is in no catalogue: a run that scored below ``OUTCOME_F1`` and found a
    catalogued cluster found a real one the mask left (its halo, a neighbour) -- members whose
    truth the injection does not know.
    """
    c = annotated.summary
    if not c.found:
        return None
    match = match_cluster(c.ra, c.dec, c.pmra, c.pmdec, c.parallax, c.r50,
                          (c.pmra_se, c.pmdec_se, c.parallax_se), n_members=c.n_members)
    return None if match is None else match.entry.name


def _option(text: str) -> tuple[str, str]:
    """NAME=VALUE of --set (the value is parsed by vo_ocml's options model)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def _fmt(x: float, digits: int = 2) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _pooled(records: list[dict], mode: str):
    stars = [r[f"{mode}_stars"] for r in records if f"{mode}_stars" in r]
    if not stars:
        return np.zeros(0), np.zeros(0, bool), np.zeros(0)
    return tuple(np.concatenate([s[k] for s in stars]) for k in range(3))


def _log_odds_shift(p: np.ndarray, truth: np.ndarray) -> float:
    """The shift δ of every star's log-odds that maximises the likelihood of the truth
    (calibration in the large: 0 when Σ P matches on average, < 0 when over-confident)."""
    if not truth.any() or truth.all():
        return np.nan
    z = logit(np.clip(p, LOGIT_CLIP, 1 - LOGIT_CLIP))
    def loss(d):
        return -np.mean(np.where(truth, log_expit(z + d), log_expit(-(z + d))))
    return float(minimize_scalar(loss, bounds=(-MAX_SHIFT, MAX_SHIFT), method="bounded").x)


def _fill_row(scored: list[dict]) -> str:
    """The Σ P rows split by how much of its table the cluster fills (:data:`FILL_SPLIT`):
    fraction within 0.9–1.1 (N_true ≥ 100) and the pooled Σ P / N_true of every star at
    :data:`FAINT_G`, runs that modelled the injected cluster."""
    cells = []
    for mode in ("named", "blind"):
        parts = []
        for name, inside in (("compact", True), ("filling", False)):
            part = [r for r in scored if (r.get("fill", 0.0) < FILL_SPLIT) == inside]
            rich = [r[f"{mode}_sum_p"] / r["n_true"] for r in part if r["n_true"] >= SUM_P_MIN_TRUE]
            p, t, g = _pooled([r for r in part if r[f"{mode}_f1"] >= OUTCOME_F1], mode)
            faint = (g >= FAINT_G[0]) & (g < FAINT_G[1])
            within = np.mean([0.9 <= x <= 1.1 for x in rich]) if rich else np.nan
            parts.append(f"{name} {_fmt(within)} "
                         f"(n={len(rich)}), G {FAINT_G[0]:g}–{FAINT_G[1]:g} "
                         f"{_fmt(p[faint].sum() / t[faint].sum() if t[faint].any() else np.nan)}")
        cells.append("; ".join(parts))
    return (f"| … split by the cluster's r50 against its table's (< {FILL_SPLIT:g}: compact, else "
            "filling): fraction within 0.9–1.1; Σ P / N_true of every star, faint | | "
            + " | ".join(cells) + " |")


def _in(x: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= x < bounds[1]


def report(records: list[dict], args, elapsed: float) -> str:
    """The markdown tables."""
    scored = [r for r in records if "named_f1" in r]
    lines = [f"Injection–recovery, method {args.method}, seed {args.seed}, own clusters {args.own}, "
             f"N {args.n_range[0]}–{args.n_range[1]}, d {args.d_range[0]}–{args.d_range[1]} kpc: "
             f"{len(records)} injections into {len({r['field'] for r in records})} fields, "
             f"{len(scored)} scored (N_true ≥ {MIN_TRUE}); named runs given "
             f"{'the centroid only' if args.named_without_position else 'centroid, position, r50'}"
             + (f"; injected stars scatter {args.noise_scale:g} × their stated errors"
                if args.noise_scale != 1.0 else "")
             + (f"; every table cut to G < {args.g_max:g}" if args.g_max is not None else "")
             + (f"; named r50 off by a log-normal factor of sd {args.r50_scatter:g}"
                if args.r50_scatter else "")
             + (f"; run options {dict(args.set)}" if args.set else "")
             + f"; {elapsed:.0f} s.", ""]
    summary = {}
    for mode in ("named", "blind"):
        p, t, g = _pooled(scored, mode)
        rel = reliability(p, t)
        rich = [r[f"{mode}_sum_p"] / r["n_true"] for r in scored if r["n_true"] >= SUM_P_MIN_TRUE]
        near = [r[f"{mode}_f1"] for r in scored if r["n_true"] >= 200 and r["distance_kpc"] <= 3]
        far = [r[f"{mode}_f1"] for r in scored if r["n_true"] >= 200 and r["distance_kpc"] > 3]
        faint = selection_scores(p[(g >= 19) & (g < 21)], t[(g >= 19) & (g < 21)])
        summary[mode] = (rel, rich, near, far, faint)
    det = [r["detected"] for r in scored if r["n_true"] >= DETECT_MIN_TRUE]
    det_all = [r.get("detected_all", r["detected"]) for r in scored if r["n_true"] >= DETECT_MIN_TRUE]
    lines += ["| metric | target | named | blind |", "|---|---|---|---|"]
    lines.append("| ECE over candidates (P ≥ 0.05) | ≤ 0.03 | " + " | ".join(
        f"{_fmt(summary[m][0].ece, 3)} ({summary[m][0].counts.sum()} stars)" for m in ("named", "blind")) + " |")

    def med(xs):
        return f"{_fmt(np.median(xs))} [{_fmt(np.percentile(xs, 10))}–{_fmt(np.percentile(xs, 90))}] (n={len(xs)})" if xs else "–"
    for label, keep in (("… runs that modelled the injected cluster (F1 ≥ 0.5)", True),
                        ("… runs that modelled another structure (F1 < 0.5)", False)):
        cells = []
        for m in ("named", "blind"):
            part = [r for r in scored if (r[f"{m}_f1"] >= OUTCOME_F1) == keep]
            rel = reliability(*_pooled(part, m)[:2])
            cells.append(f"{_fmt(rel.ece, 3)} ({len(part)} runs, {rel.counts.sum()} stars)")
        lines.append(f"| {label} | | " + " | ".join(cells) + " |")
    found_other, without = [], []
    for m in ("named", "blind"):
        other = [r for r in scored if r.get(f"{m}_catalogued")]
        rest = [r for r in scored if not r.get(f"{m}_catalogued")]
        found_other.append(f"{_fmt(reliability(*_pooled(other, m)[:2]).ece, 3)} ({len(other)} runs: "
                           f"{', '.join(sorted({r[f'{m}_catalogued'] for r in other})) or '–'})")
        rel = reliability(*_pooled(rest, m)[:2])
        without.append(f"{_fmt(rel.ece, 3)} ({len(rest)} runs, {rel.counts.sum()} stars)")
    lines.append("| … runs that found a catalogued cluster of the field instead (its members' truth "
                 "unknown) | | " + " | ".join(found_other) + " |")
    lines.append("| … runs without those | ≤ 0.03 | " + " | ".join(without) + " |")
    held, neither = [], []
    for m in ("named", "blind"):
        found = [r for r in scored if r.get(f"{m}_held")]
        rest = [r for r in scored if not r.get(f"{m}_catalogued") and not r.get(f"{m}_held")]
        held.append(f"{_fmt(reliability(*_pooled(found, m)[:2]).ece, 3)} ({len(found)} runs: "
                    f"{', '.join(sorted({r['field'] + ' ' + r[f'{m}_held'] for r in found})) or '–'})")
        rel = reliability(*_pooled(rest, m)[:2])
        neither.append(f"{_fmt(rel.ece, 3)} ({len(rest)} runs, {rel.counts.sum()} stars)")
    lines.append("| … runs that found another structure the field holds without the injection (a blind "
                 "run on the field alone finds it; truth unknown) | | "
                 + " | ".join(held) + " |")
    lines.append("| … runs without either | ≤ 0.03 | " + " | ".join(neither) + " |")
    lines.append("| Σ P / N_true, N_true ≥ 100: median [10–90 %] | 0.9–1.1 | " + " | ".join(med(summary[m][1]) for m in ("named", "blind")) + " |")
    lines.append("| … fraction of those clusters within 0.9–1.1 | 1 | " + " | ".join(
        _fmt(np.mean([0.9 <= x <= 1.1 for x in summary[m][1]]) if summary[m][1] else np.nan) for m in ("named", "blind")) + " |")
    lines.append(_fill_row(scored))
    lines.append(f"| … fraction with \\|N_true − Σ P\\| ≤ {Z_LIMIT} √(Σ P (1 − P)) (calibrated: 0.95) | | " + " | ".join(
        _fmt(np.mean(z)) if (z := [abs(r["n_true"] - r[f"{m}_sum_p"]) <= Z_LIMIT * np.sqrt(r[f"{m}_var_p"])
                                   for r in scored if r["n_true"] >= SUM_P_MIN_TRUE and f"{m}_var_p" in r]) else "–"
        for m in ("named", "blind")) + " |")
    lines.append("| F1, N_true ≥ 200, d ≤ 3 kpc: median [10–90 %] | ≥ 0.9 | " + " | ".join(med(summary[m][2]) for m in ("named", "blind")) + " |")
    lines.append("| F1, N_true ≥ 200, 3–8 kpc | ≥ 0.75 | " + " | ".join(med(summary[m][3]) for m in ("named", "blind")) + " |")
    lines.append("| purity of members at G 19–21 (pooled) | ≥ 0.8 | " + " | ".join(
        f"{_fmt(summary[m][4].purity)} ({summary[m][4].n_selected})" for m in ("named", "blind")) + " |")
    lines.append(f"| blind detection, N_true ≥ 100 | ≥ 95 % | | {sum(det)}/{len(det)} = {_fmt(100 * np.mean(det) if det else np.nan, 0)} % |")
    lines.append(f"| … counting a blind `clusters=\"all\"` run's other clusters | | | {sum(det_all)}/{len(det_all)} = "
                 f"{_fmt(100 * np.mean(det_all) if det_all else np.nan, 0)} % |")
    for mode in ("named", "blind"):
        lost = [r for r in scored if r["n_true"] >= DETECT_MIN_TRUE and not r.get(f"{mode}_found", True)]
        if lost:
            lines.append(f"| {mode}: 'no cluster' declared, N_true ≥ 100 | 0 | "
                         f"{len(lost)}/{len(det)} | |" if mode == "named" else
                         f"| {mode}: 'no cluster' declared, N_true ≥ 100 | 0 | | {len(lost)}/{len(det)} |")
    lines += ["", "Blind detection (detected / scored) by N_true (rows) and distance (columns):", "",
              "| N_true | " + " | ".join(f"{a}–{b} kpc" for a, b in D_CLASSES) + " |",
              "|---|" + "---|" * len(D_CLASSES)]
    for nc in N_CLASSES:
        cells = []
        for dc in D_CLASSES:
            sel = [r["detected"] for r in scored if _in(r["n_true"], nc) and _in(r["distance_kpc"], dc)]
            cells.append(f"{sum(sel)}/{len(sel)}" if sel else "–")
        lines.append(f"| {nc[0]}–{nc[1] if nc[1] < 100000 else '…'} | " + " | ".join(cells) + " |")
    lines += ["", "Median F1 named (blind) by N_true and distance:", "",
              "| N_true | " + " | ".join(f"{a}–{b} kpc" for a, b in D_CLASSES) + " |",
              "|---|" + "---|" * len(D_CLASSES)]
    for nc in N_CLASSES:
        cells = []
        for dc in D_CLASSES:
            sel = [r for r in scored if _in(r["n_true"], nc) and _in(r["distance_kpc"], dc)]
            cells.append(f"{_fmt(np.median([r['named_f1'] for r in sel]))} ({_fmt(np.median([r['blind_f1'] for r in sel]))}) n={len(sel)}" if sel else "–")
        lines.append(f"| {nc[0]}–{nc[1] if nc[1] < 100000 else '…'} | " + " | ".join(cells) + " |")
    lines += ["", "Against G (pooled over injections; members P > 0.5):", "",
              "| G | N true | named compl. | named purity | named F1 | blind compl. | blind purity | blind F1 |",
              "|---|---|---|---|---|---|---|---|"]
    for lo, hi in G_BINS:
        cells = []
        n_true = 0
        for mode in ("named", "blind"):
            p, t, g = _pooled(scored, mode)
            sel = (g >= lo) & (g < hi)
            s = selection_scores(p[sel], t[sel])
            n_true = s.n_true
            cells += [_fmt(s.completeness), _fmt(s.purity), _fmt(s.f1)]
        lines.append(f"| {'< ' + str(hi) if lo == 0 else f'{lo}–{hi}'} | {n_true} | " + " | ".join(cells) + " |")
    lines += ["", f"Calibration against G, runs that modelled the injected cluster (F1 ≥ {OUTCOME_F1}); "
              "candidates (P ≥ 0.05): ECE, Σ P / N_true and the log-odds shift δ that would "
              "calibrate them (logit P + δ; < 0: over-confident); then Σ P / N_true over every "
              "star of the range (field stars with P < 0.01 counted as 0), where members the model gave "
              "P < 0.05 count:", "",
              "| G | named candidates | named ECE | named Σ P / N_true | named δ | named Σ P / N_true, every star "
              "| blind candidates | blind ECE | blind Σ P / N_true | blind δ | blind Σ P / N_true, every star |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for lo, hi in CALIBRATION_G_BINS:
        cells = []
        for mode in ("named", "blind"):
            p, t, g = _pooled([r for r in scored if r[f"{mode}_f1"] >= OUTCOME_F1], mode)
            every = (g >= lo) & (g < hi)
            sel = every & (p >= P_MIN)
            cells += [str(int(sel.sum())), _fmt(reliability(p[sel], t[sel]).ece, 3),
                      _fmt(p[sel].sum() / t[sel].sum() if t[sel].any() else np.nan),
                      _fmt(_log_odds_shift(p[sel], t[sel])),
                      _fmt(p[every].sum() / t[every].sum() if t[every].any() else np.nan)]
        lines.append(f"| {'< ' + str(hi) if lo == 0 else f'≥ {lo}' if hi == 99 else f'{lo}–{hi}'} | " + " | ".join(cells) + " |")
    lines += ["", "Reliability (named): P bin, stars, mean P, fraction true:", "",
              "| P | " + " | ".join(f"{a:.2f}–{b:.2f}" for a, b in zip(summary['named'][0].edges[:-1], summary['named'][0].edges[1:])) + " |",
              "|---|" + "---|" * (len(summary['named'][0].edges) - 1)]
    for mode in ("named", "blind"):
        rel = summary[mode][0]
        lines.append(f"| {mode} stars | " + " | ".join(str(c) for c in rel.counts) + " |")
        lines.append(f"| {mode} mean P | " + " | ".join(_fmt(x) for x in rel.mean_p) + " |")
        lines.append(f"| {mode} true fraction | " + " | ".join(_fmt(x) for x in rel.fraction) + " |")
    lines += ["", "Per field (scored injections; F1 median; detection of those with N_true ≥ 100):", "",
              "| field | rows | injected | scored | named F1 | blind F1 | detected (N_true ≥ 100) | s per run |",
              "|---|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["field"] for r in records):
        mine = [r for r in records if r["field"] == name]
        sc = [r for r in mine if "named_f1" in r]
        det_f = [r["detected"] for r in sc if r["n_true"] >= DETECT_MIN_TRUE]
        t_f = [r[f"{m}_time"] for r in sc for m in ("named", "blind")]
        lines.append(f"| {name} | {mine[0]['rows'] - mine[0]['n_rows']} | {len(mine)} | {len(sc)} | "
                     f"{_fmt(np.median([r['named_f1'] for r in sc]) if sc else np.nan)} | "
                     f"{_fmt(np.median([r['blind_f1'] for r in sc]) if sc else np.nan)} | "
                     f"{sum(det_f)}/{len(det_f)} | {_fmt(np.median(t_f) if t_f else np.nan, 1)} |")
    skipped = [r for r in records if "named_f1" not in r]
    times = [r[f"{m}_time"] for r in scored for m in ("named", "blind")]
    lines += ["", f"Not run (N_true < {MIN_TRUE}): {len(skipped)} injections "
              f"(median distance {_fmt(np.median([r['distance_kpc'] for r in skipped]) if skipped else np.nan)} kpc). "
              f"vo_ocml.run: median {_fmt(np.median(times) if times else np.nan)} s per run."]
    return "\n".join(lines)


def reliability_png(records: list[dict], path: Path, title: str) -> None:
    """Reliability diagram (named and blind) with the ECE in the legend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect")
    for mode, colour in (("named", "C0"), ("blind", "C1")):
        p, t, _ = _pooled(records, mode)
        rel = reliability(p, t)
        ok = rel.counts > 0
        ax.plot(rel.mean_p[ok], rel.fraction[ok], "o-", color=colour,
                label=f"{mode}: ECE {rel.ece:.3f} ({rel.counts.sum()} stars)")
    ax.set(xlabel="membership probability (bin mean)", ylabel="fraction of true members",
           xlim=(0, 1), ylim=(0, 1), title=title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def over_fields(field_run, fields: dict[str, Path], args) -> list[dict]:
    """``field_run(label, path, args)`` for every field, ``args.jobs`` at a time (joblib), the
    records of all fields in one list (also bench/peer_hdbscan.py)."""
    if args.jobs > 1:
        from joblib import Parallel, delayed
        chunks = Parallel(n_jobs=args.jobs)(delayed(field_run)(k, v, args) for k, v in fields.items())
    else:
        chunks = [field_run(k, v, args) for k, v in fields.items()]
    return [r for chunk in chunks for r in chunk]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{len(QUICK_FIELDS)} fields × {QUICK_PER_FIELD} injections")
    parser.add_argument("--method", default="mstgmm", help="membership method (vo_ocml.pipeline.METHODS)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fields", help="comma-separated field names (substrings match)")
    parser.add_argument("--per-field", type=int, help=f"injections per field (default {PER_FIELD}; quick {QUICK_PER_FIELD})")
    parser.add_argument("--n-range", type=int, nargs=2, default=N_RANGE, metavar=("LO", "HI"),
                        help=f"members simulated, log-uniform (default {N_RANGE[0]} {N_RANGE[1]})")
    parser.add_argument("--d-range", type=float, nargs=2, default=D_RANGE, metavar=("LO", "HI"),
                        help=f"distance in kpc, log-uniform (default {D_RANGE[0]} {D_RANGE[1]})")
    parser.add_argument("--noise-scale", type=float, default=1.0, metavar="K",
                        help="injected stars scatter by K times their stated errors (the table "
                             "keeps the stated ones): a sky whose errors are K times Gaia's; "
                             "default 1")
    parser.add_argument("--g-max", type=float, metavar="G",
                        help="cut every field table to G < G before injecting (rows without G "
                             "left out; the injections follow the cut table's G range): a "
                             "table cut as a user's query cuts it")
    parser.add_argument("--own", choices=["thin", "mask", "keep"], default="thin",
                        help="the field's catalogued clusters: each row removed with its "
                             "membership probability of them (thin), every row near them in "
                             "motion removed (mask), or kept and left out of the scores")
    parser.add_argument("--own-cache", type=Path, metavar="DIR",
                        help="read the thinning's own-cluster probabilities from DIR (written "
                             "there when missing): compare two model versions on the same "
                             "backgrounds")
    parser.add_argument("--set", action="append", default=[], type=_option, metavar="NAME=VALUE",
                        help="any other option of vo_ocml.run, e.g. --set clusters=all (repeatable)")
    parser.add_argument("--named-without-position", action="store_true",
                        help="named runs get the centroid only, not the cluster's position, r50")
    parser.add_argument("--r50-scatter", type=float, default=0.0, metavar="SD",
                        help="named runs get their cluster's r50 times a log-normal factor of this "
                             "standard deviation, as a catalogue's would be off (default 0: exact; "
                             "two catalogues' r50 differ by 0.485 in natural log, "
                             "tools/r50_agreement.py, so one catalogue's by about 0.34)")
    parser.add_argument("--jobs", type=int, default=1, help="fields run in parallel (joblib)")
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args(argv)
    fields = discover_fields(args.shared)
    if args.fields:
        wanted = args.fields.split(",")
        fields = {k: v for k, v in fields.items() if any(w in k for w in wanted)}
    elif args.quick:
        fields = {k: v for k, v in fields.items() if k in QUICK_FIELDS}
    if not fields:
        parser.error("no field matches --fields")
    args.per_field = args.per_field or (QUICK_PER_FIELD if args.quick else PER_FIELD)
    t0 = time.perf_counter()
    records = over_fields(run_field, fields, args)
    elapsed = time.perf_counter() - t0
    text = report(records, args, elapsed)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"injection_{args.method}{'_quick' if args.quick else ''}"
    (args.out / f"{stem}.md").write_text(text + "\n")
    reliability_png([r for r in records if "named_f1" in r], args.out / f"{stem}_reliability.png",
                    f"{args.method}: injected clusters, P ≥ 0.05")
    rows = [{k: v for k, v in r.items() if not k.endswith("_stars")} for r in records]
    (args.out / f"{stem}.json").write_text(json.dumps(rows, indent=1, default=float))
    print(f"\nwrote {args.out / stem}.md, _reliability.png, .json (load: {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
