"""End-to-end speed and memory of ``vo-ocml run`` on a 2,000,000-row Gaia-like cone.

Simulates a 1° cone (a realistic field plus one cluster of 3,000 stars; see
:mod:`vo_ocml.simulate`), writes it as a BINARY2 VOTable, then times ``vo-ocml run`` end to
end in a fresh process (import, read, membership, write) and reports its peak resident memory;
then profiles the same run in-process to show where the time goes.

Usage::

    python bench/speed.py [--rows 2000000] [--workdir bench/out] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from vo_ocml.simulate import SimCluster, simulate_cone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--profile", action="store_true", help="also profile in-process")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    source = args.workdir / f"cone_{args.rows}.vot"
    if not source.exists():
        from vo_ocml.io.votable import write_votable
        t0 = time.perf_counter()
        table = simulate_cone(args.rows - 3000, (SimCluster(3000, -2.5, 1.0, 0.7, sd_pm=0.08,
                                                            plummer_radius=0.05),),
                              radius=1.0, missing_fraction=0.1, seed=1)
        write_votable(table, source)
        print(f"simulated {len(table):,} rows × {len(table.colnames)} columns → {source} "
              f"({source.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.1f} s")
    out = args.workdir / "cone_out.vot"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "vo_ocml.cli", "run", str(source), "-o",
                           str(out), "--overwrite"], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    print(proc.stdout)
    print(f"vo-ocml run, {args.rows:,} rows, end to end: {wall:.1f} s wall, peak RSS "
          f"{peak:.2f} GiB (aim ≤ 15 s, ≤ 4 GiB)")
    from vo_ocml.io.tables import read_table
    truth = read_table(source)["true_cluster"] == 1
    member = read_table(out)["ocml_member"]
    tp = int(np.sum(truth & member))
    print(f"truth: completeness {tp / truth.sum():.3f}, purity {tp / max(member.sum(), 1):.3f}")
    if args.profile:
        profiler = cProfile.Profile()
        from vo_ocml.cli import main as cli
        profiler.runcall(cli, ["run", str(source), "-o", str(out), "--overwrite", "-q"])
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
        print(text.getvalue())


if __name__ == "__main__":
    main()
