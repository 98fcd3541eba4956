"""One table's trip through the service: fetch, read, check, run the pipeline, write.

:func:`process` is what the worker thread runs for every queued message. It does no SAMP
messaging itself (the service answers and broadcasts with the :class:`Outcome`), and no
science: that is :func:`vo_ocml.pipeline.run`.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np

from vo_ocml.errors import InputError, NotFoundError
from vo_ocml.samp.options import JobOptions, ServiceSettings, message_format
from vo_ocml.samp.transfer import PrivateDir, fetch

log = logging.getLogger(__name__)

#: the custom MType carrying a URL plus per-message options
RUN_MTYPE = "vo_ocml.membership.run"
#: MTypes that deliver a table to process
TABLE_MTYPES = ("table.load.votable", "table.load.fits", RUN_MTYPE)


@dataclass
class Job:
    """A received table message waiting for the worker.

    Parameters
    ----------
    mtype : str
        One of :data:`TABLE_MTYPES`.
    sender : str
        Public id of the sending client.
    params : dict
        ``samp.params`` of the message.
    msg_id : str or None
        Hub message id to reply to; None for a notification (no reply).
    received : float
        ``time.monotonic()`` at receipt.
    """

    mtype: str
    sender: str
    params: Mapping[str, Any]
    msg_id: str | None = None
    received: float = field(default_factory=time.monotonic)


@dataclass
class Outcome:
    """What processing one table produced.

    Parameters
    ----------
    options : JobOptions
        The options the table was processed with.
    path : pathlib.Path
        The annotated VOTable in the private directory.
    table_id : str
        The new table's SAMP table-id.
    name : str
        The new table's display name, ``"<original name> - members"`` (SAMP strings are
        ASCII, so not the issue's ``·``).
    nrows : int
        Rows of the table (input and output alike).
    members : numpy.ndarray
        0-based indices of the member rows.
    summary : str
        The pipeline's text summary.
    extra_tables : list of (path, table-id, name)
        Several-cluster runs (``clusters``): one table per cluster holding its members (every
        column of the annotated table), then the clusters' summary table; each is sent with
        ``table.load.votable`` after the annotated table, so that a TOPCAT user sees each
        cluster's members as a table of its own (TOPCAT has one row subset per sender, which
        a second ``table.select.rowList`` would replace).
    """

    options: JobOptions
    path: Path
    table_id: str
    name: str
    nrows: int
    members: np.ndarray
    summary: str
    extra_tables: list[tuple[Path, str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """``file://`` URL of the annotated table."""
        return self.path.as_uri()

    def result(self) -> dict[str, str]:
        """The ``samp.result`` map of the ``samp.ok`` reply (SAMP strings only)."""
        return {
            "table-id": self.table_id,
            "name": self.name,
            "url": self.url,
            "method": self.options.run.method,
            "nrows": str(self.nrows),
            "nmembers": str(len(self.members)),
            "summary": self.summary,
            **({"clusters": ", ".join(name for _, _, name in self.extra_tables)}
               if self.extra_tables else {}),
        }


def table_name(params: Mapping[str, Any]) -> str:
    """The original table's display name: ``name``, else the URL's file name, else its id."""
    name = params.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    url = params.get("url")
    if isinstance(url, str):
        base = PurePosixPath(unquote(urlparse(url).path)).name
        if base:
            return base
    table_id = params.get("table-id")
    return table_id if isinstance(table_id, str) and table_id else "table"


def process(job: Job, settings: ServiceSettings, workdir: PrivateDir) -> Outcome:
    """Fetch the job's table, run the membership pipeline, write the annotated VOTable.

    Parameters
    ----------
    job : Job
        The message to process.
    settings : ServiceSettings
        Service settings (defaults, limits, URL policy).
    workdir : PrivateDir
        Where the download and the output go.

    Returns
    -------
    Outcome

    Raises
    ------
    vo_ocml.errors.VoOcmlError
        With a message fit for ``samp.error`` (bad URL or parameters, unreadable, empty or
        too large table, no cluster found, ...).
    """
    from vo_ocml.io.tables import read_table, write_table
    from vo_ocml.pipeline import run

    params = job.params
    options = settings.defaults
    fmt: str | None = "fits" if job.mtype == "table.load.fits" else "votable"
    if job.mtype == RUN_MTYPE:
        options = options.updated(params)
        fmt = message_format(params)
    if "url" not in params:
        raise InputError("the message has no 'url' parameter")
    local = workdir.new_path("input", ".table")
    fetch(
        params["url"],
        local,
        allow_remote=settings.allow_remote_urls,
        max_bytes=settings.max_bytes,
        timeout=settings.fetch_timeout,
    )
    try:  # bytes, so that messages name "the table", not the private copy
        table = read_table(local.read_bytes(), format=fmt)
    finally:
        local.unlink(missing_ok=True)
    if len(table) == 0:
        raise InputError("the table has no rows")
    if len(table) > settings.row_limit:
        raise InputError(
            f"the table has {len(table):,} rows, more than this service's limit of "
            f"{settings.row_limit:,} (start it with a larger --row-limit)"
        )
    t0 = time.perf_counter()
    annotated = run(table, **options.run.run_kwargs())
    summary = annotated.summary.format()
    if not annotated.result.found:
        details = annotated.result.details
        candidates = details.get("detection_candidates")
        raise NotFoundError(f"no cluster found in {table_name(params)!r} "
                            f"({details.get('no_cluster_reason', '')}). {summary}"
                            + (f" Best candidates: {candidates}." if candidates else ""))
    log.debug("pipeline on %d rows took %.2f s", len(table), time.perf_counter() - t0)
    table_id = f"vo-ocml-{secrets.token_hex(6)}"
    out = workdir.new_path(table_id, ".vot")
    main = annotated.table.copy(copy_data=False)
    clusters_table = main.meta.pop("ocml_clusters", None)  # one table per message: sent apart
    write_table(main, out)
    workdir.protect(out)
    members = np.flatnonzero(annotated.members)
    extra = []
    if annotated.clusters:
        label = np.asarray(main["ocml_cluster"])
        parts = [(main[label == c.name], c.name) for c in annotated.clusters]
        parts.append((clusters_table, "clusters"))
        for part, name in parts:
            part_id = f"{table_id}-{len(extra) + 1}"
            path = workdir.new_path(part_id, ".vot")
            write_table(part, path)
            workdir.protect(path)
            extra.append((path, part_id, f"{table_name(params)} - {name}"))
    return Outcome(
        options=options,
        path=out,
        table_id=table_id,
        name=f"{table_name(params)} - members",
        nrows=len(annotated.table),
        members=members,
        summary=summary,
        extra_tables=extra,
    )
