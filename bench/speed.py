"""End-to-end speed and memory of ``vo-ocml run`` on 2,000,000-row Gaia-like cones.

Three dense fields (see :mod:`vo_ocml.simulate`), each a 1° cone written as a BINARY2 VOTable
with 13 Gaia columns (ids, positions, astrometry with errors, G, BP−RP) plus the truth:

- ``default``: one cluster of 3,000 stars at 1.4 kpc (parallax 0.7 mas), 3′ Plummer radius;
- ``nearby``: a 470 pc cluster (parallax 2.13 mas, 1,500 stars, 0.25° Plummer radius,
  1.2 km/s internal dispersion) in the dense field;
- ``distant``: a 5 kpc cluster (parallax 0.2 mas, 400 stars, 1′ Plummer radius).

Each is timed end to end in a fresh process (interpreter start, import, read, membership,
write) with its peak resident memory, ``--repeat`` times (the best is reported: other jobs on
a shared machine only ever slow a run down); ``--profile`` then profiles one in-process.

Usage::

    python bench/speed.py [--rows 2000000] [--case default nearby distant] [--repeat 2]
                          [--workdir bench/out] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from vo_ocml.simulate import SimCluster, simulate_cone

#: the aims (issue 15): end to end on 2,000,000 rows
AIM_SECONDS, AIM_GIB = 15.0, 4.0

CASES = {
    "default": SimCluster(3000, -2.5, 1.0, 0.7, sd_pm=0.08, plummer_radius=0.05),
    "nearby": SimCluster(1500, -7.0, 4.5, 2.13, sd_pm=1.2 * 2.13 / 4.74, sd_parallax=0.03,
                         plummer_radius=0.25, offset=(0.1, -0.1)),
    "distant": SimCluster(400, -3.2, 0.8, 0.2, sd_pm=0.05, sd_parallax=0.005,
                          plummer_radius=1.0 / 60.0, offset=(-0.3, 0.2)),
}

#: the child prints its own peak RSS (kB on Linux) after the CLI returns
_CHILD = ("import resource, sys; from vo_ocml.cli import console; rc = console(sys.argv[1:]); "
          "u = resource.getrusage(resource.RUSAGE_SELF); "
          "print('MAXRSS', u.ru_maxrss, u.ru_utime + u.ru_stime); sys.exit(rc)")


def _source(case: str, rows: int, workdir: Path) -> Path:
    source = workdir / f"cone_{case}_{rows}.vot"
    if not source.exists():
        from vo_ocml.io.votable import write_votable
        t0 = time.perf_counter()
        cluster = CASES[case]
        table = simulate_cone(rows - cluster.n, (cluster,), radius=1.0, missing_fraction=0.1,
                              seed=1)
        write_votable(table, source)
        print(f"simulated {len(table):,} rows × {len(table.colnames)} columns → {source} "
              f"({source.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.1f} s")
    return source


def _time(source: Path, out: Path) -> tuple[float, float, float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CHILD, "run", str(source), "-o", str(out),
                           "--overwrite"], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    lines = proc.stdout.splitlines()
    usage = next(line.split() for line in lines if line.startswith("MAXRSS"))
    peak, cpu = float(usage[1]) / 2**20, float(usage[2])
    return wall, cpu, peak, "\n".join(line for line in lines if not line.startswith("MAXRSS"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--case", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per case (best kept)")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--profile", action="store_true", help="also profile the first case")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    from vo_ocml.io.tables import read_table
    for case in args.case:
        source = _source(case, args.rows, args.workdir)
        out = args.workdir / f"cone_{case}_out.vot"
        runs = [_time(source, out) for _ in range(args.repeat)]
        wall, cpu, peak, stdout = min(runs)
        print(stdout)
        truth = read_table(source)["true_cluster"] == 1
        member = np.asarray(read_table(out)["ocml_member"], bool)
        tp = int(np.sum(truth & member))
        print(f"[{case}] vo-ocml run, {args.rows:,} rows, end to end: best of {args.repeat} "
              f"{wall:.1f} s wall, {cpu:.1f} s CPU (all walls: "
              f"{', '.join(f'{r[0]:.1f}' for r in runs)}), peak RSS "
              f"{peak:.2f} GiB (aim ≤ {AIM_SECONDS:.0f} s, ≤ {AIM_GIB:.0f} GiB); load average "
              f"{os.getloadavg()[0]:.1f}; truth: completeness {tp / truth.sum():.3f}, purity "
              f"{tp / max(member.sum(), 1):.3f}", flush=True)
    if args.profile:
        source = _source(args.case[0], args.rows, args.workdir)
        profiler = cProfile.Profile()
        from vo_ocml.cli import main as cli
        profiler.runcall(cli, ["run", str(source), "-o", str(args.workdir / "cone_out.vot"),
                               "--overwrite", "-q"])
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
        print(text.getvalue())


if __name__ == "__main__":
    main()
