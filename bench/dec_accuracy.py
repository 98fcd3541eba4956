"""DEC accuracy on the shared real cones, beside filter → MST → GMM.

For every cone with a reference membership (shared/data/README.md) this prints, at P > 0.5,
completeness (fraction of reference members found), purity (fraction of found members in the
reference) and F1 for DEC with default settings (given the table's G, BP−RP and error
correlations, as ``vo_ocml.run`` gives them) and for ``vo_ocml.pipeline.run(table,
method="mstgmm")``; for M67 and the Pleiades it prints the DEC members' mean pm and parallax
beside the SIMBAD row of shared/SCIENCE.md §2; with ``--seeds`` it prints the Jaccard overlap
of the member sets between random_state 0 and 1 and between the original and a shuffled row
order, also on NGC 7789 and NGC 2477 (no reference there).

Run: ``python bench/dec_accuracy.py [--data DIR] [--seeds] [--only NAME ...] [--dec-param k=v ...]``
"""

from __future__ import annotations

import argparse
import ast
import time
from pathlib import Path

import numpy as np
from astropy.table import Table

from vo_ocml.io.columns import CORRELATIONS
from vo_ocml.membership.base import FEATURES
from vo_ocml.membership.dec import DEC
from vo_ocml.membership.gaia_precision import nominal_errors

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared beside the checkout

#: SIMBAD rows of SCIENCE.md §2 (pmra, pmdec in mas/yr; parallax in mas)
SIMBAD = {"pleiades": (19.997, -45.548, 7.364), "m67": (-10.974, -2.940, 1.133)}


def load(path: Path) -> Table:
    """Read one shared CSV cone."""
    return Table.read(path, format="ascii.csv")


def features(table: Table) -> np.ndarray:
    """The (n, 5) FEATURES array, masked values as NaN."""
    return np.column_stack([np.ma.filled(np.ma.asarray(table[c], dtype=float), np.nan) for c in FEATURES])


def errors(table: Table) -> np.ndarray | None:
    """The (n, 3) pmra, pmdec, parallax errors: the table's, else nominal ones from G (as
    ``vo_ocml.run`` does), else None."""
    names = ("pmra_error", "pmdec_error", "parallax_error")
    if not all(n in table.colnames for n in names):
        if "phot_g_mean_mag" not in table.colnames:
            return None
        return nominal_errors(np.ma.filled(np.ma.asarray(table["phot_g_mean_mag"], dtype=float), np.nan))
    return np.column_stack([np.ma.filled(np.ma.asarray(table[c], dtype=float), np.nan) for c in names])


def star_columns(table: Table) -> dict[str, np.ndarray]:
    """G, BP−RP and the error correlations, as ``vo_ocml.run`` passes them to the estimator
    (the correlations only with the table's own errors)."""
    def column(name: str) -> np.ndarray:
        return np.ma.filled(np.ma.asarray(table[name], dtype=float), np.nan)
    out = {key: column(name) for key, name in (("magnitude", "phot_g_mean_mag"),
                                               ("colour", "bp_rp")) if name in table.colnames}
    if all(n in table.colnames for n in ("pmra_error", *CORRELATIONS)):
        out["correlations"] = np.column_stack([column(n) for n in CORRELATIONS])
    return out


def cones(data: Path) -> list[tuple[str, str, np.ndarray | None]]:
    """(name, file, reference source_id array or None) for the shared cones DEC is scored on."""
    babusiaux = load(data / "references" / "babusiaux2018_members_subset.csv")

    def ref(cluster: str) -> np.ndarray:
        return np.asarray(babusiaux["source_id_dr2"][babusiaux["cluster"] == cluster], dtype=np.int64)

    out = [
        ("m67", "m67_dr3_pmbox.csv", ref("NGC2682")),
        ("pleiades", "pleiades_dr3_pmbox.csv", ref("Pleiades")),
        ("oc345p67", "oc345p67_edr3_cone40.csv",
         np.asarray(load(data / "gaia" / "oc345p67_edr3_mst_members_reference.csv")["source_id"], dtype=np.int64)),
    ]
    out += [("ngc7789", "ngc7789_cone.csv", None), ("ngc2477", "ngc2477_cone.csv", None)]
    for path in sorted((data / "gaia").glob("distant_*_edr3_box.csv")):
        t = load(path)
        flag = np.char.lower(np.asarray(t["ref_member_perren2022"], dtype=str)) == "true"
        out.append((path.stem.split("_")[1], path.name, np.asarray(t["source_id"], dtype=np.int64)[flag]))
    return out


def score(source_id: np.ndarray, prob: np.ndarray, reference: np.ndarray) -> tuple[float, float, float, int]:
    """Completeness, purity, F1 of the P > 0.5 members against the reference present in the table."""
    found = np.nan_to_num(prob, nan=0.0) > 0.5
    is_ref = np.isin(source_id, reference)
    tp = np.count_nonzero(found & is_ref)
    completeness = tp / max(np.count_nonzero(is_ref), 1)
    purity = tp / max(np.count_nonzero(found), 1)
    f1 = 0.0 if tp == 0 else 2 * completeness * purity / (completeness + purity)
    return completeness, purity, f1, int(found.sum())


