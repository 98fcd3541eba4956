"""Assemble a batch's outputs from its per-cluster files.

- ``members.parquet``: every member of every cluster found (source_id, cluster, row in its
  cone, ocml_prob, ocml_stage and the Gaia columns asked for), in target order; VOTable/FITS
  copies on request.
- ``summary.parquet`` and ``summary.csv``: one row per target — status (found, not_found,
  failed) and why, N(P > threshold), N(P > 0.8), means ± SE, centre, r50, King r_c,
  detection significance, times, options — with the catalogue's values and the comparison
  (:mod:`vo_ocml.batch.compare`).
- ``overview.html`` (:mod:`vo_ocml.batch.overview`) and ``provenance.json``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from vo_ocml import __version__
from vo_ocml.analysis.summary import FILL_ADVICE, FILL_WARNING, NO_MATCH
from vo_ocml.batch.targets import Target
from vo_ocml.batch.task import members_path, read_record
from vo_ocml.io.atomic import atomic_write

__all__ = ["assemble", "SUMMARY_COLUMNS"]

#: summary columns: name → (unit, description)
SUMMARY_COLUMNS = {
    "name": (None, "cluster name"),
    "status": (None, "found, not_found (no cluster in the cone) or failed"),
    "reason": (None, "why not found or failed"),
    "n_rows": (None, "rows in the cone"),
    "n_members": (None, "members: probability above the threshold"),
    "n_p08": (None, "stars with probability above 0.8"),
    "pmra": ("mas/yr", "members' mean pmra"), "pmra_se": ("mas/yr", "its standard error"),
    "pmdec": ("mas/yr", "members' mean pmdec"), "pmdec_se": ("mas/yr", "its standard error"),
    "parallax": ("mas", "members' mean parallax"),
    "parallax_se": ("mas", "its standard error"),
    "ra": ("deg", "members' centre, ICRS RA"), "dec": ("deg", "members' centre, ICRS Dec"),
    "r50": ("deg", "median distance of members from the centre"),
    "fill": (None, "r50 over the median distance of the cone's rows from the centre; from "
             f"{FILL_WARNING:g} up {FILL_ADVICE}"),
    "king_rc": ("deg", "King (1962) core radius"), "king_rc_err": ("deg", "its uncertainty"),
    "significance": (None, "Poisson significance of the detected overdensity (NaN when the "
                     "centroid was given)"),
    "centroid_source": (None, "where the seed centroid came from"),
    "cone_ra": ("deg", "cone centre RA"), "cone_dec": ("deg", "cone centre Dec"),
    "cone_radius": ("deg", "cone radius"), "radius_source": (None, "where the radius came from"),
    "catalogue_name": (None, "catalogue name passed to the run (its centroid seeds it)"),
    "catalogue_match": (None, "the found cluster's catalogue counterpart, for a run not named "
                        f"after one (empty: {NO_MATCH}, or not looked up)"),
    "fetch_time_s": ("s", "time to get the cone"), "run_time_s": ("s", "time of the run"),
    "worker": (None, "host:pid of the worker"),
    "peak_rss_mb": ("MiB", "the worker process's peak resident memory when the task ended"), "finished": (None, "when it finished (UTC)"),
    "options": (None, "vo_ocml.run options (JSON)"), "source": (None, "the Gaia source"),
}


def _value(record: dict[str, Any], key: str):
    value = record.get(key, math.nan)
    if key == "options":
        return json.dumps(value, sort_keys=True)
    if value is None:
        return math.nan
    return value


def summary_table(records: Sequence[dict[str, Any]]) -> Table:
    """One row per record, with units and descriptions, plus the comparison columns."""
    from vo_ocml.batch.compare import add_comparison

    table = Table()
    for key, (unit, description) in SUMMARY_COLUMNS.items():
        values = [_value(r, key) for r in records]
        is_text = key in ("name", "status", "reason", "centroid_source", "radius_source",
                          "catalogue_name", "catalogue_match", "worker", "finished", "options",
                          "source")
        if is_text:
            column = np.array([str(v) if not (isinstance(v, float) and math.isnan(v)) else ""
                               for v in values], dtype=str)
        elif key in ("n_rows", "n_members", "n_p08"):
            column = np.array([-1 if (isinstance(v, float) and math.isnan(v)) else int(v)
                               for v in values], dtype=np.int64)
        else:
            column = np.array(values, dtype=np.float64)
        table[key] = column
        table[key].unit = unit
        table[key].description = description
    add_comparison(table, [r.get("reference", {}) for r in records])
    return table


def _members(targets: Sequence[Target], records, outdir: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = [pq.read_table(members_path(outdir, t)) for t, r in zip(targets, records)
             if r.get("status") == "found" and members_path(outdir, t).is_file()]
    if not parts:
        return None
    return pa.concat_tables([p.replace_schema_metadata(None) for p in parts],
                            promote_options="permissive")


def _provenance(targets, source, options, columns, records) -> dict[str, Any]:
    return {
        "ocml_version": __version__,
        "ocml_date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "ocml_batch_source": source.spec,
        "ocml_batch_targets": len(targets),
        "ocml_batch_columns": list(columns),
        "ocml_batch_options": options,
        "ocml_batch_found": sum(r.get("status") == "found" for r in records),
        "ocml_batch_failed": sum(r.get("status") == "failed" for r in records),
    }


def _params(provenance: dict[str, Any]) -> list[dict[str, Any]]:
    from vo_ocml.io.tables import param
    return [param(k, json.dumps(v) if isinstance(v, (dict, list)) else v, "meta.note", None,
                  k.replace("ocml_", "").replace("_", " ")) for k, v in provenance.items()]


def assemble(targets: Sequence[Target], source, outdir: str | Path, *,
             options: dict[str, Any], columns: Sequence[str], formats: Sequence[str] = (),
             overview: bool = True):
    """Write the batch's outputs from the per-cluster records; returns a BatchResult."""
    import pyarrow.parquet as pq

    from vo_ocml.batch.driver import BatchResult
    from vo_ocml.io.tables import write_table

    outdir = Path(outdir)
    records = []
    for t in targets:
        record = read_record(outdir, t)
        records.append(record if record is not None else {
            "name": t.name, "status": "failed", "reason": "no result (interrupted?)",
            "reference": t.reference})
    summary = summary_table(records)
    provenance = _provenance(targets, source, options, columns, records)
    files: dict[str, Path] = {}
    summary.meta["ocml_params"] = _params(provenance)
    files["summary"] = outdir / "summary.parquet"
    atomic_write(files["summary"],
                 lambda p: summary.write(p, format="parquet", overwrite=True))
    files["summary_csv"] = outdir / "summary.csv"
    atomic_write(files["summary_csv"],
                 lambda p: summary.write(p, format="ascii.csv", overwrite=True))
    members = _members(targets, records, outdir)
    if members is not None:
        meta = {"ocml_params": json.dumps(provenance, default=str)}
        files["members"] = outdir / "members.parquet"
        atomic_write(files["members"],
                     lambda p: pq.write_table(members.replace_schema_metadata(meta), p))
    suffix = {"votable": ".vot", "fits": ".fits", "csv": ".csv"}
    for fmt in formats:
        if fmt not in suffix:
            from vo_ocml.errors import InputError
            raise InputError(f"Unknown output format {fmt!r}; use votable, fits or csv.")
        if members is not None:
            table = Table.from_pandas(members.to_pandas())
            table.meta["ocml_params"] = _params(provenance)
            files[f"members_{fmt}"] = outdir / f"members{suffix[fmt]}"
            atomic_write(files[f"members_{fmt}"],
                         lambda p, t=table: write_table(t, p, format=fmt, overwrite=True))
        if fmt != "csv":
            files[f"summary_{fmt}"] = outdir / f"summary{suffix[fmt]}"
            atomic_write(files[f"summary_{fmt}"],
                         lambda p: write_table(summary, p, format=fmt, overwrite=True))
    files["provenance"] = outdir / "provenance.json"
    atomic_write(files["provenance"], lambda p: Path(p).write_text(
        json.dumps(provenance, indent=1, default=str), encoding="utf-8"))
    if overview:
        from vo_ocml.batch.overview import write_overview
        files["overview"] = outdir / "overview.html"
        write_overview(summary, files["overview"], provenance)
    return BatchResult(outdir=outdir, summary=summary, files=files)

