"""The DEC thesis side by side with DEC as built: Melotte 22, NGC 2682 and Melotte 25 (Hyades).

For each cluster this prints the thesis's published rows (shared SCIENCE.md §2: SIMBAD,
Clusterix 2.0 + TOPCAT where published, the thesis's filtered DEC) and, measured here, DEC with
the thesis's method (``features="thesis"``, 0.10–0.90 quantile filter: the thesis's "DEC
(filtered)") and with the new defaults (``features="sky"``): members' mean pmra ± standard
deviation, pmdec ± sd, mean parallax, N (P > 0.5), and the agreement with the thesis's own
Clusterix + TOPCAT member list (shared data/references, DR2 source_id matched to DR3 ids;
completeness, purity, F1 against it).

Data: Melotte 22 and NGC 2682 are the shared Gaia DR3 proper-motion boxes (2° cones pre-cut in
proper motion: fewer field stars than the thesis's cones). Melotte 25 has no real cone here: a
434,000-row field is simulated (:func:`vo_ocml.simulate.simulate_cone`, 10° radius around the
Hyades, 0.2 % members at the SIMBAD centroid, Plummer radius 3°, intrinsic spreads 2 mas/yr and
1 mas, Gaia EDR3 errors per G), scored against its truth, blind and named (the catalogue's
centroid), through ``vo_ocml.pipeline.run`` end to end, timed.

Run: ``nice -n 10 python bench/dec_thesis.py [--data DIR] [--only m22 m67 m25] [--rows 434000] [--configs sky]``
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from astropy.table import Table

from vo_ocml.membership.base import FEATURES
from vo_ocml.membership.dec import DEC

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared beside the checkout

#: the thesis's rows, SCIENCE.md §2: (source, pmra, sd, pmdec, sd, parallax, N); None: not published
THESIS = {
    "m22": [("SIMBAD", 19.997, None, -45.548, None, 7.364, 1326),
            ("Clusterix+TOPCAT", 19.98, 1.25, -45.47, 1.48, 7.33, 634),
            ("thesis DEC (filtered)", 19.50, 0.41, -44.23, 0.39, 7.42, 438)],
    "m67": [("SIMBAD", -10.974, None, -2.940, None, 1.133, 1194),
            ("thesis DEC (filtered)", -9.619, 0.13, -3.317, 0.13, 1.140, 990)],
    "m25": [("SIMBAD", 104.92, None, -28.00, None, 21.052, None),
            ("thesis DEC (filtered)", 105.96, 3.5, -30.00, 2.4, 21.74, 175)],
}
#: real tables: name → (file, thesis reference list, catalogue name)
REAL = {"m22": ("pleiades_dr3_pmbox.csv", "thesis_clusterix_topcat_melotte22_dr2ids.csv", "Melotte 22"),
        "m67": ("m67_dr3_pmbox.csv", "thesis_clusterix_topcat_ngc2682_dr2ids.csv", "NGC 2682")}
#: DEC configurations compared
CONFIGS = {"DEC thesis features, filtered": {"features": "thesis", "quantile_filter": True},
           "DEC new defaults (sky)": {}}
#: the simulated Hyades (SIMBAD centroid; sizes chosen as stated in the module docstring)
HYADES = {"ra": 66.75, "dec": 15.87, "pmra": 104.92, "pmdec": -28.00, "parallax": 21.052}
HYADES_FRACTION, HYADES_PLUMMER_DEG, HYADES_SD_PM, HYADES_SD_PLX, CONE_DEG = 0.002, 3.0, 2.0, 1.0, 10.0


def column(table: Table, name: str) -> np.ndarray:
    """A column as float with masked values as NaN."""
    return np.ma.filled(np.ma.asarray(table[name], dtype=float), np.nan)


def row(label: str, X: np.ndarray, members: np.ndarray, seconds: float | None = None) -> str:
    """One table row: means ± sd of the members' pm, mean parallax, N."""
    V = X[members][:, 2:]
    if len(V) == 0:
        return f"| {label} | – | – | – | 0 |" + ("" if seconds is None else f" {seconds:.1f} s |")
    text = (f"| {label} | {V[:, 0].mean():.3f} ± {V[:, 0].std():.2f} | {V[:, 1].mean():.3f} ± "
            f"{V[:, 1].std():.2f} | {V[:, 2].mean():.3f} | {len(V)} |")
    return text + ("" if seconds is None else f" {seconds:.1f} s |")


def thesis_rows(name: str) -> list[str]:
    """The published rows."""
    out = []
    for source, pmra, s1, pmdec, s2, plx, n in THESIS[name]:
        sd = (lambda s: "" if s is None else f" ± {s}")
        out.append(f"| {source} (published) | {pmra}{sd(s1)} | {pmdec}{sd(s2)} | {plx} | {n or '–'} |")
    return out


