"""Options of the SAMP service: per-table options and service-wide settings.

Per-table options (:class:`JobOptions`) come from the command line and may be overridden by
the parameters of the custom MType ``vo_ocml.membership.run``; SAMP sends every scalar as a
string, so :meth:`JobOptions.updated` parses and validates strings and reports any problem as
an :class:`~vo_ocml.errors.InputError` whose message goes back in ``samp.error``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from vo_ocml.errors import InputError
from vo_ocml.membership.base import MEMBER_THRESHOLD, check_threshold

#: membership methods the service accepts (names registered in vo_ocml.pipeline.METHODS)
METHODS = ("mstgmm", "dec")
#: what to send back: the annotated table, the member rowList, both, or only the reply
SEND_MODES = ("broadcast", "select", "both", "none")
#: who gets what is sent back
RECIPIENTS = ("sender", "all")
#: parameters of ``vo_ocml.membership.run`` besides the table's url, name and table-id
RUN_PARAMS = ("format", "method", "threshold", "cluster", "centroid", "send", "to", "columns")
#: table formats ``vo_ocml.membership.run`` accepts (default: recognised from the content)
FORMATS = ("votable", "fits", "csv", "ecsv")


@dataclass(frozen=True)
class JobOptions:
    """How one table is processed and answered.

    Parameters
    ----------
    method : str
        ``"mstgmm"`` or ``"dec"``.
    threshold : float
        Membership probability above which a row is a member (0-1).
    cluster : str or None
        Cluster name for the catalogue centroid; None lets the data decide.
    centroid : tuple of float or None
        ``(pmra, pmdec, parallax)`` in mas/yr, mas/yr, mas.
    send : str
        One of :data:`SEND_MODES`.
    to : str
        One of :data:`RECIPIENTS`.
    columns : dict
        Canonical name -> column name overrides.
    """

    method: str = "mstgmm"
    threshold: float = MEMBER_THRESHOLD
    cluster: str | None = None
    centroid: tuple[float, float, float] | None = None
    send: str = "both"
    to: str = "all"
    columns: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _choice("method", self.method, METHODS)
        _choice("send", self.send, SEND_MODES)
        _choice("to", self.to, RECIPIENTS)
        object.__setattr__(self, "threshold", check_threshold(self.threshold))

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
            ``samp.params`` of the message; keys of :data:`RUN_PARAMS` are used, ``url``,
            ``name`` and ``table-id`` are ignored here.

        Raises
        ------
        InputError
            On an unknown key or a value that does not parse.
        """
        unknown = sorted(set(params) - set(RUN_PARAMS) - {"url", "name", "table-id"})
        if unknown:
            raise InputError(
                f"unknown parameter(s) {', '.join(map(repr, unknown))}; accepted: url, name, "
                f"table-id, {', '.join(RUN_PARAMS)}"
            )
        changes: dict[str, Any] = {}
        for key in ("method", "send", "to", "cluster"):
            if key in params:
                changes[key] = _text(key, params[key])
        if "threshold" in params:
            changes["threshold"] = check_threshold(params["threshold"])
        if "centroid" in params:
            changes["centroid"] = parse_centroid(params["centroid"])
        if "columns" in params:
            columns = params["columns"]
            if not isinstance(columns, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) and v for k, v in columns.items()
            ):
                raise InputError("columns must be a map of canonical name -> column name")
            changes["columns"] = dict(columns)
        return replace(self, **changes)


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
    random_state : int
        Seed handed to the pipeline.
    threads : int or None
        Threads the numerical libraries (BLAS, OpenMP) may use while a table is processed;
        None leaves their defaults. One thread was several times faster for tables of a few
        thousand rows on a busy two-core machine (see docs/samp.md, "Measured").
    """

    defaults: JobOptions = field(default_factory=JobOptions)
    row_limit: int = 2_000_000
    max_bytes: int = 2 << 30
    allow_remote_urls: bool = False
    fetch_timeout: float = 60.0
    hub_check_interval: float = 2.0
    max_backoff: float = 10.0
    exit_on_hub_shutdown: bool = False
    random_state: int = 0
    threads: int | None = 1


def parse_centroid(value: Any) -> tuple[float, float, float]:
    """Parse ``"pmra,pmdec,parallax"`` (or a list of three numbers) into floats.

    Raises
    ------
    InputError
        Unless there are exactly three finite numbers.
    """
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list | tuple) or len(parts) != 3:
        raise InputError(f"centroid must be 'pmra,pmdec,parallax', got {value!r:.100}")
    pmra, pmdec, parallax = (_number("centroid", p) for p in parts)
    return (pmra, pmdec, parallax)


def _choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(f"{key} must be one of {', '.join(allowed)}; got {value!r:.100}")


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{key} must be a non-empty string, got {value!r:.100}")
    return value.strip()


def _number(key: str, value: Any) -> float:
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise InputError(f"{key} must be a number, got {value!r:.100}") from None
    if not math.isfinite(number):
        raise InputError(f"{key} must be finite, got {value!r:.100}")
    return number
