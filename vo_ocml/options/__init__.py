"""One options model for every shell: the CLI (``run``, ``listen``, ``batch``), SAMP and Python.

:mod:`.model` defines every run option once (name, parser with type and range, default, unit,
one-line help) and :class:`RunOptions`, which parses and checks any mapping of options the
same way for every shell; :mod:`.arguments` generates argparse options and help from it;
:mod:`.parse` holds the value parsers. Light to import (no estimator, no astropy).
"""

from vo_ocml.options.arguments import (HelpFormatter, add_option, add_options, add_run_options,
                                       add_verbosity, given, run_options_from_args)
from vo_ocml.options.model import (FORMAT_OPTION, METHOD_OPTIONS, OPTIONS, RUN_OPTIONS, Option,
                                   RunOptions, method_defaults, method_options)

__all__ = [
    "FORMAT_OPTION", "METHOD_OPTIONS", "OPTIONS", "RUN_OPTIONS", "HelpFormatter", "Option",
    "RunOptions", "add_option", "add_options", "add_run_options", "add_verbosity", "given",
    "method_defaults", "method_options", "run_options_from_args",
]