def mstgmm_probability(table: Table) -> np.ndarray | None:
    """The filter → MST → GMM probabilities through the pipeline, or None when unavailable."""
    try:
        from vo_ocml.pipeline import run
    except ImportError as exc:
        print(f"  (mstgmm unavailable: {exc})")
        return None
    try:
        return np.asarray(run(table, method="mstgmm").result.probability, dtype=float)
    except Exception as exc:  # noqa: BLE001 - a bench reports any failure of the other method and goes on
        print(f"  (mstgmm failed: {type(exc).__name__}: {exc})")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--seeds", action="store_true", help="also measure seed / row-order Jaccard overlaps")
    parser.add_argument("--only", nargs="*", default=None, help="cone names to run (default: all)")
    parser.add_argument("--dec-param", nargs="*", default=[], help="DEC parameters as name=python-literal")
    parser.add_argument("--no-mstgmm", action="store_true", help="skip the filter → MST → GMM column")
    args = parser.parse_args()
    params = {k: ast.literal_eval(v) for k, v in (p.split("=", 1) for p in args.dec_param)}

    header = f"{'cone':10s} {'N':>6s} {'ref':>5s} | {'DEC C':>6s} {'P':>6s} {'F1':>6s} {'N>0.5':>6s} {'s':>5s}"
    header += f" | {'MSTGMM C':>8s} {'P':>6s} {'F1':>6s} {'N>0.5':>6s}"
    print(header)
    extra = []
    f1s: dict[str, float] = {}
    f1s_other: list[float] = []
    for name, fname, reference in cones(args.data):
        if (args.only and name not in args.only) or (reference is None and not args.seeds):
            continue
        table = load(args.data / "gaia" / fname)
        X = features(table)
        sid = np.asarray(table["source_id"], dtype=np.int64)
        t0 = time.perf_counter()
        E, stars = errors(table), star_columns(table)
        dec = DEC(**params).fit(X, errors=E, **stars)
        seconds = time.perf_counter() - t0
        if reference is None:  # no reference: only the seed / row-order overlaps
            nf = int(dec.result_.members(0.5).sum())
            line = f"{name:10s} {len(X):6d} {'-':>5s} | {'-':>6s} {'-':>6s} {'-':>6s} {nf:6d} {seconds:5.1f}"
            other = None
        else:
            c, p, f, nf = score(sid, dec.result_.probability, reference)
            f1s[name] = f
            n_ref = int(np.isin(sid, reference).sum())
            line = f"{name:10s} {len(X):6d} {n_ref:5d} | {c:6.3f} {p:6.3f} {f:6.3f} {nf:6d} {seconds:5.1f}"
            other = None if args.no_mstgmm else mstgmm_probability(table)
        if other is not None:
            c2, p2, f2, n2 = score(sid, other, reference)
            if name.startswith(("ber", "saurer")):
                f1s_other.append(f2)
            line += f" | {c2:8.3f} {p2:6.3f} {f2:6.3f} {n2:6d}"
        else:
            line += f" | {'n/a':>8s}"
        print(line, flush=True)
        members = dec.result_.members(0.5)
        if name in SIMBAD:
            V = X[members][:, 2:]
            extra.append(
                f"{name:10s} DEC mean pmra {V[:, 0].mean():8.3f} ± {V[:, 0].std():.2f}  pmdec "
                f"{V[:, 1].mean():8.3f} ± {V[:, 1].std():.2f}  parallax {V[:, 2].mean():6.3f}  N {len(V)}"
                f"   SIMBAD {SIMBAD[name][0]:8.3f} {SIMBAD[name][1]:8.3f} {SIMBAD[name][2]:6.3f}"
            )
        if args.seeds:
            other_seed = DEC(**(params | {"random_state": 1})).fit(X, errors=E, **stars).result_.members(0.5)
            order = np.random.default_rng(12345).permutation(len(X))
            shuffled = np.empty(len(X), dtype=bool)
            shuffled[order] = DEC(**params).fit(
                X[order], errors=None if E is None else E[order],
                **{k: v[order] for k, v in stars.items()}).result_.members(0.5)
            extra.append(
                f"{name:10s} Jaccard seed 0 vs 1: {jaccard(members, other_seed):.3f}   "
                f"original vs shuffled rows: {jaccard(members, shuffled):.3f}   "
                f"per-seed agreement {dec.result_.details['seed_agreement_jaccard']}"
            )
    print()
    print("\n".join(extra))
    distant = [f for name, f in f1s.items() if name.startswith(("ber", "saurer"))]
    if distant:
        print(f"distant boxes: median F1 DEC {np.median(distant):.3f} over {len(distant)}"
              + (f", MST+GMM {np.median(f1s_other):.3f}" if f1s_other else ""))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard overlap of two member masks."""
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


if __name__ == "__main__":
    main()
