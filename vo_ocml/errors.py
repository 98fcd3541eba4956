"""The exception hierarchy shared by every part of vo_ocml.

The CLI maps :class:`InputError` (and :class:`NotFoundError`) to exit status 2 with the
exception's message as a one-paragraph explanation; the SAMP service answers any
:class:`VoOcmlError` with ``samp.error`` carrying the same message.

Library messages are neutral: where one points at an option that fixes the problem it writes
``{@name}`` with the option's Python name (``{@columns}``, ``{@offline}``), and each shell spells
it its own way with :meth:`VoOcmlError.render`: the CLI as its flag (``--col QUANTITY=COLUMN``),
SAMP as a message parameter, Python (``str(exc)``) as the keyword argument (``columns=…``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: where a message names an option: ``{@name}``
OPTION_MARK = re.compile(r"\{@(\w+)\}")


def python_spelling(name: str) -> str:
    """An option as a Python user writes it: the keyword argument."""
    return f"{name}=…"


def samp_spelling(name: str) -> str:
    """An option as a SAMP user writes it: a parameter of vo_ocml.membership.run."""
    return f"parameter {name}"


class VoOcmlError(Exception):
    """Base class of every error vo_ocml raises on purpose."""

    def render(self, spell: Callable[[str], str]) -> str:
        """The message with each ``{@option}`` spelt by ``spell(option)``."""
        text = super().__str__()
        return OPTION_MARK.sub(lambda m: spell(m.group(1)), text)

    def __str__(self) -> str:
        return self.render(python_spelling)


class InputError(VoOcmlError, ValueError):
    """The input is unusable: unreadable file, missing columns, bad values or options."""


class NotFoundError(VoOcmlError, LookupError):
    """Something asked for by name does not exist (e.g. an unknown cluster name)."""


class MissingDependencyError(VoOcmlError, ImportError):
    """An optional dependency of the feature asked for is not installed (the message names the
    ``pip install 'vo_ocml[extra]'`` that installs it)."""


class ServiceError(VoOcmlError):
    """A remote service (TAP, SAMP hub, name resolver) failed or could not be reached."""


#: what to do about an error that is vo_ocml's own fault
REPORT_HINT = ("This is a bug in vo_ocml: please report it with the command and the input that "
               "caused it (-v shows the traceback).")


def describe_unexpected(exc: BaseException) -> str:
    """One paragraph for an exception vo_ocml did not raise on purpose, with :data:`REPORT_HINT`.

    Parameters
    ----------
    exc : BaseException
        The unexpected exception.

    Returns
    -------
    str
        ``"unexpected <Type>: <message>. This is a bug …"`` on one line.
    """
    message = " ".join(str(exc).split()).rstrip(".")
    return f"unexpected {exc.__class__.__name__}" + (f": {message}" if message else "") + \
        f". {REPORT_HINT}"
