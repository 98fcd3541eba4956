"""Run one ADQL query on a TAP service with pyvo: sync or async (UWS job with progress),
row limits honoured, overflow reported as an error, pyvo's failures turned into
:class:`~vo_ocml.errors.ServiceError` with the service URL and the server's own message.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import pyvo
import pyvo.utils.http
import requests
from astropy.table import Table
from pyvo.dal.exceptions import (DALFormatError, DALOverflowWarning, DALQueryError,
                                 DALServiceError)

from vo_ocml.errors import ServiceError

__all__ = ["Progress", "run_query"]

#: a progress callback: receives one short human-readable line per event
Progress = Callable[[str], None]

_FINAL_PHASES = {"COMPLETED", "ERROR", "ABORTED"}
#: seconds between polls of an async job: starts at the first, grows by 1.5× up to the last
_POLL_START, _POLL_MAX = 0.25, 5.0
#: seconds to wait for a TCP connection (a host that drops packets fails after this, instead
#: of the operating system's minutes); reading a response has no limit (sync queries can be
#: long)
CONNECT_TIMEOUT = 20.0


class _Session(requests.Session):
    """A requests session with pyvo's User-Agent and a connection timeout on every request."""

    def __init__(self) -> None:
        super().__init__()
        self.headers["User-Agent"] = pyvo.utils.http.USER_AGENT

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", (CONNECT_TIMEOUT, None))
        return super().request(*args, **kwargs)


def _unreachable(service: str, cause: BaseException | str) -> ServiceError:
    return ServiceError(
        f"Cannot reach the TAP service at {service} ({cause}). Check the URL ({{@service}}) and "
        "the network, or read a result of the same query from the cache ({@offline})."
    )


@contextmanager
def _service_errors(service: str) -> Iterator[None]:
    """Translate pyvo / requests failures into ServiceError."""
    try:
        yield
    except DALQueryError as exc:
        raise ServiceError(
            f"The TAP service at {service} rejected the query: {exc.reason}") from exc
    except (DALFormatError, DALServiceError) as exc:
        # pyvo reports a refused connection as either, with the requests error as the cause
        code = getattr(exc, "code", None)
        if isinstance(exc.cause, requests.ConnectionError | requests.Timeout) or (
                isinstance(exc, DALServiceError) and not code):
            raise _unreachable(service, exc.cause or exc.reason) from exc
        if code:
            raise ServiceError(
                f"The TAP service at {service} answered HTTP {code}: {exc.reason}") from exc
        raise ServiceError(
            f"The TAP service at {service} sent an unreadable response: {exc.reason}") from exc
    except requests.RequestException as exc:
        raise _unreachable(service, exc) from exc


def _check_complete(result: pyvo.dal.TAPResults, service: str, requested: int | None,
                    sent: int | None) -> Table:
    """Return the result as a Table, or raise if the service flagged it truncated."""
    if (result.status[0] or "").upper() == "OVERFLOW":
        if requested:
            cause, advice = (f"the requested limit of {requested}",
                             "raise {@maxrec} (up to the service's hard limit), ")
        else:
            cause = "the service's row limit" + (f" ({sent}, its hard limit)" if sent else "")
            advice = ""
        raise ServiceError(
            f"The result from {service} was truncated at {len(result)} rows by {cause} "
            "(QUERY_STATUS=OVERFLOW): the cone holds more sources. A truncated cone would bias "
            f"the membership, so nothing was written. Reduce {{@radius}} or {{@gmax}}, {advice}or "
            "use a service with higher limits."
        )
    return result.to_table()


def _hard_limit(svc: pyvo.dal.TAPService) -> int | None:
    """The service's hard row limit from its VOSI capabilities, or None if not advertised."""
    try:
        limit = svc.hardlimit
    except (DALServiceError, DALFormatError, requests.RequestException, AttributeError,
            ValueError):
        return None
    return int(limit) if limit else None


def _wait(job: pyvo.dal.AsyncTAPJob, progress: Progress | None, timeout: float) -> str:
    start = time.monotonic()
    delay = _POLL_START
    while True:
        phase = job.phase
        elapsed = time.monotonic() - start
        if progress:
            progress(f"async job {job.job_id}: {phase} ({elapsed:.0f} s)")
        if phase in _FINAL_PHASES:
            return phase
        if elapsed > timeout:
            job.abort()
            raise ServiceError(f"The TAP job {job.url} did not finish within {timeout:.0f} s; "
                               "it was aborted.")
        time.sleep(delay)
        delay = min(delay * 1.5, _POLL_MAX)


def _run_async(svc: pyvo.dal.TAPService, query: str, maxrec: int | None,
               progress: Progress | None, timeout: float) -> pyvo.dal.TAPResults:
    job = svc.submit_job(query, maxrec=maxrec)
    if progress:
        progress(f"submitted async job {job.url}")
    try:
        job.run()
        phase = _wait(job, progress, timeout)
        if phase != "COMPLETED":
            job.raise_if_error()
            raise ServiceError(f"The TAP job {job.url} ended in phase {phase}.")
        if progress:
            progress("downloading the result")
        return job.fetch_result()
    except KeyboardInterrupt:
        job.abort()
        raise
    finally:
        try:
            job.delete()
        except DALServiceError:  # the result is what matters; the job expires anyway
            pass


def run_query(query: str, *, service: str, mode: Literal["sync", "async"] = "sync",
              maxrec: int | None = None, progress: Progress | None = None,
              timeout: float = 3600.0) -> Table:
    """Run an ADQL query and return its complete result.

    Parameters
    ----------
    query : str
        ADQL text.
    service : str
        TAP base URL, e.g. ``https://gea.esac.esa.int/tap-server/tap``.
    mode : {"sync", "async"}
        A synchronous request, or a UWS job polled until it ends (for large results and
        long queries).
    maxrec : int, optional
        Row limit to request (MAXREC); default: the service's hard limit when its
        capabilities advertise one (so its lower default limit does not cut the result),
        else none.
    progress : callable, optional
        Called with one line of text per event (submission, each poll, download).
    timeout : float
        Seconds an async job may run before it is aborted.

    Returns
    -------
    astropy.table.Table
        The result, with the service's column units, descriptions and UCDs.

    Raises
    ------
    ServiceError
        Service unreachable (the message names the URL), HTTP error, query rejected (the
        service's message passed through), unreadable response, or result truncated by a
        row limit (QUERY_STATUS=OVERFLOW).
    """
    svc = pyvo.dal.TAPService(service, session=_Session())
    requested = maxrec
    if maxrec is None:
        maxrec = _hard_limit(svc)
        if progress and maxrec:
            progress(f"requesting up to {maxrec} rows (the service's hard limit)")
    with _service_errors(service), warnings.catch_warnings():
        warnings.simplefilter("ignore", DALOverflowWarning)  # reported as an error below
        if mode == "async":
            result = _run_async(svc, query, maxrec, progress, timeout)
        else:
            if progress:
                progress(f"sync query to {service}")
            result = svc.run_sync(query, maxrec=maxrec)
        return _check_complete(result, service, requested, maxrec)
