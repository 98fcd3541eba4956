"""The options model on the command line: argparse options generated from :mod:`.model`.

Every generated option has ``default=None`` in argparse ("not given"): the real defaults live
in the model (and, for method parameters, in the estimators) and are applied and checked by
:meth:`~vo_ocml.options.model.RunOptions.updated`, the same code SAMP and :func:`vo_ocml.run`
use. The help of each option is one line with its unit and real default, written once by
:class:`HelpFormatter` when help is printed (so that building a parser imports no estimator).

A third shell adds the run options with one call and reads them back with another::

    from vo_ocml.options import HelpFormatter, add_run_options, run_options_from_args

    p = subparsers.add_parser("batch", formatter_class=HelpFormatter, help="...")
    add_run_options(p)                       # --method, --cluster, --centroid, --threshold, ...
    ...
    options = run_options_from_args(args)    # RunOptions, checked; InputError on bad values
    annotated = vo_ocml.run(table, **options.run_kwargs())
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from vo_ocml.errors import InputError
from vo_ocml.options.model import (FORMAT_OPTION, METHOD_OPTIONS, OPTIONS, RUN_OPTIONS, Option,
                                   RunOptions, method_options)
from vo_ocml.membership import METHODS
from vo_ocml.options.parse import show

#: old spellings of the centroid, mapped onto --centroid
CENTROID_ALIASES = ("pmra", "pmdec", "parallax")


class HelpFormatter(argparse.HelpFormatter):
    """Help like STILTS: each option's one line, then its unit and its real default, once.

    Options of the model print their unit and real default; others their ``default_text``
    attribute, else their argparse default written as a user types it (no ``None``, no Python
    reprs), unless the help already says its default.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        option: Option | None = getattr(action, "option", None)
        if option is not None:
            if option.unit:
                text += f" [{option.unit}]"
            text += f" (default: {option.describe_default()})"
        elif getattr(action, "default_text", None):
            text += f" (default: {action.default_text})"
        elif "default" not in text and _plain_default(action) is not None:
            text += f" (default: {_plain_default(action)})"
        return text.replace("%", "%%")


def _plain_default(action: argparse.Action) -> str | None:
    """An argparse default as the user would type it; None when there is nothing to say."""
    value = action.default
    if value is None or value is argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
        return None
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(action, argparse._CountAction):
        return None
    return show(value) or None


def add_option(parser: Any, option: Option) -> argparse.Action:
    """Add one option of the model to ``parser`` (a parser or an argument group)."""
    flags = [option.cli_flag]
    kwargs: dict[str, Any] = {"dest": option.name, "default": None, "help": option.help}
    if option.is_flag:
        kwargs["action"] = argparse.BooleanOptionalAction
    else:
        kwargs["metavar"] = option.metavar or getattr(option.parse, "metavar", "VALUE")
        if option.repeat:
            kwargs["action"] = "append"
        elif option.nargs:
            kwargs["nargs"] = option.nargs
    action = parser.add_argument(*flags, **kwargs)
    action.option = option
    for alias in option.aliases:  # hidden old spellings
        parser.add_argument(alias, dest=option.name, default=None, help=argparse.SUPPRESS,
                            **{k: v for k, v in kwargs.items() if k not in ("dest", "default",
                                                                          "help")})
    return action


def add_options(parser: Any, options: Iterable[Option], title: str | None = None) -> None:
    """Add ``options`` to ``parser``, in a group titled ``title`` when given."""
    target = parser.add_argument_group(title) if title else parser
    for option in options:
        add_option(target, option)


def add_run_options(parser: argparse.ArgumentParser, *, input_format: bool = True) -> None:
    """Add every run option and every method parameter to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        Best created with ``formatter_class=HelpFormatter`` (units and defaults in the help).
    input_format : bool
        Also add ``--input-format`` (alias ``--format``).
    """
    group = parser.add_argument_group("run options")
    for option in RUN_OPTIONS:
        add_option(group, option)
    if input_format:
        add_option(group, FORMAT_OPTION)
    for name in CENTROID_ALIASES:  # the old spelling: --pmra --pmdec --parallax
        group.add_argument(f"--{name}", dest=f"centroid_{name}", default=None,
                           help=argparse.SUPPRESS)
    titles = {"mstgmm": "mstgmm parameters (filter → MST → mixture)",
              "dec": "dec parameters (Deep Embedded Clustering)"}
    shared = [o for o in METHOD_OPTIONS if len(o.methods) > 1 and o.cli]
    add_options(parser, shared, f"parameters of methods {' and '.join(METHODS)}")
    for method in METHODS:
        add_options(parser, [o for o in method_options(method) if o.cli and o not in shared],
                    titles.get(method, f"{method} parameters"))


def cli_spelling(name: str) -> str:
    """An option as the command line spells it: its flag and value (for error messages)."""
    option = OPTIONS.get(name) or (FORMAT_OPTION if name == FORMAT_OPTION.name else None)
    if option is None:
        return "--" + name.replace("_", "-")
    if option.is_flag:
        return option.cli_flag
    return f"{option.cli_flag} {option.metavar or getattr(option.parse, 'metavar', 'VALUE')}"


def add_verbosity(parser: argparse.ArgumentParser,
                  verbose: str = "log more (-vv: debug details)") -> None:
    """The one definition of ``-v/--verbose`` (repeatable) and ``-q/--quiet``."""
    action = parser.add_argument("-v", "--verbose", action="count", default=0, help=verbose)
    action.default_text = "warnings only"
    action = parser.add_argument("-q", "--quiet", action="store_true",
                                 help="print nothing but errors")
    action.default_text = "off"


def given(args: argparse.Namespace, options: Iterable[Option]) -> dict[str, Any]:
    """The values of ``options`` given on the command line (name → raw value)."""
    return {o.name: getattr(args, o.name) for o in options
            if o.cli and getattr(args, o.name, None) is not None}


def run_options_from_args(args: argparse.Namespace,
                          base: RunOptions | None = None) -> RunOptions:
    """The run options given on the command line, parsed and checked by the model.

    ``--pmra --pmdec --parallax`` (the old spelling) map onto ``--centroid``.

    Raises
    ------
    InputError
        A bad value, a parameter of the other method, or an incomplete centroid.
    """
    values = given(args, (*RUN_OPTIONS, *METHOD_OPTIONS))
    old = [getattr(args, f"centroid_{n}", None) for n in CENTROID_ALIASES]
    if any(v is not None for v in old):
        if any(v is None for v in old) or "centroid" in values:
            raise InputError("centroid must be given once, as PMRA,PMDEC,PARALLAX (mas/yr, "
                             "mas/yr, mas), or as all three of --pmra --pmdec --parallax")
        values["centroid"] = old
    return (base or RunOptions()).updated(values)
