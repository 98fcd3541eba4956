"""``vo-ocml fetch``: a Gaia DR3 cone (or a Hunt & Reffert 2023 member list) from TAP to a file.

Heavy modules (pyvo, astropy) are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from vo_ocml.commands.progress import ProgressLine
from vo_ocml.options.arguments import add_verbosity
from vo_ocml.tap.defaults import DEFAULT_GAIA_TAP, GAIA_TABLE, HUNT_MEMBERS_TABLE, VIZIER_TAP

__all__ = ["add_parser", "run_fetch"]

_EPILOG = """\
examples:
  vo-ocml fetch "NGC 2682"                         # -> NGC_2682_gaiadr3.vot, radius 5 x r50
  vo-ocml fetch M67 --radius 0.8 --gmax 18 -o m67.vot
  vo-ocml fetch --ra 132.85 --dec 11.82 --radius 0.5 -o cone.vot
  vo-ocml fetch "NGC 2682" --hunt-members          # Hunt & Reffert 2023 members (VizieR)
  vo-ocml fetch "NGC 2682" --offline               # only the cache (no network)
  vo-ocml fetch "NGC 2682" --service http://127.0.0.1:8080/tap --table gaiadr3.gaia_source

Results are cached by exact query and service ($VO_OCML_CACHE or ~/.cache/vo_ocml/tap).
A result truncated by the service's row limit is an error, never written.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``fetch`` subcommand.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``ArgumentParser.add_subparsers``.

    Returns
    -------
    argparse.ArgumentParser
        The new subparser.
    """
    p = subparsers.add_parser(
        "fetch", help="fetch a Gaia DR3 cone around a cluster over TAP",
        description="Fetch a Gaia DR3 cone around a named cluster (or given coordinates) with\n"
        "the quality cuts G <= GMAX, parallax > 0, complete five-parameter astrometry and\n"
        "BP-RP, ready for `vo-ocml run`; or the cluster's Hunt & Reffert (2023) members.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", help="cluster name (shipped catalogue, then Sesame), "
                   'e.g. "NGC 2682", M67, Pleiades')
    p.add_argument("-o", "--output", metavar="FILE", help="output table (.vot/.xml VOTable "
                   "BINARY2, .fits, .csv, .ecsv); default NAME_gaiadr3.vot in the current "
                   "directory")
    p.add_argument("--ra", type=float, metavar="DEG", help="cone centre RA (ICRS, degrees)")
    p.add_argument("--dec", type=float, metavar="DEG", help="cone centre Dec (ICRS, degrees)")
    p.add_argument("--radius", type=float, metavar="DEG", help="cone radius in degrees "
                   "(default for catalogue clusters: 5 x r50, clipped to [0.1, 1.5])")
    p.add_argument("--gmax", type=float, default=20.0, metavar="MAG",
                   help="faint limit in Gaia G, mag (default: 20)")
    p.add_argument("--columns", default="", metavar="COL[,COL...]",
                   help="extra columns of the table to fetch, comma-separated "
                   "(e.g. radial_velocity,phot_bp_mean_mag)")
    p.add_argument("--service", metavar="URL", help=f"TAP service base URL (default: the ESA "
                   f"Gaia archive, {DEFAULT_GAIA_TAP}; with --hunt-members: VizieR, {VIZIER_TAP})")
    p.add_argument("--table", metavar="NAME", help="gaia_source-like table on that service "
                   "(default: gaiadr3.gaia_source; with --hunt-members: J/A+A/673/A114/members)")
    p.add_argument("--hunt-members", action="store_true",
                   help="fetch the cluster's Hunt & Reffert (2023) member list instead of a cone")
    p.add_argument("--mode", choices=("auto", "sync", "async"), default="auto",
                   metavar="auto|sync|async",
                   help="TAP mode: auto = async job unless radius < 0.05 deg (default: auto)")
    p.add_argument("--maxrec", type=int, metavar="N",
                   help="row limit to request (default: the service's); truncation is an error")
    p.add_argument("--refresh", action="store_true", help="query again, replacing the cache")
    p.add_argument("--offline", action="store_true",
                   help="never use the network: the cache and the shipped catalogue only")
    p.add_argument("--cache-dir", metavar="DIR", help="cache directory "
                   "(default: $VO_OCML_CACHE or ~/.cache/vo_ocml/tap)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    add_verbosity(p)
    p.set_defaults(func=run_fetch)
    return p


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9+\-]+", "_", text).strip("_") or "cone"


def _default_output(args: argparse.Namespace) -> Path:
    if args.hunt_members:
        return Path(f"{_slug(args.name)}_hunt2023_members.vot")
    if args.name:
        return Path(f"{_slug(args.name)}_gaiadr3.vot")
    return Path(f"cone_{args.ra:.4f}_{args.dec:+.4f}_gaiadr3.vot")


def run_fetch(args: argparse.Namespace) -> int:
    """Run ``vo-ocml fetch``; returns the exit status (errors propagate as VoOcmlError)."""
    from vo_ocml.errors import InputError
    from vo_ocml.io.tables import write_table
    from vo_ocml.tap.fetch import fetch_cone, fetch_hunt_members

    if args.hunt_members and not args.name:
        raise InputError("--hunt-members needs a cluster name.")
    if not args.name and (args.ra is None or args.dec is None):
        raise InputError("Give a cluster name, or --ra and --dec with --radius (degrees).")
    output = Path(args.output) if args.output else _default_output(args)
    if output.exists() and not args.overwrite:
        raise InputError(f"{output} exists; use --overwrite to replace it, or -o another file.")
    progress = None if args.quiet else ProgressLine(sys.stderr)
    common = {"cache_dir": args.cache_dir, "refresh": args.refresh, "offline": args.offline,
              "progress": progress}
    try:
        if args.hunt_members:
            table = fetch_hunt_members(args.name, service=args.service or VIZIER_TAP,
                                       table=args.table or HUNT_MEMBERS_TABLE, **common)
        else:
            table = fetch_cone(name=args.name, ra=args.ra, dec=args.dec, radius=args.radius,
                               gmax=args.gmax, extra_columns=args.columns,
                               service=args.service or DEFAULT_GAIA_TAP,
                               table=args.table or GAIA_TABLE, mode=args.mode,
                               maxrec=args.maxrec, **common)
    finally:
        if progress:
            progress.close()
    write_table(table, output, overwrite=args.overwrite)
    if not args.quiet:
        params = {p["name"]: p["value"] for p in table.meta.get("ocml_params", [])}
        what = (f"cone ({params['ocml_cone_ra']:.5f}, {params['ocml_cone_dec']:+.5f}), radius "
                f"{params['ocml_cone_radius']:.4f} deg, G <= {params['ocml_cone_gmax']:g}"
                if "ocml_cone_ra" in params else f"members of {params['ocml_cluster']}")
        print(f"wrote {len(table)} rows to {output}: {what}, from {params['ocml_tap_service']}")
    return 0
