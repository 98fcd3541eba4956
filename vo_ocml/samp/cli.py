"""``vo-ocml listen`` (the SAMP membership service) and ``vo-ocml hub`` (a standalone hub).

pyvo and the pipeline are imported only when a command runs, so ``vo-ocml --help`` stays fast.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable

from vo_ocml.samp.options import METHODS, RECIPIENTS, SEND_MODES


def _add_verbosity(parser: argparse.ArgumentParser, verbose_help: str) -> None:
    parser.add_argument("-v", "--verbose", action="count", default=0, help=verbose_help)
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``listen`` and ``hub`` subcommands."""
    listen = subparsers.add_parser(
        "listen",
        help="answer tables sent over SAMP (TOPCAT, Aladin, STILTS) with their cluster members",
        description="Register with the running SAMP hub as 'vo-ocml'. Every table received "
        "(table.load.votable, table.load.fits, or vo_ocml.membership.run with per-message "
        "options) is run through the membership pipeline; the annotated table is sent back "
        "with table.load.votable as '<name> - members' and the member rows are selected in "
        "the original table with table.select.rowList.",
    )
    listen.add_argument("--method", choices=METHODS, default="mstgmm", help="default: %(default)s")
    listen.add_argument(
        "--threshold", type=float, default=0.5,
        help="members have a probability above this (default: %(default)s)",
    )
    where = listen.add_mutually_exclusive_group()
    where.add_argument("--cluster", help="cluster name for the catalogue centroid")
    where.add_argument(
        "--centroid", metavar="PMRA,PMDEC,PARALLAX",
        help="cluster centroid in mas/yr, mas/yr, mas (default: found in the data)",
    )
    listen.add_argument(
        "--send", choices=SEND_MODES, default="both",
        help="send back the annotated table (broadcast), the member rowList (select), both, "
        "or nothing but the reply (default: %(default)s)",
    )
    listen.add_argument(
        "--to", choices=RECIPIENTS, default="all",
        help="send back to the sender only or to every subscribed client (default: %(default)s)",
    )
    listen.add_argument(
        "--row-limit", type=int, default=2_000_000, metavar="N",
        help="refuse tables with more rows (default: %(default)s)",
    )
    listen.add_argument(
        "--max-bytes", type=int, default=2 << 30, metavar="N",
        help="refuse tables larger than this many bytes (default: %(default)s)",
    )
    listen.add_argument(
        "--allow-remote-urls", action="store_true",
        help="also fetch table URLs on other hosts (default: file:// and loopback http only)",
    )
    listen.add_argument(
        "--threads", type=int, default=1, metavar="N",
        help="threads for the numerical libraries while a table is processed; 0: their "
        "default (default: %(default)s)",
    )
    listen.add_argument(
        "--exit-with-hub", action="store_true",
        help="exit when the hub shuts down (default: wait for a new hub and register again)",
    )
    _add_verbosity(listen, "log every SAMP message received and sent (-vv: debug details)")
    listen.set_defaults(func=listen_command)

    hub = subparsers.add_parser(
        "hub",
        help="run a standalone SAMP hub (lockfile: $SAMP_HUB or ~/.samp)",
        description="Run pyvo's SAMP hub on 127.0.0.1 until Ctrl-C or SIGTERM, then remove "
        "its lockfile. Set SAMP_HUB=std-lockurl:file:///path/to/lockfile for a private hub.",
    )
    hub.add_argument(
        "--web-profile", action="store_true",
        help="also serve the SAMP Web Profile for browser clients (off by default)",
    )
    _add_verbosity(hub, "log the hub's start and stop")
    hub.set_defaults(func=hub_command)


def listen_command(args: argparse.Namespace) -> int:
    """Run the SAMP membership service until Ctrl-C, SIGTERM or (optionally) hub shutdown."""
    from vo_ocml.errors import InputError
    from vo_ocml.samp.hub import lockfile_path
    from vo_ocml.samp.options import JobOptions, ServiceSettings, parse_centroid
    from vo_ocml.samp.service import MembershipService

    if args.row_limit < 1 or args.max_bytes < 1 or args.threads < 0:
        raise InputError("--row-limit and --max-bytes must be positive, --threads at least 0")
    defaults = JobOptions(
        method=args.method,
        threshold=args.threshold,
        cluster=args.cluster,
        centroid=parse_centroid(args.centroid) if args.centroid else None,
        send=args.send,
        to=args.to,
    )
    settings = ServiceSettings(
        defaults=defaults,
        row_limit=args.row_limit,
        max_bytes=args.max_bytes,
        allow_remote_urls=args.allow_remote_urls,
        exit_on_hub_shutdown=args.exit_with_hub,
        threads=args.threads or None,
    )
    service = MembershipService(settings)
    _exit_on_signals(service.request_exit)
    service.start()
    if not args.quiet:
        print(
            f"vo-ocml: listening for tables over SAMP (hub lockfile {lockfile_path()}); "
            "Ctrl-C to stop",
            file=sys.stderr,
        )
    try:
        service.wait()
    finally:
        service.stop()
    return 0


def hub_command(args: argparse.Namespace) -> int:
    """Run a standalone SAMP hub until Ctrl-C or SIGTERM."""
    from vo_ocml.samp.hub import lockfile_path, run_hub

    if not args.quiet:
        print(
            f"vo-ocml: SAMP hub starting; clients find it with "
            f"SAMP_HUB=std-lockurl:{lockfile_path().as_uri()}; Ctrl-C to stop",
            file=sys.stderr,
        )
    run_hub(web_profile=args.web_profile)
    return 0


def _exit_on_signals(callback: Callable[[], None]) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: callback())
