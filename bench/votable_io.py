"""Benchmark vo_ocml's fast VOTable reader/writer against astropy's.

Generates a Gaia-like BINARY2 VOTable (13 columns: int64 source_id, float64 ra/dec/pmra/pmdec/
parallax, float32 errors and magnitudes, 1 % nulls) and times each operation in a fresh
subprocess (imports and input reading excluded from the time), reporting wall time and the peak
resident memory (``ru_maxrss``) of that subprocess. After the BINARY2 steps, the fast writer's
TABLEDATA output is timed too (write, then read back).

Usage::

    python bench/votable_io.py [--rows 2000000] [--skip-astropy] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

COLUMNS = (
    ("source_id", "i8", None, "meta.id;meta.main"),
    ("ra", "f8", "deg", "pos.eq.ra;meta.main"),
    ("ra_error", "f4", "mas", "stat.error;pos.eq.ra"),
    ("dec", "f8", "deg", "pos.eq.dec;meta.main"),
    ("dec_error", "f4", "mas", "stat.error;pos.eq.dec"),
    ("parallax", "f8", "mas", "pos.parallax.trig"),
    ("parallax_error", "f4", "mas", "stat.error;pos.parallax.trig"),
    ("pmra", "f8", "mas / yr", "pos.pm;pos.eq.ra"),
    ("pmra_error", "f4", "mas / yr", "stat.error;pos.pm;pos.eq.ra"),
    ("pmdec", "f8", "mas / yr", "pos.pm;pos.eq.dec"),
    ("pmdec_error", "f4", "mas / yr", "stat.error;pos.pm;pos.eq.dec"),
    ("phot_g_mean_mag", "f4", "mag", "phot.mag;em.opt"),
    ("bp_rp", "f4", "mag", "phot.color"),
)

# (setup, timed) snippets; each pair runs in its own interpreter so that ru_maxrss is the peak
# of that step alone (for the write steps the peak includes reading the input table first).
STEPS = {
    "fast read": ("from vo_ocml.io.votable import read_votable",
                  "t = read_votable(SRC)"),
    "astropy read": ("from astropy.io import votable",
                     "t = votable.parse(SRC).get_first_table().to_table(use_names_over_ids=True)"),
    "fast write": ("from vo_ocml.io.votable import read_votable, write_votable; "
                   "t = read_votable(SRC)",
                   "write_votable(t, DST)"),
    "astropy write": ("from vo_ocml.io.votable import read_votable; "
                      "from astropy.io import votable; t = read_votable(SRC)",
                      "v = votable.from_table(t); v.get_first_table().format = 'binary2'; "
                      "v.to_xml(DST)"),
    "fast write TD": ("from vo_ocml.io.votable import read_votable, write_votable; "
                      "t = read_votable(SRC)",
                      "write_votable(t, DST, tabledata=True)"),
    "fast read TD": ("from vo_ocml.io.votable import read_votable", "t = read_votable(DST)"),
}


def make_table(nrows: int, seed: int = 1):
    """Return a Gaia-like astropy Table with about 1 % masked values per float column."""
    from astropy.table import MaskedColumn, Table

    rng = np.random.default_rng(seed)
    table = Table()
    for name, dtype, unit, ucd in COLUMNS:
        if dtype == "i8":
            data = np.sort(rng.integers(0, 2**62, nrows))
            mask = np.zeros(nrows, dtype=bool)
        else:
            data = rng.normal(size=nrows).astype(dtype)
            mask = rng.random(nrows) < 0.01
        table[name] = MaskedColumn(data, mask=mask, unit=unit, meta={"ucd": ucd})
    return table


def run_step(setup: str, timed: str, src: Path, dst: Path) -> tuple[float, float]:
    """Run ``setup`` then time ``timed`` in a subprocess; return (seconds, peak RSS in MiB)."""
    code = (
        "import resource, sys, time, warnings; warnings.simplefilter('ignore'); "
        f"SRC, DST = {str(src)!r}, {str(dst)!r}; {setup}; T0 = time.perf_counter(); {timed}; "
        "dt = time.perf_counter() - T0; "
        "print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env=env).stdout.split()
    return float(out[0]), float(out[1])


def main(argv: list[str] | None = None) -> int:
    """Generate the file, run every step and print a table of timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--skip-astropy", action="store_true",
                        help="time only the fast path (astropy's takes minutes)")
    parser.add_argument("--dir", type=Path, default=None, help="scratch directory")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from vo_ocml.io.votable import write_votable

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        src, dst = Path(tmp) / "gaia_like.vot", Path(tmp) / "out.vot"
        start = time.perf_counter()
        write_votable(make_table(args.rows), src)
        print(f"generated {args.rows:,} rows x {len(COLUMNS)} columns BINARY2 "
              f"({src.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - start:.1f} s")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
              f"CPUs: {os.cpu_count()}")
        for name, (setup, timed) in STEPS.items():
            if args.skip_astropy and name.startswith("astropy"):
                continue
            seconds, peak = run_step(setup, timed, src, dst)
            print(f"{name:14s} {seconds:7.2f} s   peak RSS {peak:7.0f} MiB   "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    print(f"harness peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