def agreement(found: np.ndarray, truth: np.ndarray) -> str:
    """Completeness, purity, F1 of ``found`` against ``truth``."""
    tp = np.count_nonzero(found & truth)
    c, p = tp / max(truth.sum(), 1), tp / max(found.sum(), 1)
    f1 = 0.0 if tp == 0 else 2 * c * p / (c + p)
    return f"C {c:.3f} P {p:.3f} F1 {f1:.3f}"


def real(name: str, data: Path) -> None:
    """A shared DR3 box: thesis rows, then DEC's configurations against the thesis's list."""
    fname, ref_name, _ = REAL[name]
    table = Table.read(data / "gaia" / fname, format="ascii.csv")
    X = np.column_stack([column(table, c) for c in FEATURES])
    E = np.column_stack([column(table, c) for c in ("pmra_error", "pmdec_error", "parallax_error")])
    ref = np.asarray(Table.read(data / "references" / ref_name, format="ascii.csv")["source_id"], dtype=np.int64)
    in_ref = np.isin(np.asarray(table["source_id"], dtype=np.int64), ref)
    print(f"\n### {REAL[name][2]} ({len(X):,} rows; {in_ref.sum()} of the thesis's {len(ref)} Clusterix+TOPCAT "
          "members are in the table)\n")
    print("| source | pmra | pmdec | parallax | N | time |\n|---|---|---|---|---|---|")
    for line in thesis_rows(name):
        print(line + " |")
    notes = []
    for label, params in CONFIGS.items():
        t0 = time.perf_counter()
        members = DEC(**params).fit(X, errors=E).result_.members(0.5)
        seconds = time.perf_counter() - t0
        print(row(label, X, members, seconds), flush=True)
        notes.append(f"{label}: against the thesis's Clusterix+TOPCAT list {agreement(members, in_ref)}")
    print("\n" + "\n".join(notes))


def hyades_table(rows: int, seed: int) -> tuple[Table, np.ndarray]:
    """The simulated Melotte 25 field (module docstring) and its truth mask."""
    from vo_ocml.simulate import SimCluster, simulate_cone

    n_members = int(round(HYADES_FRACTION * rows))
    cluster = SimCluster(n_members, HYADES["pmra"], HYADES["pmdec"], HYADES["parallax"], sd_pm=HYADES_SD_PM,
                         sd_parallax=HYADES_SD_PLX, plummer_radius=HYADES_PLUMMER_DEG)
    table = simulate_cone(rows - n_members, (cluster,), ra=HYADES["ra"], dec=HYADES["dec"], radius=CONE_DEG,
                          seed=seed)
    return table, np.asarray(table["true_cluster"]) == 1


def hyades(rows: int, seed: int) -> None:
    """The simulated Melotte 25: thesis rows, then DEC blind and named through the pipeline."""
    from vo_ocml.pipeline import run

    table, truth = hyades_table(rows, seed)
    X = np.column_stack([column(table, c) for c in FEATURES])
    print(f"\n### Melotte 25 (Hyades), simulated: {len(table):,} rows, {truth.sum()} members\n")
    print("| source | pmra | pmdec | parallax | N | time |\n|---|---|---|---|---|---|")
    for line in thesis_rows("m25"):
        print(line + " |")
    print(row("simulated truth", X, truth) + " |")
    notes = []
    for label, params in CONFIGS.items():
        for cluster_name in (None, "Melotte 25"):
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            result = run(table.copy(copy_data=False), method="dec", cluster=cluster_name, **params).result
            seconds = time.perf_counter() - t0
            members = result.members(0.5)
            how = "named" if cluster_name else "blind"
            print(row(f"{label}, {how}", X, members, seconds), flush=True)
            why = result.details.get("no_cluster_reason")
            notes.append(f"{label}, {how}: against the truth {agreement(members, truth)}"
                         f" (load average {load:.1f}){'; no cluster: ' + why if why else ''}")
    print("\n" + "\n".join(notes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--only", nargs="*", default=["m22", "m67", "m25"], help="m22, m67, m25")
    parser.add_argument("--rows", type=int, default=434_000, help="rows of the simulated Hyades field")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed")
    parser.add_argument("--configs", nargs="*", default=None,
                        help="DEC configurations to run: substrings of their labels (default: all)")
    args = parser.parse_args()
    if args.configs:
        for label in list(CONFIGS):
            if not any(c in label for c in args.configs):
                del CONFIGS[label]
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; times include everything but "
          "reading the table")
    for name in args.only:
        if name == "m25":
            hyades(args.rows, args.seed)
        else:
            real(name, args.data)


if __name__ == "__main__":
    main()
