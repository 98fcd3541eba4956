"""Run many clusters on Dask: a LocalCluster by default, or any scheduler by its address.

:func:`run_batch` submits one task per cluster (:func:`vo_ocml.batch.task.process_target`),
follows them with a progress bar (done / failed / remaining, clusters per minute), records a
failed task with its reason without stopping the others, and finally assembles the member
catalogue, the summary with the catalogue comparison, the HTML overview and the provenance
(:mod:`vo_ocml.batch.outputs`). Clusters whose results are already in the output directory,
computed with the same options, are skipped, so an interrupted batch is resumed by running
the same command again. A worker that dies mid-task has its task rerun elsewhere by the
scheduler; a task that raises an unexpected error is retried ``retries`` times.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vo_ocml.batch.targets import Target, check_unique
from vo_ocml.batch.task import (DEFAULT_COLUMNS, STATUS_DONE, failure_record, members_path,
                                process_target, read_record, write_record)
from vo_ocml.errors import InputError

log = logging.getLogger(__name__)

__all__ = ["BatchResult", "run_batch", "default_workers"]

#: Dask retries of a task that raised an unexpected exception (a dead worker is separate:
#: the scheduler reruns its tasks, up to ``distributed.scheduler.allowed-failures`` times)
DEFAULT_RETRIES = 2


def default_workers() -> int:
    """Worker processes for a LocalCluster: the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class BatchResult:
    """What :func:`run_batch` produced.

    Attributes
    ----------
    outdir : pathlib.Path
        The output directory.
    summary : astropy.table.Table
        One row per target (status, reason, counts, means ± SE, centre, r50, King r_c,
        significance, run time, options, catalogue values and the comparison).
    files : dict of str to pathlib.Path
        The files written: "members" (Parquet), "summary" (Parquet), "summary_csv",
        "overview" (HTML), "provenance" (JSON), and any requested VOTable/FITS copies.
    counts : dict of str to int
        "found", "not_found", "failed" over all targets; "run" (processed now) and
        "skipped" (already done: resumed).
    elapsed_s : float
        Wall-clock time of the batch.
    """

    outdir: Path
    summary: Any
    files: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0


@contextmanager
def _client(scheduler: str | None, client, workers: int | None,
            memory_limit: str | float | None) -> Iterator[Any]:
    from vo_ocml.batch import require_extra
    require_extra()
    from distributed import Client, LocalCluster

    if client is not None:
        yield client
        return
    if scheduler:
        with Client(scheduler) as c:
            yield c
        return
    n = workers or default_workers()
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      memory_limit=memory_limit if memory_limit is not None else "auto",
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as c:
        yield c


