"""The exception hierarchy shared by every part of vo_ocml.

The CLI maps :class:`InputError` (and :class:`NotFoundError`) to exit status 2 with the
exception's message as a one-paragraph explanation; the SAMP service answers any
:class:`VoOcmlError` with ``samp.error`` carrying the same message.
"""

from __future__ import annotations


class VoOcmlError(Exception):
    """Base class of every error vo_ocml raises on purpose."""


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
