"""The ``vo-ocml`` command line: ``run``, ``listen``, ``hub``, ``fetch``, ``chemtag``, ``batch``.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``; those modules
import their heavy dependencies (TensorFlow, SAMP, TAP) only when the command runs, so
``vo-ocml --help`` stays fast. Errors: :class:`~vo_ocml.errors.InputError` and
:class:`~vo_ocml.errors.NotFoundError` print a one-paragraph message and exit with status 2;
:class:`~vo_ocml.errors.ServiceError` exits with status 3. Anything else is a bug: a last-resort
handler prints one paragraph asking for a report and exits with status 1 (``-v`` adds the
traceback).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import sys
import textwrap
import traceback
from collections.abc import Sequence

from vo_ocml import __version__
from vo_ocml.errors import (
    InputError,
    NotFoundError,
    ServiceError,
    VoOcmlError,
    describe_unexpected,
)
from vo_ocml.options.arguments import cli_spelling

#: subcommand modules, each with ``add_parser(subparsers)``; imported in this order
SUBCOMMAND_MODULES = (
    "vo_ocml.commands.run",
    "vo_ocml.commands.listen",
    "vo_ocml.commands.hub",
    "vo_ocml.commands.fetch",
    "vo_ocml.commands.chemtag",
    "vo_ocml.commands.batch",
)

EXIT_UNEXPECTED = 1
EXIT_INPUT_ERROR = 2
EXIT_SERVICE_ERROR = 3


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="vo-ocml",
        description="Open-cluster membership for the Virtual Observatory: Gaia tables in, "
        "membership probabilities out.",
        epilog="'vo-ocml COMMAND --help' lists a command's options, each with its unit and "
        "default. Exit status: 0 done (also when no cluster is found), 1 a bug (please report "
        "it), 2 bad input or options, 3 a remote service failed.",
    )
    parser.add_argument("--version", action="version", version=f"vo_ocml {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a subcommand not installed in this build
            if exc.name is not None and name.startswith(exc.name):
                continue
            raise
        module.add_parser(subparsers)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    verbosity = getattr(args, "verbose", 0) or 0
    quiet = getattr(args, "quiet", False)
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    elif verbosity >= 2:
        level = logging.DEBUG
    elif verbosity == 1:
        level = logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _fail(kind: str, exc: BaseException, status: int) -> int:
    text = exc.render(cli_spelling) if isinstance(exc, VoOcmlError) else str(exc)
    message = " ".join(text.split()) or exc.__class__.__name__
    print(textwrap.fill(f"vo-ocml: {kind}: {message}", width=100), file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return _run(argv)
    except KeyboardInterrupt:
        print("vo-ocml: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: a paragraph and status 1, the traceback only with -v
        if any(a == "--verbose" or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in argv):
            traceback.print_exc(file=sys.stderr)
        return _fail("error", RuntimeError(describe_unexpected(exc)), EXIT_UNEXPECTED)


def console(argv: Sequence[str] | None = None) -> int:
    """The ``vo-ocml`` program: :func:`main`, then a quick exit; returns the exit status.

    Once the command has returned, every object still alive (the imported libraries: numpy,
    SciPy, scikit-learn, astropy) lives until the process ends. After one last collection of
    the command's own garbage (so that anything in a reference cycle is finalized, its files
    closed), :func:`gc.freeze` takes them out of the cyclic collector's reach, so the
    interpreter's exit does not traverse them all again: 0.9 s → 0.1 s after a
    ``vo-ocml run`` of 2,000,000 rows here (docs/architecture.md, Speed). Only for a process
    that ends with the command: :func:`main` itself leaves the collector alone, for callers
    that go on.
    """
    status = main(argv)
    gc.collect()
    gc.freeze()
    return status


def _run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_INPUT_ERROR
    _configure_logging(args)
    try:
        return int(args.func(args) or 0)
    except (InputError, NotFoundError) as exc:
        return _fail("error", exc, EXIT_INPUT_ERROR)
    except ServiceError as exc:
        return _fail("service error", exc, EXIT_SERVICE_ERROR)
    except VoOcmlError as exc:
        return _fail("error", exc, EXIT_INPUT_ERROR)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(console())
