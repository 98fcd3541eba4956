"""Accuracy of filter → MST → GMM against the reference memberships in the shared data.

Scores completeness, purity (fraction of our members in the reference) and F1 at P > 0.5 (or
``--threshold``) with
default settings and no cluster-specific tuning, twice per cone: centroid found from the data,
and centroid from the cluster's name (shipped catalogue). References:

- M67 (NGC 2682) and the Pleiades: Gaia Collaboration, Babusiaux et al. 2018 (A&A 616, A10)
  members (DR2 source_id; matched by id, then by position);
- six distant clusters (EDR3 boxes): column ``ref_member_perren2022`` (Perren et al. 2022);
- oc345p67: its author's MST selection (no catalogue name, data only).

Usage::

    python bench/accuracy.py [--shared ../shared/data] [--method mstgmm|dec]
                             [--mixture radial|gmm] [--threshold 0.5] [--clusters all]
                             [--only "Berkeley 25" M67] [--brighter-than 19.5]
                             [--set photometric=false]

Prints one row per cone and mode, then the medians the issue aims at.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from astropy.table import Table

from vo_ocml.analysis.validate import validate
from vo_ocml.pipeline import run

DISTANT = {"ber25": "Berkeley 25", "ber26": "Berkeley 26", "ber29": "Berkeley 29",
           "ber73": "Berkeley 73", "ber75": "Berkeley 75", "saurer1": "Saurer 1"}


def cases(shared: Path):
    """Yield (label, table, reference, cluster name or None)."""
    refs = Table.read(shared / "references" / "babusiaux2018_members_subset.csv", format="ascii.csv")
    refs.rename_column("source_id_dr2", "source_id")
    for label, file, key, name in (("M67", "m67_dr3_pmbox.csv", "NGC2682", "NGC 2682"),
                                   ("Pleiades", "pleiades_dr3_pmbox.csv", "Pleiades", "Melotte 22")):
        table = Table.read(shared / "gaia" / file, format="ascii.csv")
        yield label, table, refs[refs["cluster"] == key], name
    for key, name in DISTANT.items():
        table = Table.read(shared / "gaia" / f"distant_{key}_edr3_box.csv", format="ascii.csv")
        flag = table["ref_member_perren2022"]
        table["ref_member_perren2022"] = np.asarray([str(v) == "True" for v in flag]) \
            if flag.dtype.kind != "b" else flag
        yield name, table, "ref_member_perren2022", name
    table = Table.read(shared / "gaia" / "oc345p67_edr3_cone40.csv", format="ascii.csv")
    ref = Table.read(shared / "gaia" / "oc345p67_edr3_mst_members_reference.csv", format="ascii.csv")
    yield "oc345p67", table, ref, None


def _option(text: str) -> tuple[str, str]:
    """NAME=VALUE of --set (the value is parsed by vo_ocml's options model)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--method", default="mstgmm", choices=["mstgmm", "dec"])
    parser.add_argument("--mixture", choices=["radial", "gmm"],
                        help="mstgmm's mixture step (default: the method's default, radial)")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="membership threshold for the scores")
    parser.add_argument("--clusters", default=None,
                        help="mstgmm: clusters modelled together (1, N or all; scored: the "
                             "named or most significant one, ocml_prob)")
    parser.add_argument("--brighter-than", type=float, metavar="G",
                        help="score only the stars brighter than this G (the fit still uses "
                             "every star): the references' depth; boxes with a reference "
                             "column only (the six distant boxes)")
    parser.add_argument("--set", action="append", default=[], type=_option, metavar="NAME=VALUE",
                        help="any other option of vo_ocml.run, e.g. --set photometric=false "
                             "(repeatable)")
    parser.add_argument("--only", nargs="+", metavar="CONE",
                        help="run only these cones (labels as printed, e.g. 'Berkeley 25' M67)")
    args = parser.parse_args()
    print(f"{'cone':<12} {'centroid':<9} {'N_ref':>5} {'N_ours':>6} {'compl':>6} {'purity':>6} "
          f"{'F1':>5} {'pmra':>7} {'pmdec':>7} {'plx':>6} {'time':>5}")
    scores: dict[tuple[str, str], float] = {}
    for label, table, reference, name in cases(args.shared):
        if args.only and label not in args.only:
            continue
        if args.brighter_than is not None and not isinstance(reference, str):
            continue
        for mode in ("data", "name"):
            if mode == "name" and name is None:
                continue
            t0 = time.perf_counter()
            extra = dict(args.set)
            if args.mixture:
                extra["mixture"] = args.mixture
            if args.clusters:
                extra["clusters"] = args.clusters
            annotated = run(table, method=args.method, cluster=name if mode == "name" else None,
                            threshold=args.threshold, **extra)
            elapsed = time.perf_counter() - t0
            scored = annotated
            if args.brighter_than is not None:
                g = np.asarray(annotated.table["phot_g_mean_mag"], float)
                scored = annotated.table[g < args.brighter_than]
            v = validate(scored, reference, threshold=args.threshold)
            scores[(label, mode)] = v.f1
            s = annotated.summary
            print(f"{label:<12} {mode:<9} {v.n_matched:>5} {v.n_predicted:>6} "
                  f"{v.completeness:>6.3f} {v.precision:>6.3f} {v.f1:>5.3f} {s.pmra:>7.3f} "
                  f"{s.pmdec:>7.3f} {s.parallax:>6.3f} {elapsed:>5.1f}")
    if args.only or args.brighter_than is not None:
        if args.brighter_than is not None:
            for mode in ("data", "name"):
                distant = [scores[(n, mode)] for n in DISTANT.values() if (n, mode) in scores]
                print(f"[{mode}] G < {args.brighter_than}: distant median {np.median(distant):.3f}")
        return
    for mode in ("data", "name"):
        distant = [scores[(n, mode)] for n in DISTANT.values() if (n, mode) in scores]
        print(f"[{mode}] F1 M67 {scores[('M67', mode)]:.3f}, Pleiades {scores[('Pleiades', mode)]:.3f}"
              f" (aim ≥ 0.92); distant median {np.median(distant):.3f} (aim ≥ 0.75)"
              + (f"; oc345p67 {scores[('oc345p67', 'data')]:.3f}" if mode == "data" else ""))


if __name__ == "__main__":
    main()
