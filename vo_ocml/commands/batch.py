"""``vo-ocml batch``: membership for many clusters, one Dask task per cluster."""

from __future__ import annotations

import argparse
import sys

from vo_ocml.options import HelpFormatter, add_run_options, add_verbosity, run_options_from_args
from vo_ocml.options.model import TARGET_OPTIONS

#: where --where/--region/--catalogue targets come from
CATALOGUE_HELP = ("the shipped catalogue (Hunt & Reffert 2023 > Cantat-Gaudin 2020 > Dias 2002 "
                  "> UCC)")


def _region(text: str) -> tuple[float, float, float]:
    try:
        ra, dec, radius = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected RA,DEC,RADIUS in degrees, got {text!r}") \
            from None
    return ra, dec, radius


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``batch``."""
    p = subparsers.add_parser(
        "batch", help="membership for many clusters on Dask (HATS, TAP or files)",
        description="Find the members of many clusters, one Dask task per cluster: fetch its "
        "cone from the source, run the pipeline (any method and options of `run`), keep the "
        "members. Targets: cluster NAMEs, " + CATALOGUE_HELP + " filtered with --where/--region, "
        "or a --targets file of positions. Writes OUTDIR/members.parquet, summary.parquet/.csv "
        "(one row per cluster, with the comparison against the catalogue), overview.html and "
        "provenance.json; per-cluster results in OUTDIR/clusters/ make the batch resumable "
        "(run the same command again). Needs the batch extra: pip install \"vo_ocml[batch]\".",
        formatter_class=HelpFormatter)
    p.add_argument("names", nargs="*", metavar="NAME", help="cluster names (catalogue look-up)")
    p.add_argument("--source", required=True, metavar="KIND:WHERE",
                   help="Gaia source: hats:PATH_OR_URL (LSDB), tap:URL (vo_ocml's TAP fetcher, "
                   "cached) or dir:PATH (cone files named after the clusters)")
    p.add_argument("-o", "--outdir", default="ocml_batch", help="output directory")
    t = p.add_argument_group("targets")
    t.add_argument("--catalogue", action="store_true",
                   help="every cluster of " + CATALOGUE_HELP + " (with --where/--region)")
    t.add_argument("--where", metavar="EXPR", help="filter on the catalogue's columns, e.g. "
                   "'N > 50', 'hunt and abs(b) < 5' (columns: ra dec r50 rt pmra pmdec parallax "
                   "s_pmra s_pmdec s_parallax n_members=N l b hunt catalogue name)")
    t.add_argument("--region", type=_region, metavar="RA,DEC,RADIUS",
                   help="catalogue clusters within RADIUS deg of (RA, DEC)")
    t.add_argument("--targets", metavar="FILE", help="table of targets: name and/or ra, dec "
                   "(deg); optional radius (deg), pmra, pmdec, parallax")
    t.add_argument("--radius", type=float, help="cone radius in degrees for every cluster "
                   "(default: 3 × the catalogue's r50 within 0.1–1.5°, as `vo-ocml fetch`)")
    t.add_argument("--blind", action="store_true", help="find each cluster in the data "
                   "instead of seeding it with the catalogue's centroid")
    add_run_options(p, input_format=False)
    d = p.add_argument_group("Dask")
    d.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler "
                   "(tcp://host:8786) instead of a LocalCluster; OUTDIR must be shared")
    d.add_argument("--workers", type=int, help="LocalCluster workers (default: the cores)")
    d.add_argument("--memory-limit", default="auto", help="memory limit per LocalCluster worker "
                   "('auto' = memory / workers, e.g. '4GiB')")
    d.add_argument("--retries", type=int, default=2,
                   help="retries of a task that raised an unexpected error")
    o = p.add_argument_group("outputs and data")
    o.add_argument("--member-columns", default="ra,dec,pmra,pmdec,parallax,phot_g_mean_mag,bp_rp",
                   metavar="COLS", help="Gaia columns kept in the member catalogue "
                   "(comma-separated)")
    o.add_argument("--format", action="append", choices=["votable", "fits", "csv"], default=[],
                   help="also write members/summary in this format (Parquet always); repeatable")
    o.add_argument("--gmax", type=float, help="tap: faintest G (mag; default 20)")
    o.add_argument("--tap-table", help="tap: the gaia_source-like table (default "
                   "gaiadr3.gaia_source)")
    o.add_argument("--cache-dir", help="tap: cache directory (default $VO_OCML_CACHE or "
                   "~/.cache/vo_ocml/tap)")
    add_verbosity(p)
    for action in p._actions:
        if action.dest in TARGET_OPTIONS:  # each target gives its own
            action.help = argparse.SUPPRESS
    p.set_defaults(func=main)
    return p


def targets_from_args(args: argparse.Namespace):
    """The targets the command line names; returns (targets, outside) where ``outside`` is
    "drop" for catalogue selections and "fail" for explicitly named targets."""
    from vo_ocml.batch import targets as tg
    from vo_ocml.errors import InputError

    chosen = []
    if args.names:
        chosen += tg.from_names(args.names, radius=args.radius)
    if args.targets:
        chosen += tg.from_file(args.targets, radius=args.radius)
    catalogue = args.catalogue or args.where or args.region
    if catalogue:
        chosen += tg.from_catalogue(args.where, args.region, radius=args.radius)
    if not chosen:
        raise InputError("No targets: give cluster NAMEs, --targets FILE, or --catalogue "
                         "(with --where/--region).")
    unique = list({t.name: t for t in chosen}.values())
    return unique, "drop" if catalogue and not (args.names or args.targets) else "fail"


def run_options(args: argparse.Namespace) -> dict:
    """Keyword arguments of vo_ocml.run from the command line (the options model), without the
    cluster, centroid and position, which each target gives."""
    from vo_ocml.batch.driver import normalise_options

    options = run_options_from_args(args)
    if options.method == "dec" and "verbose" not in options.params:
        options = options.updated({"verbose": False})  # no progress bars from the workers
    return normalise_options(options.run_kwargs())


def main(args: argparse.Namespace) -> int:
    """Run the ``batch`` command; returns the exit status (0 also when some clusters failed)."""
    import logging
    from dataclasses import replace

    from vo_ocml.batch import require_extra
    require_extra()
    if args.verbose < 2:  # Dask logs every worker start and stop at INFO
        logging.getLogger("distributed").setLevel(logging.ERROR)
    from vo_ocml.batch.driver import run_batch
    from vo_ocml.batch.sources import parse_source

    source = parse_source(args.source, gmax=args.gmax, tap_table=args.tap_table,
                          cache_dir=args.cache_dir)
    targets, outside = targets_from_args(args)
    if args.blind:
        targets = [replace(t, cluster=None, centroid=None) for t in targets]
    result = run_batch(targets, source, args.outdir, options=run_options(args),
                       columns=[c.strip() for c in args.member_columns.split(",") if c.strip()],
                       workers=args.workers, memory_limit=args.memory_limit,
                       scheduler=args.scheduler, retries=args.retries, outside=outside,
                       formats=args.format, progress=not args.quiet)
    if not args.quiet:
        c = result.counts
        print(f"{len(result.summary)} clusters: {c['found']} found, {c['not_found']} without a "
              f"cluster, {c['failed']} failed ({c['run']} run now, {c['skipped']} already done) "
              f"in {result.elapsed_s:.1f} s")
        for key in ("members", "summary", "summary_csv", "overview"):
            if key in result.files:
                print(f"{key}: {result.files[key]}")
        failed = [row for row in result.summary if row["status"] == "failed"]
        for row in failed[:10]:
            print(f"failed: {row['name']}: {row['reason']}", file=sys.stderr)
    return 0
