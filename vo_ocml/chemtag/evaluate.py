"""Repeated stratified k-fold evaluation: scores, per-cluster recall/precision, confusion.

Metrics per fold: accuracy, and precision, recall and F1 weighted by class frequency (scikit-learn's
``average="weighted"``, a class never predicted counting as precision 0). Per-cluster recall and
precision are averaged over the folds where they are defined (precision is undefined in a fold
that never predicts the cluster). The confusion matrix of each repeat counts every star once
(rows: true cluster, columns: predicted); :attr:`CVResult.confusion` is its mean over repeats.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from astropy.table import Table
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import RepeatedStratifiedKFold

from vo_ocml.errors import InputError

#: the fold-level scores, in the order of the study's tables
METRICS = ("accuracy", "precision", "recall", "f1")


def fold_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: np.ndarray
                 ) -> dict[str, np.ndarray | float]:
    """Scores of one fold.

    Parameters
    ----------
    y_true, y_pred : ndarray
        True and predicted labels.
    labels : ndarray
        All class labels (fixes the order of the per-class arrays).

    Returns
    -------
    dict
        ``accuracy``, weighted ``precision``/``recall``/``f1`` (floats); ``class_recall`` and
        ``class_precision`` (arrays over ``labels``; NaN where undefined: a class absent from
        ``y_true`` or never predicted).
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                 average="weighted", zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    tp = np.diag(cm).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        class_recall = np.where(cm.sum(axis=1) > 0, tp / cm.sum(axis=1), np.nan)
        class_precision = np.where(cm.sum(axis=0) > 0, tp / cm.sum(axis=0), np.nan)
    return {"accuracy": float(np.mean(y_true == y_pred)), "precision": float(p),
            "recall": float(r), "f1": float(f), "class_recall": class_recall,
            "class_precision": class_precision}


@dataclass
class CVResult:
    """The outcome of :func:`cross_validate`.

    Attributes
    ----------
    classes : ndarray
        Class labels (sorted).
    class_counts : ndarray
        Stars per class.
    scores : dict of str to ndarray
        Per-fold values of each of :data:`METRICS` (length ``n_splits·n_repeats``).
    class_recall, class_precision : ndarray, shape (n_folds, n_classes)
        Per-fold, per-class values (NaN where undefined).
    confusion : ndarray, shape (n_classes, n_classes)
        Mean over repeats of the out-of-fold confusion matrix (counts).
    predictions : ndarray of str, shape (n_repeats, n)
        Out-of-fold prediction of every star in every repeat.
    n_splits, n_repeats : int
        The scheme.
    seconds : float
        Wall time of all fits and predictions.
    """

    classes: np.ndarray
    class_counts: np.ndarray
    scores: dict[str, np.ndarray]
    class_recall: np.ndarray
    class_precision: np.ndarray
    confusion: np.ndarray
    predictions: np.ndarray
    n_splits: int
    n_repeats: int
    seconds: float

    def mean(self, metric: str) -> float:
        """Mean of a fold score over the folds."""
        return float(np.mean(self.scores[metric]))

    def std(self, metric: str) -> float:
        """Standard deviation of a fold score over the folds."""
        return float(np.std(self.scores[metric]))

    def formatted(self, metric: str) -> str:
        """``"mean ± std"`` in percent."""
        return f"{100 * self.mean(metric):5.1f} ± {100 * self.std(metric):4.1f}"

    def per_cluster(self) -> Table:
        """Per-cluster size, recall and precision (mean and std over folds)."""
        recall, recall_std = _nan_mean_std(self.class_recall)
        precision, precision_std = _nan_mean_std(self.class_precision)
        return Table({
            "cluster": self.classes, "n_stars": self.class_counts,
            "recall": recall, "recall_std": recall_std,
            "precision": precision, "precision_std": precision_std,
        })

    def confusion_table(self) -> Table:
        """The mean confusion matrix as a table: column ``true`` then one column per class."""
        table = Table({"true": self.classes})
        for j, c in enumerate(self.classes):
            table[str(c)] = self.confusion[:, j]
        return table


def _nan_mean_std(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations ignoring NaN; NaN for all-NaN columns."""
    known = np.isfinite(a)
    count = known.sum(axis=0)
    filled = np.where(known, a, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, filled.sum(axis=0) / count, np.nan)
        var = np.where(known, (a - mean) ** 2, 0.0).sum(axis=0) / count
    return mean, np.where(count > 0, np.sqrt(var), np.nan)


def check_stratifiable(y: np.ndarray, n_splits: int) -> None:
    """Raise :class:`InputError` unless every class has at least ``n_splits`` members."""
    labels, counts = np.unique(y, return_counts=True)
    if len(labels) < 2:
        raise InputError(f"need at least two clusters to classify, got {len(labels)}")
    small = [f"{lab} ({n})" for lab, n in zip(labels, counts) if n < n_splits]
    if small:
        raise InputError(
            f"stratified {n_splits}-fold cross-validation needs at least {n_splits} stars per "
            f"cluster; too few in: {', '.join(small)}. Raise the minimum cluster size "
            "({@min_members}) or drop these clusters"
        )


def cross_validate(estimator: BaseEstimator, X: np.ndarray, y: np.ndarray, *,
                   n_splits: int = 3, n_repeats: int = 5, random_state: int = 0,
                   sample_params: Mapping[str, np.ndarray] | None = None) -> CVResult:
    """Repeated stratified k-fold evaluation of a classifier (or pipeline).

    Parameters
    ----------
    estimator : sklearn estimator
        Cloned afresh for every fold.
    X : ndarray, shape (n, d)
        Features.
    y : ndarray, shape (n,)
        Labels.
    n_splits : int
        k (the study: 3).
    n_repeats : int
        Repeats with different shuffles.
    random_state : int
        Seed of the splits.
    sample_params : mapping, optional
        Per-sample fit parameters (e.g. ``{"multitask__sigma": sigma}``), sliced to each
        training fold and passed to ``fit``.

    Returns
    -------
    CVResult

    Raises
    ------
    InputError
        A cluster with fewer than ``n_splits`` stars, or a single cluster.
    """
    y = np.asarray(y).astype(str)
    check_stratifiable(y, n_splits)
    classes, counts = np.unique(y, return_counts=True)
    splitter = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats,
                                       random_state=random_state)
    scores: dict[str, list[float]] = {m: [] for m in METRICS}
    recall, precision = [], []
    predictions = np.empty((n_repeats, len(y)), dtype=y.dtype)
    start = time.perf_counter()
    for i, (train, test) in enumerate(splitter.split(X, y)):
        model = clone(estimator)
        params = {k: np.asarray(v)[train] for k, v in (sample_params or {}).items()}
        model.fit(X[train], y[train], **params)
        pred = np.asarray(model.predict(X[test])).astype(str)
        predictions[i // n_splits, test] = pred
        m = fold_metrics(y[test], pred, classes)
        for k in METRICS:
            scores[k].append(m[k])
        recall.append(m["class_recall"])
        precision.append(m["class_precision"])
    confusion = np.mean([confusion_matrix(y, p, labels=classes) for p in predictions], axis=0)
    return CVResult(
        classes=classes, class_counts=counts,
        scores={k: np.array(v) for k, v in scores.items()},
        class_recall=np.array(recall), class_precision=np.array(precision),
        confusion=confusion, predictions=predictions, n_splits=n_splits,
        n_repeats=n_repeats, seconds=time.perf_counter() - start,
    )
