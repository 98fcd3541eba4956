"""One cluster = one Dask task: fetch its cone, run the pipeline, write its results atomically.

:func:`process_target` runs on a worker. It writes ``clusters/<slug>.parquet`` (the members)
and then ``clusters/<slug>.json`` (the summary record), each to a temporary file first and then
renamed with :func:`os.replace`, so a record exists only when its members are complete and a
killed worker never leaves half a file behind; a retried task rewrites the same two files, so
nothing is duplicated. Bad input (an empty cone, an unreadable table, no such file) is returned
as a ``failed`` record; any other exception propagates so that Dask can retry the task.
"""

from __future__ import annotations

import json
import math
import os
import resource
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vo_ocml.batch.targets import Target
from vo_ocml.errors import InputError, NotFoundError
from vo_ocml.io.atomic import atomic_write

__all__ = ["DEFAULT_COLUMNS", "STATUS_DONE", "failure_record", "process_target", "read_record",
           "record_path", "members_path", "write_record"]

#: Gaia columns kept in the member catalogue unless others are asked for
DEFAULT_COLUMNS = ("ra", "dec", "pmra", "pmdec", "parallax", "phot_g_mean_mag", "bp_rp")
#: statuses of a finished cluster (skipped on resume); "failed" is run again
STATUS_DONE = ("found", "not_found")
#: probability above which a star counts in ``n_p08``
HIGH_PROBABILITY = 0.8


def record_path(outdir: str | Path, target: Target) -> Path:
    """Where a target's summary record lives."""
    return Path(outdir) / "clusters" / f"{target.slug}.json"


def members_path(outdir: str | Path, target: Target) -> Path:
    """Where a target's members live."""
    return Path(outdir) / "clusters" / f"{target.slug}.parquet"


def write_record(outdir: str | Path, target: Target, record: dict[str, Any]) -> None:
    """Write a target's summary record atomically."""
    text = json.dumps(record, indent=1, default=_jsonable)
    atomic_write(record_path(outdir, target),
                 lambda p: Path(p).write_text(text, encoding="utf-8"))


def read_record(outdir: str | Path, target: Target) -> dict[str, Any] | None:
    """A target's summary record, or None when there is none (or it cannot be read)."""
    path = record_path(outdir, target)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _base_record(target: Target, source_spec: str) -> dict[str, Any]:
    return {"name": target.name, "slug": target.slug, "cone_ra": target.ra,
            "cone_dec": target.dec, "cone_radius": target.radius,
            "radius_source": target.radius_source, "catalogue_name": target.cluster or "",
            "source": source_spec, "reference": target.reference}


