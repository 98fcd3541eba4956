"""``vo-ocml listen``: the SAMP membership service.

pyvo and the pipeline are imported only when a command runs, so ``vo-ocml --help`` stays fast.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable

from vo_ocml.options import (HelpFormatter, add_options, add_run_options, add_verbosity, given,
                             run_options_from_args)
from vo_ocml.samp.options import JOB_OPTIONS, SERVICE_OPTIONS

JOB = {o.name: o for o in JOB_OPTIONS}
SERVICE = {o.name: o for o in SERVICE_OPTIONS}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``listen``."""
    listen = subparsers.add_parser(
        "listen",
        help="answer tables sent over SAMP (TOPCAT, Aladin, STILTS) with their cluster members",
        description="Register with the running SAMP hub as 'vo-ocml'. Every table received "
        "(table.load.votable, table.load.fits, or vo_ocml.membership.run with per-message "
        "options) is run through the membership pipeline; the annotated table is sent back "
        "with table.load.votable as '<name> - members' and the member rows are selected in "
        "the original table with table.select.rowList. The run options below are the "
        "defaults for every table; a vo_ocml.membership.run message may override any of them "
        "with a parameter of the same name (e.g. threshold, filter_nsigma).",
        formatter_class=HelpFormatter,
    )
    add_run_options(listen, input_format=False)
    add_options(listen, JOB_OPTIONS, "answers")
    add_options(listen, SERVICE_OPTIONS, "service")
    add_verbosity(listen, "log every SAMP message received and sent (-vv: debug details)")
    listen.set_defaults(func=listen_command)


def listen_command(args: argparse.Namespace) -> int:
    """Run the SAMP membership service until Ctrl-C, SIGTERM or (optionally) hub shutdown."""
    from vo_ocml.samp.hub import lockfile_path
    from vo_ocml.samp.options import JobOptions, ServiceSettings
    from vo_ocml.samp.service import MembershipService

    job = {k: JOB[k].parse(k, v) for k, v in given(args, JOB_OPTIONS).items()}
    service_values = {o.name: o.default for o in SERVICE_OPTIONS}
    service_values.update({k: SERVICE[k].parse(k, v)
                           for k, v in given(args, SERVICE_OPTIONS).items()})
    settings = ServiceSettings(
        defaults=JobOptions(run=run_options_from_args(args), **job),
        row_limit=service_values["row_limit"],
        max_bytes=service_values["max_bytes"],
        allow_remote_urls=service_values["allow_remote_urls"],
        exit_on_hub_shutdown=service_values["exit_with_hub"],
        threads=service_values["threads"] or None,
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


def _exit_on_signals(callback: Callable[[], None]) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: callback())
