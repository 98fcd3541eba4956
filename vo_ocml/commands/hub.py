"""``vo-ocml hub``: a standalone SAMP hub (pyvo's), until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import sys

from vo_ocml.options import HelpFormatter, add_verbosity


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``hub``."""
    hub = subparsers.add_parser(
        "hub",
        help="run a standalone SAMP hub (lockfile: $SAMP_HUB or ~/.samp)",
        description="Run pyvo's SAMP hub on 127.0.0.1 until Ctrl-C or SIGTERM, then remove "
        "its lockfile. Set SAMP_HUB=std-lockurl:file:///path/to/lockfile for a private hub.",
        formatter_class=HelpFormatter,
    )
    hub.add_argument(
        "--web-profile", action="store_true",
        help="also serve the SAMP Web Profile for browser clients (default: off)",
    )
    add_verbosity(hub, "log the hub's start and stop")
    hub.set_defaults(func=hub_command)


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
