"""A self-contained HTML report of one run: plots, summary, King profile, validation, provenance.

:func:`write_report` writes ``index.html`` and its PNG plots into one directory. The page links
the images by relative paths and carries its own CSS (no JavaScript, nothing fetched), so the
directory can be opened offline, copied, zipped, or served (e.g. to a SAMP client).
"""

from __future__ import annotations

import datetime as _dt
import html
import os
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from astropy.table import Table

from vo_ocml.analysis.king import KingFit, fit_members
from vo_ocml.analysis.plots import PlotData, save_plots
from vo_ocml.analysis.summary import NO_MATCH
from vo_ocml.analysis.validate import Validation, validate
from vo_ocml.errors import InputError

#: caption of each plot, in the order shown
CAPTIONS = {
    "cmd": "Colour–magnitude diagram: members coloured by probability over the field (grey).",
    "pm": "Proper-motion plane around the cluster; the cross is the centroid the run used.",
    "parallax": "Parallax distribution of members and field around the cluster (every row, "
                "logarithmic counts).",
    "sky": "Sky positions of members over the field.",
    "king": "Surface density of the members in equal-count annuli with the fitted King (1962) profile.",
    "mst": "Minimum-spanning-tree edge weights, heaviest first, with the cut above which stars are "
           "pruned as isolated.",
    "dec_groups": "DEC's groups in the proper-motion plane; the group holding the members is the cluster.",
    "kde": "Kernel density of members and non-members in each astrometric parameter.",
    "validation": "Our members against the reference: in both (green), vo_ocml only (orange), "
                  "reference only (purple).",
}
#: plots shown across the full page width
_WIDE = ("kde", "validation")

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1180px; padding: 1em 1.5em; color: #222; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
p.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { font-variant-numeric: tabular-nums; }
.tables { display: flex; flex-wrap: wrap; gap: 2em; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 1em; }
figure { margin: 0; }
figure.wide { grid-column: 1 / -1; }
figure img { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.88em; color: #444; margin-top: 0.3em; }
.note { background: #fff7e0; border-left: 4px solid #e0a800; padding: 0.4em 0.8em; }
"""


def _rows_table(rows: Iterable[tuple[str, Any]], header: tuple[str, str] | None = None) -> str:
    head = f"<tr><th>{html.escape(header[0])}</th><th>{html.escape(header[1])}</th></tr>" if header else ""
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td class=num>{html.escape(str(v))}</td></tr>"
                   for k, v in rows)
    return f"<table>{head}{body}</table>"


def _provenance_table(entries: list[dict]) -> str:
    if not entries:
        return "<p>No provenance recorded in the table.</p>"
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(e.get(k, '') if e.get(k) is not None else ''))}</td>"
                         for k in ("name", "value", "unit", "ucd", "description")) + "</tr>"
        for e in entries)
    return ("<table><tr><th>name</th><th>value</th><th>unit</th><th>UCD</th><th>description</th></tr>"
            f"{cells}</table>")


def _figures(paths: dict[str, Path], directory: Path) -> str:
    parts = []
    for name in CAPTIONS:
        if name not in paths:
            continue
        src = html.escape(os.path.relpath(paths[name], directory).replace(os.sep, "/"))
        cls = ' class="wide"' if name in _WIDE else ""
        parts.append(f'<figure{cls}><img src="{src}" alt="{html.escape(name)} plot">'
                     f"<figcaption>{html.escape(CAPTIONS[name])}</figcaption></figure>")
    return f'<div class="grid">{"".join(parts)}</div>'


def _clusters_html(annotated: Any, directory: Path) -> str:
    """The joint run's figure and one table per cluster (summary and catalogue match)."""
    from vo_ocml.analysis.cluster_plots import save_cluster_plot

    path = save_cluster_plot(annotated, directory)
    parts = [f'<figure class="wide"><img src="{html.escape(path.name)}" alt="clusters plot">'
             "<figcaption>Each cluster's members (P above the threshold for that cluster) in "
             "the proper-motion plane and on the sky; field stars grey.</figcaption></figure>"]
    for c in annotated.clusters:
        rows = [row for row in c.summary.as_rows() if row[0] not in ("steps", "method",
                                                                     "cluster found")]
        rows.insert(0, ("probability column", c.column))
        rows.append(("detection significance", f"{c.found.significance:.1f} σ"
                     if c.found.significance == c.found.significance else "— (named)"))
        rows.append(("catalogue match", NO_MATCH if c.match is None else c.match.describe()))
        parts.append(f"<div><h3>{html.escape(c.name)}</h3>{_rows_table(rows)}</div>")
    return f'<div class="tables">{"".join(parts)}</div>'


def _page(title: str, meta: str, sections: list[tuple[str, str]]) -> str:
    body = "".join(f"<h2>{html.escape(heading)}</h2>{content}" for heading, content in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p class=\"meta\">{html.escape(meta)}</p>{body}</body></html>\n")


def write_report(
    annotated: Any,
    directory: str | os.PathLike,
    *,
    reference: Table | str | os.PathLike | Collection[int] | None = None,
    title: str | None = None,
    threshold: float | None = None,
) -> Path:
    """Write an HTML report of a run (plots, summary, King fit, validation, provenance).

    Parameters
    ----------
    annotated : vo_ocml.annotated.Annotated
        The run: ``.table`` (annotated table), ``.result`` (MembershipResult) and ``.summary``
        (with ``as_rows()``).
    directory : str or path
        Where ``index.html`` and the PNGs go (created if needed; files of the same names are
        replaced).
    reference : optional
        A reference membership for :func:`vo_ocml.analysis.validate.validate` (column name,
        file, table or source_ids); adds the validation numbers and overlay plot.
    title : str, optional
        Page title; by default "vo_ocml: <cluster name>".
    threshold : float, optional
        Membership threshold; by default the run's.

    Returns
    -------
    pathlib.Path
        The ``index.html`` written.

    Raises
    ------
    InputError
        The table is not annotated, or the reference cannot be used.
    """
    directory = Path(directory)
    table = annotated.table
    result = annotated.result
    data = PlotData.from_run(annotated, threshold=threshold)
    threshold = data.threshold
    if title is None:
        title = f"vo_ocml: {data.title}" if data.title else "vo_ocml membership report"

    king: KingFit | None = None
    king_note = ""
    try:
        king = fit_members(annotated, threshold=threshold)
    except InputError as exc:
        king_note = str(exc)
    validation: Validation | None = None
    if reference is not None:
        validation = validate(annotated, reference, threshold=threshold)
    paths = save_plots(data, directory, king=king, validation=validation)

    sections: list[tuple[str, str]] = []
    summary_rows = [row for row in annotated.summary.as_rows() if row[0] != "steps"]
    tables = [f"<div><h3>Membership</h3>{_rows_table(summary_rows)}</div>"]
    tables.append("<div><h3>Steps</h3>"
                  f"{_rows_table(result.step_counts.items(), ('step', 'stars'))}</div>")
    sections.append(("Summary", f'<div class="tables">{"".join(tables)}</div>'))
    if not result.found:
        sections.append(("No cluster", '<p class="note">No cluster was found in the data: every '
                                       "complete row has probability 0.</p>"))
    clusters = getattr(annotated, "clusters", [])
    if clusters:
        sections.append(("Clusters", _clusters_html(annotated, directory)))
    king_html = _rows_table(king.as_rows()) if king is not None else \
        f'<p class="note">No King profile: {html.escape(king_note)}</p>'
    sections.append(("King profile", king_html))
    if validation is not None:
        notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in validation.notes)
        rows = [(k, v) for k, v in validation.as_rows() if k != "note"]
        sections.append(("Validation against the reference", _rows_table(rows) + notes))
    sections.append(("Plots", _figures(paths, directory)))
    facts = [(k, f"{v:.4g}" if isinstance(v, float) else v) for k, v in result.details.items()
             if isinstance(v, (str, int, float, bool))]
    provenance = _provenance_table(list(table.meta.get("ocml_params", []) or []))
    if facts:
        provenance += f"<h3>Method details</h3>{_rows_table(facts)}"
    sections.append(("Provenance", provenance))

    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta = f"{len(table):,} rows · method {result.method} · threshold P > {threshold:g} · written {stamp}"
    index = directory / "index.html"
    index.write_text(_page(title, meta, sections), encoding="utf-8")
    return index
