"""Metrics against hand-computed cases, the CV splitter, classifiers against the dummy."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_blobs

from vo_ocml.chemtag.classifiers import make_estimator, make_pipeline, tune
from vo_ocml.chemtag.evaluate import check_stratifiable, cross_validate, fold_metrics
from vo_ocml.chemtag.names import CLASSIFIERS
from vo_ocml.errors import InputError


def test_fold_metrics_match_a_hand_computed_case():
    y_true = np.array(["a", "a", "a", "b", "b", "c"])
    y_pred = np.array(["a", "a", "b", "b", "c", "c"])
    m = fold_metrics(y_true, y_pred, np.array(["a", "b", "c"]))
    # per class: a P=2/2 R=2/3; b P=1/2 R=1/2; c P=1/2 R=1/1; weights 3, 2, 1
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx((3 * 1 + 2 * 0.5 + 1 * 0.5) / 6)
    assert m["recall"] == pytest.approx((3 * 2 / 3 + 2 * 0.5 + 1 * 1) / 6)
    f1 = [2 * 1 * (2 / 3) / (1 + 2 / 3), 0.5, 2 * 0.5 * 1 / 1.5]
    assert m["f1"] == pytest.approx((3 * f1[0] + 2 * f1[1] + 1 * f1[2]) / 6)
    assert m["class_recall"] == pytest.approx([2 / 3, 0.5, 1.0])
    assert m["class_precision"] == pytest.approx([1.0, 0.5, 0.5])


def test_undefined_per_class_scores_are_nan():
    m = fold_metrics(np.array(["a", "a", "b"]), np.array(["a", "a", "a"]),
                     np.array(["a", "b", "c"]))
    assert np.isnan(m["class_precision"][1])  # b never predicted
    assert np.isnan(m["class_recall"][2])  # c absent
    assert m["class_recall"][1] == 0.0
    assert m["precision"] == pytest.approx((2 * 2 / 3 + 1 * 0) / 3)


class _Spy(ClassifierMixin, BaseEstimator):
    """Records the label counts it is trained on; predicts the first training label."""

    seen: list[dict[str, int]] = []

    def fit(self, X, y):
        labels, counts = np.unique(y, return_counts=True)
        _Spy.seen.append(dict(zip(labels, counts)))
        self.classes_ = labels
        self.label_ = y[0]
        return self

    def predict(self, X):
        return np.full(len(X), self.label_)


def test_splitter_is_stratified_and_predicts_every_star_once_per_repeat():
    y = np.array(["a"] * 30 + ["b"] * 12 + ["c"] * 9)
    X = np.arange(len(y), dtype=float)[:, None]
    _Spy.seen.clear()
    cv = cross_validate(_Spy(), X, y, n_splits=3, n_repeats=2, random_state=1)
    assert len(_Spy.seen) == 6
    for counts in _Spy.seen:
        assert counts == {"a": 20, "b": 8, "c": 6}
    assert cv.predictions.shape == (2, len(y))
    assert (cv.predictions != "").all()
    assert cv.confusion.sum(axis=1) == pytest.approx([30, 12, 9])
    assert len(cv.scores["accuracy"]) == 6
    per = cv.per_cluster()
    assert list(per["n_stars"]) == [30, 12, 9]


def test_cluster_with_one_member_is_a_clear_error():
    y = np.array(["a"] * 5 + ["b"] * 5 + ["lonely"])
    with pytest.raises(InputError, match=r"lonely \(1\)"):
        cross_validate(make_pipeline("knn"), np.zeros((len(y), 2)), y)
    with pytest.raises(InputError, match="two clusters"):
        check_stratifiable(np.array(["a"] * 6), 3)


@pytest.fixture(scope="module")
def separable():
    X, y = make_blobs(n_samples=150, centers=5, n_features=4, cluster_std=0.6, random_state=3)
    labels = np.array([f"cluster {i}" for i in y])
    return X, labels


@pytest.mark.parametrize("name", [c for c in CLASSIFIERS if c not in ("dummy", "random")])
def test_every_classifier_beats_the_dummy_on_separable_data(name, separable):
    X, y = separable
    dummy = cross_validate(make_pipeline("dummy"), X, y, n_repeats=1)
    model = cross_validate(make_pipeline(name), X, y, n_repeats=1)
    assert dummy.mean("accuracy") < 0.3
    assert model.mean("accuracy") > 0.9


def test_random_classifier_is_near_chance(separable):
    X, y = separable
    cv = cross_validate(make_pipeline("random"), X, y, n_repeats=3)
    assert 0.05 < cv.mean("accuracy") < 0.4


def test_balanced_weights_and_probabilities(separable):
    X, y = separable
    for name in ("xgboost", "rbf_svm", "random_forest"):
        est = make_estimator(name, class_weight="balanced", probability=True).fit(X, y)
        proba = est.predict_proba(X)
        assert proba.shape == (len(y), 5)
        assert proba.sum(axis=1) == pytest.approx(1.0)
        assert list(est.classes_) == sorted(set(y))


def test_unknown_classifier_and_tuning(separable):
    X, y = separable
    with pytest.raises(InputError, match="unknown classifier"):
        make_pipeline("magic")
    best = tune("knn", X, y, grid={"n_neighbors": [1, 3]})
    assert best["params"]["n_neighbors"] in (1, 3)
    assert best["score"] > 0.9
    pipe = make_pipeline("knn", params=best["params"])
    assert pipe.named_steps["clf"].n_neighbors == best["params"]["n_neighbors"]
    with pytest.raises(InputError, match="no hyper-parameters"):
        tune("dummy", X, y)
