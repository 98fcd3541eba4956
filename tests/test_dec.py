"""DEC on small synthetic scenes: finds the cluster, deterministic, order-free, clear errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from vo_ocml.errors import InputError
from vo_ocml.membership.base import (STAGE_DEC, STAGE_FILTER, STAGE_INCOMPLETE, STAGE_NO_CLUSTER, Centroid,
                                     MembershipResult)
from vo_ocml.membership.dec import DEC
from vo_ocml.membership.dec_numpy import NumpyDecTrainer, _backward, _forward, _soft

#: small and quick: a few hundred batches per seed
FAST = dict(n_clusters=6, n_seeds=2, pretrain_steps=150, update_interval=20, max_iter=5, batch_size=256)


def scene(n_field: int = 1500, n_cluster: int = 200, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A field with broad proper motions and parallaxes plus one compact cluster.

    Returns
    -------
    X : ndarray, shape (n, 5)
    truth : ndarray of bool, shape (n,)
        True for the cluster's stars.
    """
    rng = np.random.default_rng(seed)
    field = np.column_stack([
        rng.uniform(10, 12, n_field), rng.uniform(-1, 1, n_field),
        rng.normal(-2, 6, n_field), rng.normal(-3, 6, n_field), rng.lognormal(np.log(0.8), 0.6, n_field),
    ])
    cluster = np.column_stack([
        rng.normal(11, 0.2, n_cluster), rng.normal(0, 0.2, n_cluster),
        rng.normal(8.0, 0.15, n_cluster), rng.normal(-9.0, 0.15, n_cluster), rng.normal(2.5, 0.04, n_cluster),
    ])
    X = np.vstack([field, cluster])
    truth = np.r_[np.zeros(n_field, bool), np.ones(n_cluster, bool)]
    return X, truth


def errors_for(X: np.ndarray) -> np.ndarray:
    """Gaia-like errors (pmra, pmdec, parallax) for a scene: 0.05–0.2 mas/yr, 0.03–0.1 mas."""
    rng = np.random.default_rng(11)
    e = rng.uniform(0.05, 0.2, len(X))
    return np.column_stack([e, e, e / 2])


def sky_scene() -> tuple[np.ndarray, np.ndarray]:
    """The scene plus 300 field stars in the cluster's own proper-motion/parallax cell, spread
    over the whole 2° × 2° field (the cluster is 0.2° across): only the sky tells them apart."""
    X, truth = scene()
    rng = np.random.default_rng(5)
    cell = np.column_stack([
        rng.uniform(10, 12, 300), rng.uniform(-1, 1, 300),
        rng.normal(8.0, 0.25, 300), rng.normal(-9.0, 0.25, 300), rng.normal(2.5, 0.08, 300),
    ])
    return np.vstack([X, cell]), np.r_[truth, np.zeros(300, bool)]