def failure_record(target: Target, source_spec: str, reason: str, options: dict,
                   seconds: float = math.nan) -> dict[str, Any]:
    """The record of a cluster that could not be processed."""
    return {**_base_record(target, source_spec), "status": "failed", "reason": reason,
            "run_time_s": seconds, "options": options, "worker": "",
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _peak_rss_mb() -> float:
    """Peak resident memory of this worker process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _params(table) -> dict[str, Any]:
    return {p["name"]: p["value"] for p in table.meta.get("ocml_params", [])}


def _king(annotated) -> tuple[float, float]:
    from vo_ocml.analysis.king import fit_members
    try:
        fit = fit_members(annotated)
    except InputError:
        return math.nan, math.nan
    return fit.r_c_deg, fit.r_c_err_deg


def _members_table(annotated, target: Target, columns: Sequence[str]):
    """The members of one run: source_id, cluster, probability, stage and the Gaia columns."""
    import pyarrow as pa

    table, mask = annotated.table, annotated.members
    cmap = annotated.columns
    rows = np.flatnonzero(mask)
    data: dict[str, Any] = {}
    if cmap.has("source_id"):
        data["source_id"] = cmap.array(table, "source_id")[rows]
    else:
        data["source_id"] = np.full(rows.size, -1, np.int64)
    data["cluster"] = np.full(rows.size, target.name, dtype=object)
    data["row"] = rows.astype(np.int64)
    data["ocml_prob"] = np.asarray(table[annotated.names["prob"]])[rows].astype(np.float64)
    data["ocml_stage"] = np.asarray(table[annotated.names["stage"]])[rows].astype(str)
    for name in columns:
        if name in data:
            continue
        if cmap.has(name):
            data[name] = cmap.array(table, name)[rows]
        elif name in table.colnames:
            col = table[name]
            data[name] = np.ma.filled(np.ma.asarray(col)[rows], np.nan) \
                if col.dtype.kind in "fi" else np.asarray(col)[rows].astype(str)
    arrays = {k: pa.array(v) for k, v in data.items()}
    meta = {"ocml_params": json.dumps(table.meta.get("ocml_params", []), default=_jsonable)}
    return pa.table(arrays).replace_schema_metadata(meta)


def process_target(target: Target, source, options: dict[str, Any], outdir: str,
                   columns: Sequence[str] = DEFAULT_COLUMNS) -> dict[str, Any]:
    """Fetch one cluster's cone, run :func:`vo_ocml.run` on it and write its results.

    Parameters
    ----------
    target : Target
        The cluster.
    source : DirSource, HatsSource or TapSource
        Where its cone comes from.
    options : dict
        Keyword arguments of :func:`vo_ocml.run` (``method``, ``threshold``,
        ``random_state``, method parameters…); ``cluster``/``centroid`` come from the target.
    outdir : str
        The batch's output directory (shared by every worker).
    columns : sequence of str
        Gaia columns to keep in the member catalogue.

    Returns
    -------
    dict
        The summary record (also written to ``clusters/<slug>.json``).
    """
    import pyarrow.parquet as pq

    from vo_ocml.pipeline import run

    start = time.perf_counter()
    try:
        table = source.fetch(target)
        fetched = time.perf_counter()
        annotated = run(table, cluster=target.cluster, centroid=target.centroid,
                        position=(target.ra, target.dec) if target.centroid else None, **options)
    except (InputError, NotFoundError) as exc:
        record = failure_record(target, source.spec, " ".join(str(exc).split()), options,
                                time.perf_counter() - start)
        record["worker"] = socket.gethostname() + f":{os.getpid()}"
        write_record(outdir, target, record)
        return record
    ran = time.perf_counter()
    rc, rc_err = _king(annotated) if annotated.result.found else (math.nan, math.nan)
    members = _members_table(annotated, target, columns)
    atomic_write(members_path(outdir, target), lambda p: pq.write_table(members, p))
    s, params = annotated.summary, _params(annotated.table)
    record = {
        **_base_record(target, source.spec),
        "status": "found" if annotated.result.found else "not_found",
        "reason": "" if annotated.result.found else str(params.get("ocml_no_cluster_reason", "")),
        "n_rows": len(table), "n_members": s.n_members,
        "n_p08": int(np.sum(annotated.result.members(HIGH_PROBABILITY))),
        "pmra": s.pmra, "pmra_se": s.pmra_se, "pmdec": s.pmdec, "pmdec_se": s.pmdec_se,
        "parallax": s.parallax, "parallax_se": s.parallax_se, "ra": s.ra, "dec": s.dec,
        "r50": s.r50, "fill": s.fill, "king_rc": rc, "king_rc_err": rc_err,
        "significance": float(params.get("ocml_detection_significance", math.nan)),
        "centroid_source": s.centroid_source,
        "catalogue_match": s.catalogue.entry.name if s.catalogue is not None else "",
        "fetch_time_s": fetched - start,
        "run_time_s": ran - fetched, "options": options,
        "worker": socket.gethostname() + f":{os.getpid()}",
        "peak_rss_mb": _peak_rss_mb(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "finished_unix": time.time(),
        "provenance": params, "source_provenance": _params(table),
    }
    write_record(outdir, target, record)
    return record
