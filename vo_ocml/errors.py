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


class ServiceError(VoOcmlError):
    """A remote service (TAP, SAMP hub, name resolver) failed or could not be reached."""