def _scores(members: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    tp = np.count_nonzero(members & truth)
    return tp / truth.sum(), tp / max(members.sum(), 1)


@pytest.fixture(scope="module")
def sky_fitted() -> tuple[DEC, np.ndarray, np.ndarray, np.ndarray]:
    X, truth = sky_scene()
    E = errors_for(X)
    return DEC(**FAST).fit(X, errors=E), X, E, truth


def test_sky_features_separate_the_cluster_from_its_cell(sky_fitted) -> None:
    dec, X, _, truth = sky_fitted
    completeness, purity = _scores(dec.result_.members(0.5), truth)
    assert completeness >= 0.95 and purity >= 0.7
    raw = _scores(DEC(features="raw", **FAST).fit(X).result_.members(0.5), truth)
    assert raw[1] < purity - 0.1, "pm and parallax alone cannot reject the cell's field stars"


def test_sky_result_contract(sky_fitted) -> None:
    dec, X, E, _ = sky_fitted
    r = dec.result_
    assert set(r.stage) == {STAGE_DEC, STAGE_FILTER}
    assert list(r.step_counts) == ["cone", "complete", "filter", "dec_group", "p_gt_05", "p_gt_08"]
    assert np.all(r.probability[r.stage == STAGE_FILTER] == 0)
    assert r.centroid is not None and r.centroid.as_array() == pytest.approx([8.0, -9.0, 2.5], abs=0.05)
    assert r.centroid.ra == pytest.approx(11.0, abs=0.05) and r.centroid.dec == pytest.approx(0.0, abs=0.05)
    assert {"likelihood_ratio", "group_choice", "seed_agreement_jaccard"} <= set(r.details)
    # the default method's mixture step: a field component uniform over the filter window
    assert r.details["likelihood_ratio"]["field_uniform_component"]
    assert np.all(dec.labels_[r.stage == STAGE_FILTER] == -1)
    np.testing.assert_allclose(dec.predict_proba(X, errors=E)[:, 1], r.probability, atol=1e-6)


def test_sky_row_order_and_seed(sky_fitted) -> None:
    dec, X, E, _ = sky_fitted
    order = np.random.default_rng(7).permutation(len(X))
    shuffled = DEC(**FAST).fit(X[order], errors=E[order])
    assert np.array_equal(shuffled.probability_, dec.probability_[order])
    other = DEC(**(FAST | {"random_state": 1})).fit(X, errors=E).result_.members(0.5)
    members = dec.result_.members(0.5)
    assert np.count_nonzero(members & other) / np.count_nonzero(members | other) >= 0.95


def test_sky_no_cluster_in_a_pure_field() -> None:
    X, _ = scene(n_cluster=0)
    r = DEC(**FAST).fit(X, errors=errors_for(X)).result_
    assert not r.found and set(r.stage) == {STAGE_NO_CLUSTER} and np.all(r.probability == 0)
    assert "no_cluster_reason" in r.details


def test_sky_too_few_candidates_for_the_likelihood_ratio_is_no_cluster() -> None:
    """36 stars pass the filter: DEC could form its groups, but the cluster + field likelihood
    ratio needs 40; the answer is "no cluster" with the reason, not an exception."""
    rng = np.random.default_rng(2)
    field = np.column_stack([rng.uniform(10, 12, 400), rng.uniform(-1, 1, 400), rng.normal(-2, 6, 400),
                             rng.normal(-3, 6, 400), rng.lognormal(np.log(0.8), 0.6, 400)])
    cluster = np.column_stack([rng.normal(11, 0.05, 36), rng.normal(0, 0.05, 36), rng.normal(8.0, 0.05, 36),
                               rng.normal(-9.0, 0.05, 36), rng.normal(2.5, 0.02, 36)])
    X = np.vstack([field, cluster])
    r = DEC(centroid=(8.0, -9.0, 2.5), **FAST).fit(X, errors=errors_for(X)).result_
    assert not r.found and r.step_counts["filter"] < 40
    assert "DEC needs 40" in r.details["no_cluster_reason"]


def test_sky_front_end_uses_the_default_methods_settings() -> None:
    import inspect

    from vo_ocml.membership import scope
    from vo_ocml.membership.mstgmm import MSTGMM

    defaults = {k: p.default for k, p in inspect.signature(MSTGMM).parameters.items()}
    assert (scope.FILTER_NSIGMA, scope.MIN_SIGNIFICANCE, scope.VELOCITY_DISPERSION) == (
        defaults["filter_nsigma"], defaults["min_significance"], defaults["max_velocity_dispersion"])


def test_numpy_seeds_are_independent() -> None:
    """A seed trained alone or beside others in the stack gives the same run."""
    Z = np.random.default_rng(0).normal(size=(300, 5))
    trainer = NumpyDecTrainer(Z, 4, hidden=(8, 8), latent_dim=3, batch_size=64, learning_rate=0.003)
    steps = dict(pretrain_steps=40, update_interval=10, tol=0.0, max_iter=3)
    alone = trainer.run_many([5], **steps)[0]
    stacked = trainer.run_many([4, 5], **steps)[1]
    np.testing.assert_array_equal(alone.q, stacked.q)


def test_numpy_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(40, 5))
    trainer = NumpyDecTrainer(Z, 3, hidden=(6,), latent_dim=2, batch_size=16, learning_rate=0.003)
    layers = [(rng.normal(size=(1, a, b)), rng.normal(size=(1, 1, b))) for a, b in trainer.shapes]
    x = Z[None, :16]

    def mse() -> float:
        return float(np.mean((_forward(layers, trainer.relu, x)[-1] - x) ** 2))

    acts = _forward(layers, trainer.relu, x)
    grads = _backward(layers, trainer.relu, acts, 2.0 * (acts[-1] - x) / x[0].size)
    enc, relu = layers[: trainer.n_encoder], trainer.relu[: trainer.n_encoder]
    centres = rng.normal(size=(1, 3, 2))
    target = rng.dirichlet(np.ones(3), 16)[None]

    def kl() -> float:
        q = _soft(_forward(enc, relu, x)[-1], centres)[0]
        return float(np.mean(np.sum(target * np.log(target / q), axis=2)))

    acts_e = _forward(enc, relu, x)
    q, kernel, diff = _soft(acts_e[-1], centres)
    coef = 2.0 * kernel * (target - q) / 16
    kl_grads = _backward(enc, relu, acts_e, np.einsum("sbk,sbkl->sbl", coef, diff))
    grad_mu = -np.einsum("sbk,sbkl->skl", coef, diff)
    for loss, params, analytic in ((mse, [a for layer in layers for a in layer], grads),
                                   (kl, [*[a for layer in enc for a in layer], centres], [*kl_grads, grad_mu])):
        for p, g in zip(params, analytic):
            idx = (0,) * p.ndim
            old = p[idx]
            p[idx] = old + 1e-6
            up = loss()
            p[idx] = old - 1e-6
            down = loss()
            p[idx] = old
            assert (up - down) / 2e-6 == pytest.approx(g[idx], rel=1e-4, abs=1e-9)


