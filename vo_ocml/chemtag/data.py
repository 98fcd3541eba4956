"""Dataset preparation for chemical tagging: columns, selection cuts, missing values.

A star table (any astropy-readable table) becomes a :class:`ChemDataset`: the abundance matrix
``X``, the birth-cluster labels ``y``, the uncertainties ``sigma`` where error columns exist, and
a :class:`SelectionReport` saying what every cut removed.

Column conventions (case-insensitive):

- label: ``CLUSTER``, ``cluster_name``, ``label`` (or any name passed as ``label``);
- abundances: ``X_FE`` or ``X_H`` where ``X`` is an element symbol (APOGEE's ``CI`` and ``TIII``
  included), e.g. ``MG_FE``, ``FE_H``;
- uncertainties of abundance ``A``: ``A_ERR``, ``e_A``, ``E_A`` or ``sigma_A``;
- optional: a star identifier (``APOGEE_ID``, ``source_id``, ``star_id``, ``ID``) and ``SNR`` for
  repeat observations; OCCAM probabilities ``PM_PROB``, ``RV_PROB``, ``FEH_PROB``, ``CG_PROB``;
  a cluster quality flag ``QUAL``.

Missing values: masked entries, NaN and the survey sentinel ``-9999`` (any value ≤ −9998) are
missing. With ``missing="impute"`` (default) a star missing more than ``max_missing_fraction``
of the selected abundances is dropped and the others keep NaN, which every classifier pipeline
replaces by the training-fold median of the column; with ``missing="drop"`` a star missing any
selected abundance is dropped. Missing uncertainties are NaN in ``sigma`` (the multitask loss
then gives the value full weight).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
from astropy.table import Table

from vo_ocml.errors import InputError

log = logging.getLogger(__name__)

#: element symbols accepted in abundance names (plus APOGEE's neutral C and ionised Ti)
ELEMENTS = frozenset(
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As "
    "Se Br Kr Rb Sr Y Zr Nb Mo Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Sm Eu Gd Tb Dy "
    "Ho Er Tm Yb Lu Hf Ta W Os Ir Pt Au Pb Th U CI TiII".upper().split()
)
LABEL_CANDIDATES = ("CLUSTER", "CLUSTER_NAME", "LABEL")
ID_CANDIDATES = ("APOGEE_ID", "SOURCE_ID", "STAR_ID", "ID")
#: values at or below this are survey "missing" sentinels (APOGEE -9999, OCCAM -9999.99)
SENTINEL = -9998.0
_ABUNDANCE = re.compile(r"^([A-Za-z]{1,4})_(FE|H)$", re.IGNORECASE)

DEFAULT_TABLE = "apogee_dr17_occam_members_6abund.csv"
FIELD_TABLE = "apogee_dr17_field_pool.csv"
KEPLER_TABLE = "apogee_dr17_kepler_field_giants.csv"
OCCAM_CLUSTERS = "occam_dr16_clusters.csv"


@dataclass
class Cuts:
    """The study's selection cuts; each applies only where its columns exist.

    Parameters
    ----------
    min_pm_prob, min_rv_prob, min_feh_prob : float
        Keep stars with OCCAM ``PM_PROB > min_pm_prob``, ``RV_PROB > min_rv_prob`` and
        ``FEH_PROB > min_feh_prob`` ...
    min_pm_rv, min_cg_prob : float
        ... or with ``PM_PROB·RV_PROB > min_pm_rv`` and ``CG_PROB > min_cg_prob`` (needs
        ``CG_PROB``).
    min_feh : float or None
        Keep ``FE_H >= min_feh`` (a star with unknown ``FE_H`` is left to the missing-value
        policy).
    max_mean_error : float or None
        Keep stars whose mean abundance uncertainty (over the available error columns) is at
        most this (dex).
    min_members : int
        Keep clusters with at least this many stars after all other cuts.
    min_quality : int or None
        Keep stars whose cluster quality flag (``QUAL``) is at least this; ``None`` skips it.
    dedupe : bool
        Keep one row per star (highest ``SNR``, else the first) when an identifier exists.
    """

    min_pm_prob: float = 0.6
    min_rv_prob: float = 0.6
    min_feh_prob: float = 0.3
    min_pm_rv: float = 0.25
    min_cg_prob: float = 0.85
    min_feh: float | None = -0.6
    max_mean_error: float | None = 0.6
    min_members: int = 8
    min_quality: int | None = None
    dedupe: bool = True


@dataclass
class CutStep:
    """One selection step: its name, what it did, and the row counts before and after."""

    name: str
    description: str
    n_before: int
    n_after: int

    @property
    def removed(self) -> int:
        """Number of rows the step removed."""
        return self.n_before - self.n_after


@dataclass
class SelectionReport:
    """What each cut removed, in order."""

    steps: list[CutStep] = field(default_factory=list)

    def add(self, name: str, description: str, n_before: int, n_after: int) -> None:
        """Record a step."""
        self.steps.append(CutStep(name, description, n_before, n_after))
        log.info("cut %s: %d -> %d (%s)", name, n_before, n_after, description)

    def format(self) -> str:
        """The report as an aligned plain-text table."""
        lines = [f"{'cut':<14} {'before':>7} {'after':>7} {'removed':>8}  description"]
        for s in self.steps:
            lines.append(
                f"{s.name:<14} {s.n_before:>7} {s.n_after:>7} {s.removed:>8}  {s.description}"
            )
        return "\n".join(lines)


@dataclass
class ChemDataset:
    """Abundances and labels ready for the classifiers.

    Attributes
    ----------
    X : ndarray, shape (n, d)
        Abundances (dex); NaN where missing (only with ``missing="impute"``).
    y : ndarray of str, shape (n,)
        Cluster labels.
    features : list of str
        Abundance column names, in the order of ``X``'s columns.
    sigma : ndarray, shape (n, d)
        Uncertainties (dex); NaN where unknown.
    error_columns : dict
        Abundance column -> its error column, for those that have one.
    feh : ndarray or None
        [Fe/H] per star when a ``FE_H`` column exists.
    rows : ndarray of int
        Indices of the kept rows in the input table.
    report : SelectionReport
        What each cut removed.
    """

    X: np.ndarray
    y: np.ndarray
    features: list[str]
    sigma: np.ndarray
    error_columns: dict[str, str]
    feh: np.ndarray | None
    rows: np.ndarray
    report: SelectionReport

    @property
    def classes(self) -> np.ndarray:
        """Sorted unique labels."""
        return np.unique(self.y)


def _find(colnames: Sequence[str], candidates: Sequence[str]) -> str | None:
    upper = {c.upper(): c for c in colnames}
    for cand in candidates:
        if cand.upper() in upper:
            return upper[cand.upper()]
    return None


def column_as_float(table: Table, name: str) -> np.ndarray:
    """A column as a float array with masked values, NaN and sentinels (≤ −9998) as NaN."""
    col = table[name]
    if col.ndim != 1:
        raise InputError(f"column {name!r} is not one-dimensional")
    try:
        out = np.array(np.ma.getdata(col), dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"column {name!r} is not numeric") from exc
    out[np.ma.getmaskarray(col)] = np.nan
    out[out <= SENTINEL] = np.nan
    return out


def mean_uncertainty(sigma: np.ndarray) -> np.ndarray:
    """Per-star mean of the known uncertainties (NaN for a star with none)."""
    known = np.isfinite(sigma)
    total = np.where(known, sigma, 0.0).sum(axis=1)
    count = known.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def find_abundance_columns(colnames: Sequence[str]) -> list[str]:
    """Abundance columns named ``X_FE`` or ``X_H`` with ``X`` an element symbol, in table order."""
    found = []
    for name in colnames:
        m = _ABUNDANCE.match(name)
        if m and m.group(1).upper() in ELEMENTS:
            found.append(name)
    return found


def find_error_column(colnames: Sequence[str], abundance: str) -> str | None:
    """The uncertainty column of ``abundance`` (``A_ERR``, ``e_A``, ``E_A``, ``sigma_A``)."""
    return _find(colnames, (f"{abundance}_ERR", f"e_{abundance}", f"sigma_{abundance}"))


def label_values(table: Table, name: str) -> np.ndarray:
    """Labels as stripped strings; masked or empty labels become ''."""
    col = table[name]
    filled = np.ma.filled(np.ma.asarray(col).astype(str), "")
    return np.char.strip(filled.astype(str))


def prepare(
    table: Table,
    *,
    label: str | None = None,
    abundances: Sequence[str] | None = None,
    cuts: Cuts | None = None,
    missing: str = "impute",
    max_missing_fraction: float = 0.5,
) -> ChemDataset:
    """Select columns and stars from a star table.

    Parameters
    ----------
    table : astropy.table.Table
        One row per observation, with a cluster label and abundance columns.
    label : str, optional
        Label column; default: the first of ``CLUSTER``, ``CLUSTER_NAME``, ``LABEL``.
    abundances : sequence of str, optional
        Abundance columns; default: every ``X_FE``/``X_H`` column that is not entirely missing.
    cuts : Cuts, optional
        Selection cuts (default :class:`Cuts()`, the study's).
    missing : {"impute", "drop"}
        Keep stars with NaN abundances (imputed by the training-fold median inside the
        classifier pipelines) unless more than ``max_missing_fraction`` of them are missing, or
        drop every star missing any selected abundance.
    max_missing_fraction : float
        With ``missing="impute"``, the largest fraction of missing abundances a star may have.

    Returns
    -------
    ChemDataset

    Raises
    ------
    InputError
        No label column, no (or all-missing) abundance columns, unknown columns, an unknown
        ``missing`` policy, or no stars left after the cuts.
    """
    cuts = cuts or Cuts()
    if missing not in ("drop", "impute"):
        raise InputError(f"missing must be 'impute' or 'drop', not {missing!r}")
    names = table.colnames
    label_col = _find(names, (label,) if label else LABEL_CANDIDATES)
    if label_col is None:
        wanted = label or " / ".join(LABEL_CANDIDATES)
        raise InputError(
            f"no label column {wanted} in the table (columns: {', '.join(names[:20])}); "
            "name the cluster-label column with {@label}"
        )
    features = _choose_abundances(table, abundances, label_col)
    y = label_values(table, label_col)
    X = np.column_stack([column_as_float(table, f) for f in features])
    error_columns = {}
    sigma = np.full_like(X, np.nan)
    for j, f in enumerate(features):
        err = find_error_column(names, f)
        if err is not None:
            error_columns[f] = err
            sigma[:, j] = np.abs(column_as_float(table, err))
    feh_col = _find(names, ("FE_H",))
    feh = column_as_float(table, feh_col) if feh_col else None

    report = SelectionReport()
    keep = np.arange(len(table))
    report.add("input", f"rows in the table ({len(np.unique(y))} labels)", len(keep), len(keep))
    keep = _step(report, keep, y[keep] != "", "label", f"non-empty {label_col}")
    if cuts.dedupe:
        keep = _dedupe(table, keep, report)
    keep = _membership(table, keep, cuts, report)
    if feh is not None and cuts.min_feh is not None:
        keep = _step(report, keep, ~(feh[keep] < cuts.min_feh), "feh",
                     f"FE_H >= {cuts.min_feh} (unknown FE_H: see the missing-value policy)")
    if error_columns and cuts.max_mean_error is not None:
        ok = ~(mean_uncertainty(sigma[keep]) > cuts.max_mean_error)
        keep = _step(report, keep, ok, "mean_error",
                     f"mean uncertainty of {len(error_columns)} error column(s) <= "
                     f"{cuts.max_mean_error} dex")
    if cuts.min_quality is not None:
        qual = _find(names, ("QUAL",))
        if qual is None:
            raise InputError("a quality cut was asked for but the table has no QUAL column")
        q = column_as_float(table, qual)[keep]
        keep = _step(report, keep, q >= cuts.min_quality, "quality", f"QUAL >= {cuts.min_quality}")
    n_missing = (~np.isfinite(X[keep])).sum(axis=1)
    if missing == "drop":
        keep = _step(report, keep, n_missing == 0, "missing", "all selected abundances present")
    else:
        limit = int(np.floor(max_missing_fraction * len(features)))
        keep = _step(report, keep, n_missing <= limit, "missing",
                     f"at most {limit} of {len(features)} abundances missing (rest imputed)")
    keep = _min_members(y, keep, cuts.min_members, report)
    if len(keep) == 0:
        raise InputError(
            "no stars left after the selection cuts:\n" + report.format()
            + "\nrelax the cuts (e.g. {@min_members}) or check the columns"
        )
    return ChemDataset(
        X=X[keep], y=y[keep], features=features, sigma=sigma[keep],
        error_columns=error_columns, feh=None if feh is None else feh[keep],
        rows=keep, report=report,
    )


def _choose_abundances(table: Table, abundances: Sequence[str] | None, label: str) -> list[str]:
    names = table.colnames
    if abundances:
        chosen = []
        for a in abundances:
            col = _find(names, (a,))
            if col is None:
                raise InputError(f"abundance column {a!r} is not in the table")
            chosen.append(col)
        for col in chosen:
            if not np.isfinite(column_as_float(table, col)).any():
                raise InputError(f"abundance column {col!r} has no valid value (all NaN/-9999)")
        return chosen
    found = [c for c in find_abundance_columns(names) if c != label and table[c].ndim == 1]
    usable = [c for c in found if np.isfinite(column_as_float(table, c)).any()]
    skipped = sorted(set(found) - set(usable))
    if skipped:
        log.warning("skipping abundance columns with no valid value: %s", ", ".join(skipped))
    if not usable:
        detail = f" ({', '.join(skipped)} are all NaN/-9999)" if skipped else ""
        raise InputError(
            "no usable abundance columns named like X_FE or X_H" + detail
            + "; name them with {@abundances}"
        )
    return usable


def _step(report: SelectionReport, keep: np.ndarray, ok: np.ndarray, name: str,
          description: str) -> np.ndarray:
    new = keep[ok]
    report.add(name, description, len(keep), len(new))
    return new


def _dedupe(table: Table, keep: np.ndarray, report: SelectionReport) -> np.ndarray:
    id_col = _find(table.colnames, ID_CANDIDATES)
    if id_col is None:
        return keep
    ids = label_values(table, id_col)[keep]
    snr_col = _find(table.colnames, ("SNR",))
    snr = column_as_float(table, snr_col)[keep] if snr_col else np.zeros(len(keep))
    order = np.lexsort((-np.nan_to_num(snr, nan=-np.inf), ids))
    _, first = np.unique(ids[order], return_index=True)
    anonymous = np.flatnonzero(ids == "")  # rows without an identifier are all kept
    chosen = np.union1d(order[first][ids[order[first]] != ""], anonymous)
    how = "highest SNR" if snr_col else "first"
    report.add("repeats", f"one row per {id_col} ({how})", len(keep), len(chosen))
    return keep[chosen]


def _membership(table: Table, keep: np.ndarray, cuts: Cuts, report: SelectionReport) -> np.ndarray:
    names = table.colnames
    cols = {k: _find(names, (k,)) for k in ("PM_PROB", "RV_PROB", "FEH_PROB", "CG_PROB")}
    present = {k: column_as_float(table, c)[keep] for k, c in cols.items() if c}
    limits = {"PM_PROB": cuts.min_pm_prob, "RV_PROB": cuts.min_rv_prob,
              "FEH_PROB": cuts.min_feh_prob}
    main = [k for k in limits if k in present]
    if not main:
        return keep
    with np.errstate(invalid="ignore"):
        ok = np.ones(len(keep), bool)
        for k in main:
            ok &= present[k] > limits[k]
        text = " & ".join(f"{k} > {limits[k]}" for k in main)
        if {"PM_PROB", "RV_PROB", "CG_PROB"} <= present.keys():
            ok |= (present["PM_PROB"] * present["RV_PROB"] > cuts.min_pm_rv) & (
                present["CG_PROB"] > cuts.min_cg_prob)
            text += f", or PM_PROB*RV_PROB > {cuts.min_pm_rv} & CG_PROB > {cuts.min_cg_prob}"
    return _step(report, keep, ok, "membership", text)


def _min_members(y: np.ndarray, keep: np.ndarray, n_min: int, report: SelectionReport
                 ) -> np.ndarray:
    labels, counts = np.unique(y[keep], return_counts=True)
    big = set(labels[counts >= n_min])
    ok = np.array([lab in big for lab in y[keep]], bool)
    new = _step(report, keep, ok, "min_members", f"clusters with >= {n_min} stars")
    report.steps[-1].description += f" ({len(big)} of {len(labels)} clusters kept)"
    return new


def read_embedded(name: str) -> Table:
    """Read one of the tables shipped in ``vo_ocml/chemtag/data`` (see its README.md)."""
    path = resources.files("vo_ocml.chemtag") / "data" / name
    with resources.as_file(path) as p:
        return Table.read(p, format="ascii.csv")


def load_default() -> Table:
    """The embedded real analogue: APOGEE DR17 × OCCAM members, 478 stars in 19 clusters.

    Six abundances (C, O, Mg, Si, Al relative to Fe, and [Fe/H] with its error), the OCCAM
    membership probabilities and the OCCAM DR16 cluster quality flag ``QUAL``. Citations in
    ``vo_ocml/chemtag/data/README.md``.
    """
    return read_embedded(DEFAULT_TABLE)
