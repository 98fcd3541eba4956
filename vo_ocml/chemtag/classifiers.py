"""The eight classifiers of the study, each in a pipeline with imputation and scaling.

Every pipeline is ``SimpleImputer(median) → [representation] → StandardScaler → classifier``;
the imputer only acts on missing abundances (see :mod:`vo_ocml.chemtag.data`). Labels may be any
strings: XGBoost gets them through :class:`EncodedXGBClassifier`.

The defaults were chosen with :func:`tune` (3-fold grid search over :data:`PARAM_GRIDS`) on the
embedded real analogue and on the simulated 19-element set; where the two optima differed
(k-NN 15 vs 3 neighbours, XGBoost depth 5 vs 2, linear-SVM C 1 vs 0.1) a value between them is
used, and for the MLP (64 vs 32 units) the real set's choice; the random forest keeps 300 trees.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.utils.class_weight import compute_sample_weight

from vo_ocml.chemtag.names import CLASSIFIERS
from vo_ocml.errors import InputError
from vo_ocml.optional import require

log = logging.getLogger(__name__)

#: hyper-parameter grids for :func:`tune` (keys are the final step's parameters)
PARAM_GRIDS: dict[str, dict[str, list[Any]]] = {
    "knn": {"n_neighbors": [3, 5, 7, 11, 15], "weights": ["uniform", "distance"]},
    "random_forest": {"n_estimators": [200, 400], "max_features": ["sqrt", None],
                      "min_samples_leaf": [1, 2]},
    "xgboost": {"n_estimators": [100, 200], "max_depth": [2, 3, 5],
                "learning_rate": [0.05, 0.1]},
    "linear_svm": {"C": [0.1, 0.3, 1.0, 3.0, 10.0]},
    "rbf_svm": {"C": [1.0, 3.0, 10.0, 30.0], "gamma": ["scale", 0.03, 0.1]},
    "mlp": {"hidden_layer_sizes": [(32,), (64,), (64, 32)], "alpha": [1e-3, 1e-2, 1e-1]},
}


class EncodedXGBClassifier(ClassifierMixin, BaseEstimator):
    """XGBoost's classifier on string labels, with optional balanced class weights.

    Parameters
    ----------
    n_estimators, max_depth, learning_rate : int, int, float
        Boosting rounds, tree depth and shrinkage.
    class_weight : {"balanced"} or None
        ``"balanced"`` weights each sample by ``N / (N_classes · N_class)``.
    n_jobs : int
        Threads.
    random_state : int
        Seed.
    """

    def __init__(self, n_estimators: int = 200, max_depth: int = 3, learning_rate: float = 0.1,
                 class_weight: str | None = None, n_jobs: int = 1, random_state: int = 0):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> EncodedXGBClassifier:
        """Encode the labels and fit the booster."""
        XGBClassifier = require("xgboost", "The XGBoost classifier", "chemtag").XGBClassifier

        self.encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.encoder_.classes_
        weight = compute_sample_weight("balanced", y) if self.class_weight == "balanced" else None
        self.booster_ = XGBClassifier(
            n_estimators=self.n_estimators, max_depth=self.max_depth,
            learning_rate=self.learning_rate, tree_method="hist", max_bin=64, n_jobs=self.n_jobs,
            random_state=self.random_state, verbosity=0,
        ).fit(X, self.encoder_.transform(y), sample_weight=weight)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        return self.booster_.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable label."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def make_estimator(name: str, *, random_state: int = 0, class_weight: str | None = None,
                   probability: bool = False, n_jobs: int = 1,
                   params: dict[str, Any] | None = None) -> BaseEstimator:
    """The bare classifier ``name`` with the baseline's defaults.

    Parameters
    ----------
    name : str
        One of :data:`~vo_ocml.chemtag.names.CLASSIFIERS`.
    random_state : int
        Seed of everything random.
    class_weight : {"balanced"} or None
        Class weighting where the classifier supports it (ignored by dummy, random, k-NN, MLP).
    probability : bool
        For the SVMs: wrap them in a sigmoid-calibrated
        :class:`~sklearn.calibration.CalibratedClassifierCV` (3-fold) so that
        ``predict_proba`` exists (slower; used for trained models that are applied).
    n_jobs : int
        Threads for random forest and XGBoost (1 is fastest on a busy two-core machine:
        XGBoost's threads contend badly there).
    params : dict, optional
        Hyper-parameters overriding the defaults (e.g. ``tune(...)["params"]``).

    Returns
    -------
    sklearn estimator
    """
    estimator = _default_estimator(name, random_state, class_weight, n_jobs)
    if params:
        estimator.set_params(**params)
    if probability and isinstance(estimator, SVC):
        return CalibratedClassifierCV(estimator, cv=3, ensemble=False)
    return estimator


def _default_estimator(name: str, random_state: int, class_weight: str | None,
                       n_jobs: int) -> BaseEstimator:
    if name == "dummy":
        return DummyClassifier(strategy="most_frequent")
    if name == "random":
        return DummyClassifier(strategy="uniform", random_state=random_state)
    if name == "knn":
        return KNeighborsClassifier(n_neighbors=7, weights="distance")
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=300, max_features="sqrt",
                                      class_weight=class_weight, n_jobs=n_jobs,
                                      random_state=random_state)
    if name == "xgboost":
        return EncodedXGBClassifier(n_estimators=200, max_depth=3, learning_rate=0.1,
                                    class_weight=class_weight, n_jobs=n_jobs,
                                    random_state=random_state)
    if name == "linear_svm":
        return SVC(kernel="linear", C=0.3, class_weight=class_weight,
                   random_state=random_state)
    if name == "rbf_svm":
        return SVC(kernel="rbf", C=3.0, gamma="scale", class_weight=class_weight,
                   random_state=random_state)
    if name == "mlp":
        return MLPClassifier(hidden_layer_sizes=(64,), alpha=0.1, max_iter=2000,
                             random_state=random_state)
    raise InputError(f"unknown classifier {name!r}; choose from {', '.join(CLASSIFIERS)}")


def make_pipeline(name: str, representation: Sequence[tuple[str, Any]] = (), *,
                  scale_after: bool = True, **kwargs: Any) -> Pipeline:
    """``imputer → representation steps → scaler → classifier`` for classifier ``name``.

    Parameters
    ----------
    name : str
        One of :data:`~vo_ocml.chemtag.names.CLASSIFIERS`.
    representation : sequence of (name, transformer)
        Steps between the imputer and the final scaler (see
        :mod:`vo_ocml.chemtag.representations`).
    scale_after : bool
        Put a :class:`~sklearn.preprocessing.StandardScaler` before the classifier.
    **kwargs
        Passed to :func:`make_estimator`.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Its last step is named ``"clf"``.
    """
    steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    steps += [(n, clone(t)) for n, t in representation]
    if scale_after:
        steps.append(("scale", StandardScaler()))
    steps.append(("clf", make_estimator(name, **kwargs)))
    return Pipeline(steps)


def tune(name: str, X: np.ndarray, y: np.ndarray, *, grid: dict[str, list[Any]] | None = None,
         n_splits: int = 3, random_state: int = 0, n_jobs: int = 1) -> dict[str, Any]:
    """Grid-search a classifier's hyper-parameters by stratified k-fold accuracy.

    Parameters
    ----------
    name : str
        One of :data:`~vo_ocml.chemtag.names.CLASSIFIERS` with an entry in :data:`PARAM_GRIDS` (or pass ``grid``).
    X, y : ndarray
        Abundances and labels.
    grid : dict, optional
        Parameter grid for the classifier step (names without the ``clf__`` prefix).
    n_splits : int
        Folds.
    random_state : int
        Seed of the folds and the classifier.
    n_jobs : int
        Parallel fits.

    Returns
    -------
    dict
        ``{"params": best parameters, "score": best mean accuracy}``.
    """
    grid = grid if grid is not None else PARAM_GRIDS.get(name)
    if not grid:
        raise InputError(f"classifier {name!r} has no hyper-parameters to tune")
    search = GridSearchCV(
        make_pipeline(name, random_state=random_state),
        {f"clf__{k}": v for k, v in grid.items()},
        cv=StratifiedKFold(n_splits, shuffle=True, random_state=random_state),
        scoring="accuracy", n_jobs=n_jobs,
    ).fit(X, y)
    params = {k.removeprefix("clf__"): v for k, v in search.best_params_.items()}
    log.info("tuned %s: %s (accuracy %.3f)", name, params, search.best_score_)
    return {"params": params, "score": float(search.best_score_)}
