"""DEC's wall-clock time end to end on the CPU: tables of 900–30,000 rows, and 434,000 rows.

Each table goes through ``vo_ocml.pipeline.run(table, method="dec")`` (columns, errors, DEC,
annotation, summary: what ``vo-ocml run --method dec`` does after reading the file), timed
with the machine's load average (other work on the machine slows it; say so with the numbers).

Tables: the shared real cones and boxes of 1,110–15,643 rows (shared/data/gaia), a simulated
30,000-row cone (:func:`vo_ocml.simulate.simulate_cone`, 29,500 field stars and a 500-star
cluster), and with ``--large`` a simulated 434,000-row Hyades field (as in
``bench/dec_thesis.py``), blind and named.

Run: ``nice -n 10 python bench/dec_speed.py [--data DIR] [--large] [--only NAME ...] [--dec-param k=v ...]``
"""

from __future__ import annotations

import argparse
import ast
import os
import time
from pathlib import Path

from astropy.table import Table

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared beside the checkout
#: the shared tables timed (file names in shared/data/gaia)
TABLES = ("pleiades_dr3_pmbox.csv", "m67_dr3_pmbox.csv", "distant_ber26_edr3_box.csv", "ngc2477_cone.csv",
          "oc345p67_edr3_cone40.csv", "ngc7789_cone.csv", "ubc482_edr3_plane_frame.csv")
#: rows of the simulated cone at the top of the range
SIMULATED_ROWS, SIMULATED_MEMBERS = 30_000, 500


def timed(name: str, table: Table, params: dict, **run_args) -> None:
    """Run DEC through the pipeline and print one line."""
    from vo_ocml.pipeline import run

    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    result = run(table, method="dec", **run_args, **params).result
    seconds = time.perf_counter() - t0
    n = result.step_counts
    print(f"{name:34s} {len(table):8,d} rows  {seconds:6.1f} s  load {load:5.1f}→{os.getloadavg()[0]:5.1f}  "
          f"candidates {n.get('filter', n.get('complete'))}  members {int(result.members(0.5).sum())}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--large", action="store_true", help="also the simulated 434,000-row Hyades field")
    parser.add_argument("--only", nargs="*", default=None, help="substrings of the table names to run")
    parser.add_argument("--dec-param", nargs="*", default=[], help="DEC parameters as name=python-literal")
    args = parser.parse_args()
    params = {k: ast.literal_eval(v) for k, v in (p.split("=", 1) for p in args.dec_param)}
    print(f"cpus {os.cpu_count()}  load average {os.getloadavg()[0]:.1f}  DEC parameters {params or 'default'}")

    def wanted(name: str) -> bool:
        return args.only is None or any(s in name for s in args.only)

    for fname in TABLES:
        if wanted(fname) and (args.data / "gaia" / fname).exists():
            timed(fname, Table.read(args.data / "gaia" / fname, format="ascii.csv"), params)
    from vo_ocml.simulate import simulate_cone

    if wanted("simulated"):
        table = simulate_cone(SIMULATED_ROWS - SIMULATED_MEMBERS, seed=0)
        timed(f"simulated {SIMULATED_ROWS:,}-row cone", table, params)
    if args.large:
        from dec_thesis import hyades_table

        table, _ = hyades_table(434_000, 0)
        timed("simulated Hyades, blind", table, params)
        timed("simulated Hyades, named Melotte 25", table, params, cluster="Melotte 25")


if __name__ == "__main__":
    main()