def normalise_options(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` parsed and checked by the options model, in the canonical form of
    :meth:`vo_ocml.options.RunOptions.run_kwargs` (so that equal options compare equal on
    resume), without ``cluster``, ``centroid`` and ``position``, which each target gives.

    Raises
    ------
    InputError
        An unknown option, a bad value, or a cluster, centroid or position.
    """
    from vo_ocml.options import RunOptions
    from vo_ocml.options.model import TARGET_OPTIONS

    if any(options.get(k) is not None for k in TARGET_OPTIONS):
        raise InputError(f"{', '.join(TARGET_OPTIONS)} do not apply to a batch: each target "
                         "gives its own.")
    kwargs = RunOptions().updated({k: v for k, v in options.items()
                                   if k not in TARGET_OPTIONS}).run_kwargs()
    for k in TARGET_OPTIONS:
        del kwargs[k]
    return kwargs


def is_done(outdir: Path, target: Target, options: dict[str, Any]) -> bool:
    """Whether ``target`` has a finished result in ``outdir`` computed with ``options``."""
    record = read_record(outdir, target)
    same = json.loads(json.dumps(options, default=str)) == record.get("options") if record else False
    return (record is not None and record.get("status") in STATUS_DONE and same
            and members_path(outdir, target).is_file())


class _Progress:
    """tqdm bar with done / failed / remaining and the rate in clusters per minute."""

    def __init__(self, total: int, enabled: bool) -> None:
        from tqdm import tqdm
        self.bar = tqdm(total=total, unit="cluster", desc="batch", disable=not enabled,
                        file=sys.stderr, dynamic_ncols=True)
        self.done = self.failed = 0
        self.total = total
        self.start = time.perf_counter()

    def update(self, failed: bool) -> None:
        self.failed += failed
        self.done += not failed
        minutes = (time.perf_counter() - self.start) / 60.0
        rate = (self.done + self.failed) / minutes if minutes > 0 else 0.0
        self.bar.set_postfix(done=self.done, failed=self.failed,
                             remaining=self.total - self.done - self.failed,
                             per_min=f"{rate:.1f}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def run_batch(targets: Sequence[Target], source, outdir: str | Path, *,
              options: dict[str, Any] | None = None, columns: Sequence[str] = DEFAULT_COLUMNS,
              workers: int | None = None, memory_limit: str | float | None = "auto",
              scheduler: str | None = None, client=None, retries: int = DEFAULT_RETRIES,
              outside: str = "fail", formats: Sequence[str] = (), overview: bool = True,
              progress: bool = True) -> BatchResult:
    """Find the members of many clusters, one Dask task per cluster.

    Parameters
    ----------
    targets : sequence of Target
        The clusters (:mod:`vo_ocml.batch.targets`).
    source : DirSource, HatsSource or TapSource
        Where the cones come from (:func:`vo_ocml.batch.sources.parse_source`).
    outdir : str or pathlib.Path
        Output directory; per-cluster results go to ``outdir/clusters/``. With a remote
        ``scheduler`` it must be on a file system the workers share.
    options : dict, optional
        Keyword arguments of :func:`vo_ocml.run` for every cluster (``method``,
        ``threshold``, ``random_state``, method parameters).
    columns : sequence of str
        Gaia columns kept in the member catalogue (besides source_id, cluster, probability).
    workers : int, optional
        LocalCluster worker processes (one thread each); default the usable cores.
    memory_limit : str or float, optional
        Per-worker memory limit of the LocalCluster ("auto": the machine's memory / workers,
        "4GiB", bytes; None: no limit).
    scheduler : str, optional
        Address of a running Dask scheduler ("tcp://host:8786") to use instead.
    client : distributed.Client, optional
        An existing client to use (the Python equivalent of ``scheduler``).
    retries : int
        Retries of a task that raised an unexpected error.
    outside : {"fail", "drop"}
        Targets the source does not cover (no file; centre outside the HATS footprint):
        recorded as failed, or left out of the batch.
    formats : sequence of {"votable", "fits", "csv"}
        Extra formats for the member catalogue and the summary (Parquet is always written).
    overview : bool
        Write ``overview.html``.
    progress : bool
        Show the progress bar on stderr.

    Returns
    -------
    BatchResult

    Raises
    ------
    InputError
        No targets, duplicate names, bad options.
    """
    from vo_ocml.batch.outputs import assemble

    started = time.perf_counter()
    options = normalise_options(options or {})
    if outside not in ("fail", "drop"):
        raise InputError(f"outside must be 'fail' or 'drop', not {outside!r}.")
    check_unique(targets)
    outdir = Path(outdir)
    (outdir / "clusters").mkdir(parents=True, exist_ok=True)
    flags = [source.covers(t) for t in targets]
    covered = [t for t, ok in zip(targets, flags) if ok]
    uncovered = [t for t, ok in zip(targets, flags) if not ok]
    if outside == "drop":
        if uncovered:
            log.info("%d of %d targets are outside %s and were left out", len(uncovered),
                     len(targets), source.spec)
        targets = covered
    else:
        for t in uncovered:
            write_record(outdir, t, failure_record(
                t, source.spec, f"outside the source's coverage ({source.spec})", options))
    if not targets:
        raise InputError(f"No targets to run: none of the clusters is covered by {source.spec}.")
    todo = [t for t in covered if not is_done(outdir, t, options)]
    skipped = len(covered) - len(todo)
    counts = {"run": len(todo), "skipped": skipped}
    if todo:
        _submit(todo, source, options, outdir, columns, workers, memory_limit, scheduler,
                client, retries, progress)
    result = assemble(targets, source, outdir, options=options, columns=columns,
                      formats=formats, overview=overview)
    statuses = [str(s) for s in result.summary["status"]]
    counts.update({s: statuses.count(s) for s in ("found", "not_found", "failed")})
    result.counts = counts
    result.elapsed_s = time.perf_counter() - started
    return result


def _submit(todo: Sequence[Target], source, options: dict[str, Any], outdir: Path,
            columns: Sequence[str], workers: int | None, memory_limit, scheduler: str | None,
            client, retries: int, progress: bool) -> None:
    from distributed import as_completed

    batch_id = uuid.uuid4().hex[:8]
    bar = _Progress(len(todo), progress)
    try:
        with _client(scheduler, client, workers, memory_limit) as c:
            keys = [f"ocml-{t.slug}-{batch_id}" for t in todo]
            futures = c.map(process_target, list(todo), source=source, options=options,
                            outdir=str(outdir), columns=tuple(columns), key=keys,
                            retries=retries, pure=False)
            by_key = dict(zip(keys, todo))
            for future in as_completed(futures):
                target = by_key[future.key]
                try:
                    record = future.result()
                except Exception as exc:  # after retries; KilledWorker too
                    reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                    record = failure_record(target, source.spec, reason, options)
                    write_record(outdir, target, record)
                bar.update(record["status"] == "failed")
                future.release()
    finally:
        bar.close()
