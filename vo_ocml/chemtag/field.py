"""The field-star experiment: how cluster tagging degrades when field stars join the sample.

Field stars (label ``"Field"``) are added at ``ratio × n_members``; the classifier is trained with
balanced class weights (``w_α = N / (N_classes · N_α)``) and evaluated by repeated stratified
k-fold. Over the true cluster members it reports

- recall: the fraction of members assigned to their own cluster;
- precision: of the stars assigned to any cluster (not ``"Field"``), the fraction assigned to
  their own cluster (field stars assigned to a cluster count against it);

and the recall of chosen clusters (the study follows NGC 6791).

The shipped real field pool (:func:`load_field_pool`) has 1,508 APOGEE DR17 stars with
−0.6 ≤ [Fe/H] ≤ 0.3 that are not among the members: OCCAM non-members and members of other
clusters observed in the same fields, plus 11 Kepler field giants. Ratios needing more stars than
the pool holds draw a smoothed bootstrap (pool stars resampled with Gaussian jitter of Scott's
bandwidth); such rows are flagged ``resampled``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from astropy.table import Table

from vo_ocml.chemtag.classifiers import make_pipeline
from vo_ocml.chemtag.data import FIELD_TABLE, ChemDataset, column_as_float, read_embedded
from vo_ocml.chemtag.evaluate import cross_validate
from vo_ocml.errors import InputError

FIELD_LABEL = "Field"
DEFAULT_RATIOS = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)


def load_field_pool() -> Table:
    """The shipped real field pool (see the module docstring and data/README.md)."""
    return read_embedded(FIELD_TABLE)


def field_matrix(table: Table, features: Sequence[str], feh_range: tuple[float, float] = (-0.6, 0.3)
                 ) -> np.ndarray:
    """Abundance matrix of the field stars with every feature known and [Fe/H] in range.

    Raises
    ------
    InputError
        A feature column is missing from the field table, or no star is usable.
    """
    upper = {c.upper(): c for c in table.colnames}
    missing = [f for f in features if f.upper() not in upper]
    if missing:
        raise InputError(f"the field table lacks the abundance columns {', '.join(missing)}")
    X = np.column_stack([column_as_float(table, upper[f.upper()]) for f in features])
    ok = np.isfinite(X).all(axis=1)
    if "FE_H" in upper:
        feh = column_as_float(table, upper["FE_H"])
        ok &= (feh >= feh_range[0]) & (feh <= feh_range[1])
    if not ok.any():
        raise InputError("no field star has every abundance and [Fe/H] in range")
    return X[ok]


def sample_field(pool: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """``n`` field stars: drawn without replacement, or by smoothed bootstrap if ``n > len(pool)``.

    Returns
    -------
    X : ndarray, shape (n, d)
    resampled : bool
        Whether the smoothed bootstrap was needed.
    """
    if n <= len(pool):
        return pool[rng.choice(len(pool), n, replace=False)], False
    bandwidth = len(pool) ** (-1.0 / (pool.shape[1] + 4)) * np.std(pool, axis=0)
    base = pool[rng.choice(len(pool), n, replace=True)]
    return base + rng.normal(0.0, 1.0, base.shape) * bandwidth, True


def field_experiment(dataset: ChemDataset, field: np.ndarray,
                     ratios: Sequence[float] = DEFAULT_RATIOS, *, classifier: str = "rbf_svm",
                     track: Sequence[str] = ("NGC 6791",), n_splits: int = 3,
                     n_repeats: int = 2, random_state: int = 0, n_jobs: int = 1) -> Table:
    """Member recall and precision versus the field-to-member ratio.

    Parameters
    ----------
    dataset : ChemDataset
        Cluster members.
    field : ndarray, shape (m, d)
        Field-star abundances in the columns of ``dataset.features`` (see :func:`field_matrix`).
    ratios : sequence of float
        Field stars per member.
    classifier : str
        Classifier, trained with balanced class weights where it supports them.
    track : sequence of str
        Clusters whose own recall is reported (those present in the data).
    n_splits, n_repeats, random_state : int
        Cross-validation scheme and seed.
    n_jobs : int
        Threads for the classifier.

    Returns
    -------
    astropy.table.Table
        ``ratio``, ``n_field``, ``resampled``, ``recall``, ``recall_std``, ``precision``,
        ``precision_std`` (over repeats) and ``recall_<cluster>`` per tracked cluster.
    """
    if field.shape[1] != dataset.X.shape[1]:
        raise InputError("field stars and members have different numbers of abundances")
    rng = np.random.default_rng(random_state)
    n_members = len(dataset.y)
    tracked = [c for c in track if c in set(dataset.y)]
    rows = []
    for ratio in ratios:
        n_field = int(round(ratio * n_members))
        extra, resampled = sample_field(field, n_field, rng)
        X = np.vstack([dataset.X, extra])
        y = np.concatenate([dataset.y.astype(object), [FIELD_LABEL] * n_field]).astype(str)
        pipe = make_pipeline(classifier, class_weight="balanced", random_state=random_state,
                             n_jobs=n_jobs)
        cv = cross_validate(pipe, X, y, n_splits=n_splits, n_repeats=n_repeats,
                            random_state=random_state)
        truth = y[:n_members]
        pred = cv.predictions[:, :n_members]
        correct = pred == truth
        recall = correct.mean(axis=1)
        as_cluster = cv.predictions != FIELD_LABEL
        precision = correct.sum(axis=1) / np.maximum(as_cluster.sum(axis=1), 1)
        row = {"ratio": float(ratio), "n_field": n_field, "resampled": resampled,
               "recall": recall.mean(), "recall_std": recall.std(),
               "precision": precision.mean(), "precision_std": precision.std()}
        for c in tracked:
            row[f"recall_{c}"] = correct[:, truth == c].mean()
        rows.append(row)
    return Table(rows=rows)