@pytest.mark.slow
def test_tensorflow_backend_finds_the_cluster() -> None:
    pytest.importorskip("tensorflow")
    X, truth = scene()
    members = DEC(features="raw", backend="tensorflow", **FAST).fit(X).result_.members(0.5)
    completeness, purity = _scores(members, truth)
    assert completeness >= 0.95 and purity >= 0.7, "the cluster's group also holds field stars of its cell"


@pytest.fixture(scope="module")
def fitted() -> tuple[DEC, np.ndarray, np.ndarray]:
    X, truth = scene()
    return DEC(features="raw", quantile_filter=False, **FAST).fit(X), X, truth


def test_finds_the_cluster(fitted: tuple[DEC, np.ndarray, np.ndarray]) -> None:
    dec, _, truth = fitted
    members = dec.result_.members(0.5)
    tp = np.count_nonzero(members & truth)
    assert tp / truth.sum() >= 0.95, "completeness"
    assert tp / members.sum() >= 0.8, "purity (the cluster's group also holds the field stars of its cell)"


def test_thesis_features_with_quantile_filter() -> None:
    X, truth = scene()
    members = DEC(features="thesis", quantile_filter=True, **FAST).fit(X).result_.members(0.5)
    tp = np.count_nonzero(members & truth)
    assert tp / truth.sum() >= 0.4, "completeness (the 0.10-0.90 filter on 4 features keeps about half)"
    assert tp / members.sum() >= 0.9, "purity"


def test_result_contract(fitted: tuple[DEC, np.ndarray, np.ndarray]) -> None:
    dec, X, _ = fitted
    r = dec.result_
    assert isinstance(r, MembershipResult) and r.method == "dec"
    assert r.probability.shape == (len(X),) and np.all((r.probability >= 0) & (r.probability <= 1))
    assert set(r.stage) == {STAGE_DEC}
    assert list(r.step_counts) == ["cone", "complete", "dec_group", "quantile_filter", "p_gt_05", "p_gt_08"]
    assert r.step_counts["cone"] == len(X) and r.step_counts["p_gt_05"] == r.members(0.5).sum()
    assert r.centroid is not None and r.centroid.source == "data"
    assert r.centroid.as_array() == pytest.approx([8.0, -9.0, 2.5], abs=0.1)
    assert set(r.parameters) >= {"n_clusters", "features", "hidden", "latent_dim", "n_seeds", "random_state"}
    assert {"silhouette", "group_choice", "seed_agreement_jaccard"} <= set(r.details)
    groups = r.extra_columns["ocml_dec_group"]
    assert groups.shape == (len(X),) and set(np.unique(groups)) <= set(range(6))
    assert np.array_equal(groups, dec.labels_) and dec.n_clusters_ == 6
    assert np.mean(np.isin(dec.labels_[r.members(0.5)], dec.cluster_groups_)) > 0.9
    assert np.array_equal(dec.probability_, r.probability, equal_nan=True)


def test_predict_proba_matches_fit(fitted: tuple[DEC, np.ndarray, np.ndarray]) -> None:
    dec, X, _ = fitted
    proba = dec.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba[:, 1], dec.probability_, atol=1e-5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_deterministic_with_a_seed(fitted: tuple[DEC, np.ndarray, np.ndarray]) -> None:
    dec, X, _ = fitted
    again = DEC(features="raw", quantile_filter=False, **FAST).fit(X)
    assert np.array_equal(again.probability_, dec.probability_)


def test_row_order_does_not_matter(fitted: tuple[DEC, np.ndarray, np.ndarray]) -> None:
    dec, X, _ = fitted
    order = np.random.default_rng(7).permutation(len(X))
    shuffled = DEC(features="raw", quantile_filter=False, **FAST).fit(X[order])
    assert np.array_equal(shuffled.probability_, dec.probability_[order])


