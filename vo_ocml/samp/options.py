"""Options of the SAMP service: per-table options and service-wide settings.

Per-table options (:class:`JobOptions`) are the run options of :mod:`vo_ocml.options` (method,
method parameters, threshold, cluster, centroid, columns, seed) plus where the answer goes
(:data:`JOB_OPTIONS`). They come from ``vo-ocml listen``'s command line and may be overridden by
the parameters of the custom MType ``vo_ocml.membership.run``; SAMP sends every scalar as a
string, and :meth:`JobOptions.updated` parses and checks them with the same model as the CLI
and :func:`vo_ocml.run`, so a value is accepted or refused with the same message everywhere.
Service-wide settings (:data:`SERVICE_OPTIONS`, :class:`ServiceSettings`) are the command
line's only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from vo_ocml.errors import InputError
from vo_ocml.options import FORMAT_OPTION, OPTIONS, Option, RunOptions
from vo_ocml.options.parse import boolean, choice, number

#: what to send back: the annotated table, the member rowList, both, or only the reply
SEND_MODES = ("broadcast", "select", "both", "none")
#: who gets what is sent back
RECIPIENTS = ("sender", "all")
#: parameters of ``vo_ocml.membership.run`` that say where the table is
LOCATION_PARAMS = ("url", "name", "table-id")

#: per-table options of the service besides the run options (CLI and MType alike)
JOB_OPTIONS = (
    Option("send", "send back the annotated table (broadcast), the member rowList (select), "
           "both, or nothing but the reply", choice(SEND_MODES), default="both"),
    Option("to", "send back to the sender only or to every subscribed client",
           choice(RECIPIENTS), default="all"),
)

#: service-wide settings (``vo-ocml listen`` only)
SERVICE_OPTIONS = (
    Option("row_limit", "refuse tables with more rows", number(1, integer=True),
           default=2_000_000, unit="rows", metavar="N"),
    Option("max_bytes", "refuse tables larger than this", number(1, integer=True),
           default=2 << 30, unit="bytes", metavar="N", default_text="2147483648 = 2 GiB"),
    Option("allow_remote_urls", "also fetch table URLs on other hosts (otherwise file:// and "
           "loopback http only)", boolean, default=False),
    Option("threads", "threads for the numerical libraries while a table is processed (0: "
           "their own default)", number(0, integer=True), default=1, metavar="N"),
    Option("exit_with_hub", "exit when the hub shuts down (otherwise wait for a new hub and "
           "register again)", boolean, default=False),
)
_SERVICE = {o.name: o for o in SERVICE_OPTIONS}
_JOB = {o.name: o for o in JOB_OPTIONS}


@dataclass(frozen=True)
class JobOptions:
    """How one table is processed and answered.

    Parameters
    ----------
    run : RunOptions
        The run options (method and its parameters, threshold, cluster, centroid, columns).
    send : str
        One of :data:`SEND_MODES`.
    to : str
        One of :data:`RECIPIENTS`.
    """

    run: RunOptions = field(default_factory=RunOptions)
    send: str = _JOB["send"].default
    to: str = _JOB["to"].default

    def __post_init__(self) -> None:
        for option in JOB_OPTIONS:
            option.parse(option.name, getattr(self, option.name))

    @property
    def broadcast(self) -> bool:
        """Whether the annotated table is sent as ``table.load.votable``."""
        return self.send in ("broadcast", "both")

    @property
    def select(self) -> bool:
        """Whether the members are sent as ``table.select.rowList``."""
        return self.send in ("select", "both")

    def updated(self, params: Mapping[str, Any]) -> JobOptions:
        """Return a copy overridden by the parameters of a ``vo_ocml.membership.run`` message.

        Parameters
        ----------
        params : mapping
            ``samp.params`` of the message: run options (:data:`vo_ocml.options.OPTIONS`),
            ``format``, ``send`` and ``to``; ``url``, ``name`` and ``table-id`` are ignored here.

        Raises
        ------
        InputError
            On an unknown key or a value that does not parse.
        """
        known = {*OPTIONS, *_JOB, FORMAT_OPTION.name, *LOCATION_PARAMS}
        unknown = sorted(set(params) - known)
        if unknown:
            raise InputError(
                f"unknown parameter(s) {', '.join(unknown)}; accepted: "
                f"{', '.join(LOCATION_PARAMS)}, {FORMAT_OPTION.name}, {', '.join(_JOB)}, "
                f"{', '.join(OPTIONS)}")
        changes = {k: o.parse(k, params[k]) for k, o in _JOB.items() if k in params}
        run = self.run.updated({k: v for k, v in params.items() if k in OPTIONS})
        return replace(self, run=run, **changes)


def message_format(params: Mapping[str, Any]) -> str | None:
    """The ``format`` parameter of a ``vo_ocml.membership.run`` message, checked (None: absent)."""
    if params.get("format") is None:
        return None
    return FORMAT_OPTION.parse(FORMAT_OPTION.name, params["format"])


@dataclass(frozen=True)
class ServiceSettings:
    """Service-wide settings of ``vo-ocml listen``.

    Parameters
    ----------
    defaults : JobOptions
        Options for tables that do not say otherwise.
    row_limit : int
        Tables with more rows are refused.
    max_bytes : int
        Tables larger than this many bytes are refused while downloading.
    allow_remote_urls : bool
        Fetch URLs on other hosts too.
    fetch_timeout : float
        Seconds allowed for one download.
    hub_check_interval : float
        Seconds between checks that the hub is still there.
    max_backoff : float
        Longest wait between attempts to register with a missing hub.
    exit_on_hub_shutdown : bool
        Stop (instead of waiting for a new hub) when the hub announces its shutdown.
    threads : int or None
        Threads the numerical libraries (BLAS, OpenMP) may use while a table is processed;
        None leaves their defaults. One thread was several times faster for tables of a few
        thousand rows on a busy two-core machine (see docs/samp.md, "Measured").
    """

    defaults: JobOptions = field(default_factory=JobOptions)
    row_limit: int = _SERVICE["row_limit"].default
    max_bytes: int = _SERVICE["max_bytes"].default
    allow_remote_urls: bool = _SERVICE["allow_remote_urls"].default
    fetch_timeout: float = 60.0
    hub_check_interval: float = 2.0
    max_backoff: float = 10.0
    exit_on_hub_shutdown: bool = _SERVICE["exit_with_hub"].default
    threads: int | None = _SERVICE["threads"].default
