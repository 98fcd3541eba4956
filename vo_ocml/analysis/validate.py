"""Validation of a membership against a reference membership.

The reference can be a boolean (or 0–1 probability) column of the annotated table, a table of
reference members with a Gaia ``source_id`` column (a file path is read), or a collection of
source_ids. Reference members are matched to the annotated table by ``source_id``; reference
rows whose id is not found (Gaia DR2 ids that changed in DR3: a few per cent) are matched by
position within ``max_separation`` (1 arcsec by default) when the reference carries ra/dec.
The DR2 (J2015.5) and DR3 (J2016.0) epochs differ by half a year, far below 1 arcsec for any
cluster.

Metrics are computed over the reference members present in the input table (a reference
member outside the cone cannot be found by any method):

- completeness = TP / N(reference members in the table)
- contamination = FP / N(our members) (= 1 − precision)
- F1 = 2 TP / (N(our members) + N(reference members in the table))

and the mean pmra, pmdec, parallax and sky centre of both member sets are compared (both from
the annotated table's own astrometry, with standard errors of the mean).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.table import Table

from vo_ocml.analysis._annotated import run_view
from vo_ocml.membership.sky import angular_distance
from vo_ocml.errors import InputError
from vo_ocml.io.columns import resolve_columns
from vo_ocml.io.tables import param
from vo_ocml.io.tables import read_table
from vo_ocml.membership.sky import sky_centre

#: names tried (case-insensitively, in order) for the reference's source_id column
ID_COLUMNS = ("source_id", "source_id_dr3", "dr3_source_id", "GaiaDR3", "source_id_dr2",
              "dr2_source_id", "GaiaDR2", "Source", "DR3Name", "DR2Name")
#: below this fraction of reference ids found, a note suggests a positional match
GOOD_MATCH = 0.9


@dataclass(frozen=True)
class Comparison:
    """One centroid quantity of our members against the reference members.

    Attributes
    ----------
    name, unit : str
        Quantity (``pmra``, ``pmdec``, ``parallax``, ``centre``) and unit.
    ours, ours_se, reference, reference_se : float
        Means and standard errors of the mean (for ``centre``: 0 and the offset is in
        ``difference``).
    difference : float
        ``ours − reference`` (for ``centre``: the angular offset of the two sky centres).
    """

    name: str
    unit: str
    ours: float
    ours_se: float
    reference: float
    reference_se: float
    difference: float

    @property
    def significance(self) -> float:
        """``|difference|`` in units of the combined standard error (NaN if unknown)."""
        se = np.hypot(self.ours_se, self.reference_se)
        return float(abs(self.difference) / se) if se > 0 else float("nan")


@dataclass(frozen=True)
class Validation:
    """Our membership against a reference membership.

    Attributes
    ----------
    threshold : float
        Our members are the rows with ``ocml_prob > threshold``.
    reference_source : str
        What the reference was (column, file, table or id list).
    n_reference : int
        Distinct reference members given.
    n_matched : int
        Reference members found in the annotated table.
    n_by_id, n_by_position : int
        How many of them were matched by source_id and by position (both 0 for a column).
    n_predicted : int
        Our members.
    n_true_positive : int
        Our members that are reference members.
    completeness, contamination, f1 : float
        See the module docstring (NaN when undefined).
    comparisons : tuple of Comparison
        pmra, pmdec, parallax and the sky centre of both member sets.
    notes : tuple of str
        Warnings worth showing (poor id match, empty sets …).
    reference_mask : ndarray of bool
        Per row of the annotated table: is it a matched reference member.
    """

    threshold: float
    reference_source: str
    n_reference: int
    n_matched: int
    n_by_id: int
    n_by_position: int
    n_predicted: int
    n_true_positive: int
    completeness: float
    contamination: float
    f1: float
    comparisons: tuple[Comparison, ...]
    notes: tuple[str, ...]
    reference_mask: np.ndarray = field(repr=False, compare=False)

    @property
    def match_fraction(self) -> float:
        """Fraction of the reference members found in the annotated table."""
        return self.n_matched / self.n_reference if self.n_reference else float("nan")

    @property
    def precision(self) -> float:
        """``1 − contamination``."""
        return 1.0 - self.contamination

    def as_rows(self) -> list[tuple[str, str]]:
        """Rows ``(label, value)`` for tables and text output."""
        rows = [("reference", self.reference_source), ("reference members", f"{self.n_reference}")]
        if self.n_by_id or self.n_by_position or not self.reference_source.startswith("column"):
            rows.append(("found in table", f"{self.n_matched} ({100 * self.match_fraction:.1f} %; "
                                           f"{self.n_by_id} by source_id, {self.n_by_position} by position)"))
        rows += [
            (f"our members (P > {self.threshold:g})", f"{self.n_predicted}"),
            ("in both", f"{self.n_true_positive}"),
            ("completeness", _percent(self.completeness)),
            ("contamination", _percent(self.contamination)),
            ("F1", f"{self.f1:.3f}"),
        ]
        for c in self.comparisons:
            if c.name == "centre":
                rows.append(("Δ centre", f"{c.difference:.3g} {c.unit}"))
            else:
                rows.append((f"Δ {c.name}", f"{c.difference:+.3f} {c.unit} ({c.significance:.1f}σ): "
                                            f"{c.ours:.3f} ± {c.ours_se:.3f} vs "
                                            f"{c.reference:.3f} ± {c.reference_se:.3f}"))
        rows.extend(("note", note) for note in self.notes)
        return rows

    def format(self) -> str:
        """Multi-line text summary."""
        width = max(len(label) for label, _ in self.as_rows())
        return "\n".join(f"{label:<{width}}  {value}" for label, value in self.as_rows())

    def as_params(self) -> list[dict[str, Any]]:
        """VOTable PARAM dicts (name, value, ucd, unit, description) for the output table."""
        p = param
        params = [
            p("ocml_validation_reference", self.reference_source, "meta.ref", None, "reference membership"),
            p("ocml_validation_n_reference", self.n_reference, "meta.number", None, "reference members"),
            p("ocml_validation_n_matched", self.n_matched, "meta.number", None,
              "reference members found in the table"),
            p("ocml_validation_completeness", self.completeness, "stat.value", None,
              "fraction of the reference members found in the table that are members"),
            p("ocml_validation_contamination", self.contamination, "stat.value", None,
              "fraction of the members that are not reference members"),
            p("ocml_validation_f1", self.f1, "stat.value", None, "F1 score against the reference"),
        ]
        for c in self.comparisons:
            params.append(p(f"ocml_validation_delta_{c.name}", c.difference, "arith.diff", c.unit,
                            f"members' mean {c.name} minus the reference members'" if c.name != "centre"
                            else "angular offset of the members' and reference members' centres"))
        return params


def _percent(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:.1f} %"


def _id_column(reference: Table) -> str:
    lower = {name.lower(): name for name in reference.colnames}
    for candidate in ID_COLUMNS:
        if candidate.lower() in lower:
            return lower[candidate.lower()]
    hits = [name for name in reference.colnames if "source_id" in name.lower()]
    if hits:
        return hits[0]
    raise InputError(
        "The reference table has no Gaia source_id column (tried "
        f"{', '.join(ID_COLUMNS)}); its columns are {', '.join(reference.colnames)}.")


def _column_reference(table: Table, name: str) -> np.ndarray:
    column = table[name]
    if column.dtype.kind == "b":
        values = column.filled(False) if hasattr(column, "filled") else column
        return np.asarray(values, dtype=bool)
    if column.dtype.kind in "iuf":
        values = column.filled(0) if hasattr(column, "filled") else column
        return np.nan_to_num(np.asarray(values, dtype=float), nan=0.0) > 0.5
    text = np.char.lower(np.asarray(column).astype(str))
    return np.isin(text, ("true", "t", "1", "yes", "y"))


def _match(arrays: dict[str, np.ndarray], reference: Table | Collection[int],
           max_separation: float) -> tuple[np.ndarray, int, int, int, bool]:
    """Reference mask over the table's rows, number of reference members, matched by id, matched
    by position, and whether the reference has positions."""
    if "source_id" not in arrays:
        raise InputError("The annotated table has no source_id column; a reference list of "
                         "members cannot be matched to it (use a boolean column instead).")
    ids = arrays["source_id"]
    if isinstance(reference, Table):
        id_name = _id_column(reference)
        ref_map = resolve_columns(reference, overrides={"source_id": id_name}, required=())
        ref_ids = ref_map.array(reference, "source_id")
        has_positions = {"ra", "dec"} <= ref_map.columns.keys()
        ref_pos = ref_map.arrays(reference, ("ra", "dec")) if has_positions else None
    else:
        ref_ids = np.fromiter((int(i) for i in reference), dtype=np.int64)
        ref_pos = None
    _, first = np.unique(ref_ids, return_index=True)
    keep = np.sort(first[ref_ids[first] > 0])
    ref_ids = ref_ids[keep]
    mask = np.isin(ids, ref_ids)
    by_id = np.isin(ref_ids, ids)
    n_position = 0
    if ref_pos is not None and not by_id.all():
        ra, dec = ref_pos["ra"][keep], ref_pos["dec"][keep]
        todo = ~by_id & np.isfinite(ra) & np.isfinite(dec)
        ok = np.isfinite(arrays["ra"]) & np.isfinite(arrays["dec"]) & ~mask
        if todo.any() and ok.any():
            from astropy.coordinates import SkyCoord
            rows = np.flatnonzero(ok)
            catalogue = SkyCoord(arrays["ra"][rows], arrays["dec"][rows], unit="deg")
            idx, sep, _ = SkyCoord(ra[todo], dec[todo], unit="deg").match_to_catalog_sky(catalogue)
            hit = sep.arcsec <= max_separation
            matched_rows = np.unique(rows[idx[hit]])
            mask[matched_rows] = True
            n_position = int(matched_rows.size)
    return mask, int(ref_ids.size), int(by_id.sum()), n_position, ref_pos is not None


def _compare(arrays: dict[str, np.ndarray], ours: np.ndarray, ref: np.ndarray) -> tuple[Comparison, ...]:
    out = []
    for name, unit in (("pmra", "mas/yr"), ("pmdec", "mas/yr"), ("parallax", "mas")):
        a, b = arrays[name][ours], arrays[name][ref]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if a.size < 2 or b.size < 2:
            continue
        ma, mb = float(a.mean()), float(b.mean())
        out.append(Comparison(name, unit, ma, float(a.std(ddof=1) / np.sqrt(a.size)),
                              mb, float(b.std(ddof=1) / np.sqrt(b.size)), ma - mb))
    if ours.any() and ref.any():
        c1 = sky_centre(arrays["ra"][ours], arrays["dec"][ours])
        c2 = sky_centre(arrays["ra"][ref], arrays["dec"][ref])
        offset = float(angular_distance(np.array([c1[0]]), np.array([c1[1]]), *c2)[0]) * 60.0
        out.append(Comparison("centre", "arcmin", 0.0, 0.0, 0.0, 0.0, offset))
    return tuple(out)


def validate(
    run: Any,
    reference: Table | str | os.PathLike | Collection[int],
    *,
    threshold: float | None = None,
    max_separation: float = 1.0,
) -> Validation:
    """Compare the membership of a run with a reference membership.

    Parameters
    ----------
    run : vo_ocml.annotated.Annotated or astropy.table.Table
        The run, or a table annotated by vo_ocml (``ocml_prob`` column).
    reference : Table, str, path or collection of int
        - str naming a column of ``annotated_table``: boolean flag or probability (> 0.5);
        - a path (or a str that is not a column name) to a table file of reference members;
        - an astropy Table of reference members with a source_id column (names tried:
          :data:`ID_COLUMNS`) and optionally ra/dec for the positional fall-back;
        - a collection of Gaia source_ids.
    threshold : float, optional
        Our members are the rows with probability above it; by default the run's threshold.
    max_separation : float
        Positional match radius in arcsec for reference rows whose source_id is not found.

    Returns
    -------
    Validation

    Raises
    ------
    InputError
        The reference cannot be read or matched (no source_id column, unknown column, …).
    """
    view = run_view(run, threshold)
    table, arrays, ours = view.table, view.arrays, view.member
    notes: list[str] = []
    if isinstance(reference, str) and reference in table.colnames:
        ref = _column_reference(table, reference)
        source = f"column {reference}"
        n_reference = n_matched = int(ref.sum())
        n_id = n_position = 0
    else:
        if isinstance(reference, (str, os.PathLike)):
            if not os.path.exists(reference):
                raise InputError(f"The reference {os.fspath(reference)!r} is neither a column of the "
                                 "table nor a file.")
            source = f"file {os.path.basename(os.fspath(reference))}"
            reference = read_table(os.fspath(reference))
        else:
            source = "table" if isinstance(reference, Table) else "list of source_ids"
        ref, n_reference, n_id, n_position, has_positions = _match(arrays, reference, max_separation)
        n_matched = int(ref.sum())
        if n_reference and n_id / n_reference < GOOD_MATCH:
            notes.append(
                f"{n_reference - n_id} of {n_reference} reference source_ids are not in the table "
                "(outside its footprint or cuts, or Gaia DR2 ids that changed in DR3)"
                + ("; matched by position where possible." if has_positions else
                   "; give the reference ra/dec for a positional match."))
    if n_matched == 0:
        notes.append("no reference member is in the table: completeness is undefined.")
    tp = int((ours & ref).sum())
    n_pred = int(ours.sum())
    completeness = tp / n_matched if n_matched else float("nan")
    contamination = (n_pred - tp) / n_pred if n_pred else float("nan")
    f1 = 2 * tp / (n_pred + n_matched) if n_pred + n_matched else float("nan")
    return Validation(
        threshold=view.threshold, reference_source=source, n_reference=n_reference, n_matched=n_matched,
        n_by_id=n_id, n_by_position=n_position, n_predicted=n_pred, n_true_positive=tp,
        completeness=completeness, contamination=contamination, f1=f1,
        comparisons=_compare(arrays, ours, ref), notes=tuple(notes), reference_mask=ref,
    )