def test_quantile_filter_and_incomplete_rows() -> None:
    X, truth = scene()
    bad = X[:4].copy()
    bad[0, 2] = np.nan  # missing pmra
    bad[1, 4] = -0.3  # negative parallax
    bad[2, 4] = 0.0  # zero parallax
    bad[3, 0] = np.inf
    Xb = np.vstack([bad, X])
    dec = DEC(features="raw", quantile_filter=True, **FAST).fit(Xb)
    r = dec.result_
    assert list(r.stage[:4]) == [STAGE_INCOMPLETE] * 4
    assert np.all(np.isnan(r.probability[:4])) and np.all(dec.labels_[:4] == -1)
    assert r.step_counts["complete"] == len(X)
    kept = r.members(0.5)[4:]
    assert np.count_nonzero(kept & ~truth) <= 0.05 * kept.sum(), "the filtered members are pure"
    assert r.step_counts["quantile_filter"] < r.step_counts["dec_group"]
    assert np.all(r.probability[4:][r.stage[4:] == "quantile"] == 0)


def test_centroid_picks_the_nearest_group() -> None:
    X, truth = scene()
    rng = np.random.default_rng(3)
    other = np.column_stack([
        rng.normal(11, 0.2, 150), rng.normal(0, 0.2, 150),
        rng.normal(-12.0, 0.15, 150), rng.normal(4.0, 0.15, 150), rng.normal(1.2, 0.03, 150),
    ])
    X2 = np.vstack([X, other])
    dec = DEC(features="raw", quantile_filter=False, centroid=(-12.0, 4.0, 1.2), **FAST).fit(X2)
    members = dec.result_.members(0.5)
    assert members[-150:].mean() > 0.9, "the clump at the centroid is found"
    assert members[:-150][truth].mean() < 0.05, "the other (denser) cluster is not"
    assert dec.result_.centroid.source == "user"
    assert "centroid" in dec.result_.details["group_choice"]["rule"]
    assert dec.result_.details["member_centroid"][0] == pytest.approx(-12.0, abs=0.3)
    c = Centroid(-12.0, 4.0, 1.2, source="catalogue:test", name="Other")
    assert DEC(features="raw", quantile_filter=False, centroid=c, **FAST).fit(X2).result_.centroid is c


def test_too_few_stars_for_k_groups() -> None:
    X, _ = scene(n_field=20, n_cluster=5)
    with pytest.raises(InputError, match=r"at least 30 stars with complete astrometry.*parallax > 0.*6 groups"):
        DEC(features="thesis", **FAST).fit(X)


def test_nan_table_is_too_few() -> None:
    X = np.full((100, 5), np.nan)
    with pytest.raises(InputError, match="None of the 100 rows has complete astrometry"):
        DEC(**FAST).fit(X)


def test_identical_rows() -> None:
    X = np.tile([10.0, 5.0, 3.0, -2.0, 1.5], (200, 1))
    with pytest.raises(InputError, match=r"pmra/parallax, pmdec/parallax, parallax, pm have the same value"):
        DEC(features="thesis", **FAST).fit(X)


def test_too_few_distinct_rows() -> None:
    X = np.vstack([np.tile([10.0, 5.0, 3.0, -2.0, 1.5], (100, 1)), np.tile([10.0, 5.0, 1.0, 2.0, 0.4], (100, 1))])
    with pytest.raises(InputError, match="only 2 distinct"):
        DEC(features="thesis", **FAST).fit(X)


@pytest.mark.parametrize(
    ("kwargs", "X", "message"),
    [
        ({}, np.zeros((10, 3)), r"\(n, 5\) array with columns ra, dec, pmra, pmdec, parallax"),
        ({"features": "colour"}, None, "features must be one of"),
        ({"backend": "torch"}, None, "backend must be one of"),
        ({"n_clusters": 1}, None, "n_clusters must be an integer"),
        ({"quantiles": (0.9, 0.1)}, None, "quantiles must satisfy"),
        ({"centroid": (1.0, 2.0)}, None, "centroid must be a Centroid or three finite numbers"),
    ],
)
def test_bad_input_messages(kwargs: dict, X: np.ndarray | None, message: str) -> None:
    X = scene(100, 20)[0] if X is None else X
    with pytest.raises(InputError, match=message):
        DEC(**kwargs).fit(X)


def test_predict_proba_needs_fit() -> None:
    with pytest.raises(InputError, match="call fit"):
        DEC().predict_proba(np.zeros((3, 5)))


def test_numpy_fit_does_not_load_tensorflow() -> None:
    code = ("import sys, numpy as np, vo_ocml.membership.dec as d; "
            "rng = np.random.default_rng(0); X = np.column_stack([rng.uniform(0, 1, (300, 2)), "
            "rng.normal(0, 3, (300, 2)), rng.uniform(0.5, 2, 300)]); "
            "d.DEC(features='raw', n_clusters=4, n_seeds=1, pretrain_steps=20, max_iter=1).fit(X); "
            "assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
