"""The one estimator contract: both estimators are scikit-learn estimators with the same fit,
the same result shape, identifier step names, and one definition of "member"."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from vo_ocml.errors import InputError
from vo_ocml.membership.base import (MembershipEstimator, as_centroid, check_threshold,
                                     is_member, probability_step, step_param_name)
from vo_ocml.membership.dec import DEC
from vo_ocml.membership.mstgmm import MSTGMM
from vo_ocml.simulate import SimCluster, simulate_cone

FEATURES = ["ra", "dec", "pmra", "pmdec", "parallax"]
ERRORS = ["pmra_error", "pmdec_error", "parallax_error"]
#: DEC small enough for a grid search in seconds
TINY_DEC = dict(n_clusters=4, n_seeds=1, pretrain_steps=40, update_interval=10, max_iter=2,
                batch_size=128, hidden=(8,), features="raw")


@pytest.fixture(scope="module")
def scene():
    t = simulate_cone(1500, (SimCluster(150, -2.5, 1.0, 0.9, plummer_radius=0.04),),
                      radius=0.3, seed=5)
    X = np.column_stack([np.asarray(t[c], float) for c in FEATURES])
    E = np.column_stack([np.asarray(t[c], float) for c in ERRORS])
    return X, E


@pytest.mark.parametrize("cls", [MSTGMM, DEC])
def test_clone_params_repr(cls):
    est = cls(random_state=3)
    assert isinstance(est, MembershipEstimator)
    copy = clone(est)
    assert copy is not est and copy.get_params() == est.get_params()
    copy.set_params(random_state=7)
    assert copy.random_state == 7 and est.random_state == 3
    assert repr(est).startswith(f"{cls.__name__}(") and "random_state=3" in repr(est)


def test_fit_has_one_signature():
    assert inspect.signature(MSTGMM.fit) == inspect.signature(DEC.fit)
    assert inspect.signature(MSTGMM.predict_proba) == inspect.signature(DEC.predict_proba)
    assert inspect.signature(MSTGMM.fit).parameters["errors"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("cls", [MSTGMM, DEC])
def test_errors_given_positionally_are_refused_not_ignored(cls, scene):
    X, E = scene
    with pytest.raises(InputError, match="errors=E"):
        cls().fit(X, E)


def test_mstgmm_grid_search(scene):
    X, E = scene
    search = GridSearchCV(MSTGMM(), {"filter_nsigma": [2.5, 3.0]}, cv=2, error_score="raise")
    search.fit(X, errors=E)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.all(scores <= 0)
    assert search.best_params_["filter_nsigma"] in (2.5, 3.0)
    assert search.best_estimator_.result_.found


@pytest.mark.slow
def test_dec_grid_search(scene):
    X, E = scene
    split = [(np.arange(0, 600, 2), np.arange(1, 600, 2))]  # one split, no refit: two fits
    search = GridSearchCV(DEC(**TINY_DEC), {"n_clusters": [3, 4]}, cv=split, refit=False,
                          error_score="raise")
    search.fit(X[:600], errors=E[:600])
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.all(scores <= 0)
    assert search.best_params_["n_clusters"] in (3, 4)


@pytest.mark.parametrize("est", [MSTGMM(), MSTGMM(mixture="gmm"), DEC(**TINY_DEC)])
def test_a_single_cluster_fit_predicts_its_cluster_and_the_field(est, scene):
    """predict_cluster_proba of a one-cluster fit: [cluster, field], its first column
    predict_proba's member column, NaN where a row cannot be scored; on the fitted rows the
    fit's own probabilities (the MST aside: new stars are not pruned)."""
    X, E = scene
    est.fit(X, errors=E)
    X_new = X.copy()
    X_new[3, 2] = np.nan
    P = est.predict_cluster_proba(X_new, errors=E)
    assert P.shape == (len(X), 2) and np.isnan(P[3]).all()
    ok = np.isfinite(P[:, 0])  # DEC cannot score parallax ≤ 0 either
    assert (~ok).sum() == np.isnan(est.probability_).sum() + 1
    np.testing.assert_allclose(P[ok].sum(axis=1), 1.0)
    np.testing.assert_array_equal(P[:, 0], est.predict_proba(X_new, errors=E)[:, 1])
    fitted = est.result_.stage == est.result_.stage[np.argmax(est.probability_)]
    np.testing.assert_allclose(P[ok & fitted, 0], est.probability_[ok & fitted], atol=1e-3)


def test_score_of_no_cluster_is_minus_infinity():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(10, 11, 800), rng.uniform(0, 1, 800),
                         rng.normal(0, 8, 800), rng.normal(0, 8, 800), rng.uniform(0.1, 3, 800)])
    est = MSTGMM().fit(X)
    assert not est.result_.found and est.score(X) == -math.inf
    np.testing.assert_array_equal(est.predict_cluster_proba(X), np.tile([0.0, 1.0], (800, 1)))


def test_mst_rule_code_brings_its_own_k(scene):
    X, E = scene
    code = MSTGMM(mst_rule="code").fit(X, errors=E)
    assert code.result_.parameters["mst_k"] == 1.0
    assert MSTGMM().fit(X, errors=E).result_.parameters["mst_k"] == 3.0
    explicit = MSTGMM(mst_rule="code", mst_k=1.0).fit(X, errors=E)
    np.testing.assert_array_equal(code.probability_, explicit.probability_)


@pytest.mark.parametrize("est", [MSTGMM(), DEC(**TINY_DEC)])
def test_step_names_are_identifiers(est, scene):
    X, E = scene
    steps = est.fit(X[:600], errors=E[:600]).result_.step_counts
    assert list(steps)[:2] == ["cone", "complete"]
    for step in steps:
        assert step_param_name(step).isidentifier()
    assert probability_step(0.8) in steps


def test_step_param_name_refuses_non_identifiers():
    for bad in ("P>0.8", "dec group", "p>0.8"):
        with pytest.raises(ValueError):
            step_param_name(bad)
    assert probability_step(0.8) == "p_gt_08" and probability_step(0.5) == "p_gt_05"


def test_one_definition_of_member():
    p = np.array([np.nan, 0.0, 0.5, 0.50001, 0.9, 1.0])
    assert is_member(p).tolist() == [False, False, False, True, True, True]
    assert is_member(p, 0.0).tolist() == [False, False, True, True, True, True]


@pytest.mark.parametrize("value", [1.0, -0.1, "high", math.nan, None])
def test_threshold_range(value):
    with pytest.raises(InputError, match=r"threshold must be a number in \[0, 1\)"):
        check_threshold(value)
    assert check_threshold("0.7") == 0.7 and check_threshold(0) == 0.0


def test_centroid_is_checked_once():
    with pytest.raises(InputError, match="three finite numbers"):
        as_centroid((1.0, np.nan, 2.0))
    assert as_centroid([1, 2, 3]).source == "user"
