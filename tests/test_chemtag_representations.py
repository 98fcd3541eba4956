"""Representations, the multitask autoencoder, the field experiment, the analyses, the simulator."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from astropy.table import Table

from vo_ocml.chemtag.analysis import cluster_correlations
from vo_ocml.chemtag.data import ChemDataset, Cuts, SelectionReport, prepare
from vo_ocml.chemtag.evaluate import cross_validate
from vo_ocml.chemtag.classifiers import make_pipeline
from vo_ocml.chemtag.field import field_experiment, field_matrix, load_field_pool, sample_field
from vo_ocml.chemtag.representations import (
    CorrelationGroups,
    DropNoisiest,
    MutualInfoDrop,
    RepresentationOptions,
    compare_representations,
    correlation_groups,
    mutual_information,
    spearman_matrix,
    within_cluster_scatter,
)
from vo_ocml.chemtag.simulate import SIM_ELEMENTS, load_occam_clusters, simulate_members
from vo_ocml.errors import InputError


def _dataset(n_per: int = 20, k: int = 4, d: int = 5, seed: int = 0, noise: float = 0.05
             ) -> ChemDataset:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 0.3, (k, d))
    y = np.repeat([f"C{i}" for i in range(k)], n_per)
    X = centres[np.repeat(np.arange(k), n_per)] + rng.normal(0, noise, (k * n_per, d))
    sigma = np.full_like(X, noise)
    return ChemDataset(X, y, [f"E{j}_FE" for j in range(d)], sigma, {}, None,
                       np.arange(len(y)), SelectionReport())


def test_drop_noisiest_uses_given_noise_or_within_cluster_scatter():
    ds = _dataset()
    X = ds.X.copy()
    X[:, 3] += np.random.default_rng(1).normal(0, 1.0, len(X))
    assert not DropNoisiest(1, noise=[0.1, 0.9, 0.1, 0.1, 0.1]).fit(X, ds.y).get_support()[1]
    measured = DropNoisiest(1).fit(X, ds.y)
    assert list(measured.get_support()) == [True, True, True, False, True]
    assert within_cluster_scatter(X, ds.y)[3] > 5 * within_cluster_scatter(X, ds.y)[0]
    with pytest.raises(InputError, match="cannot drop"):
        DropNoisiest(5).fit(X, ds.y)


def test_mutual_information_drops_label_free_columns():
    ds = _dataset()
    rng = np.random.default_rng(2)
    X = np.column_stack([ds.X, rng.normal(size=len(ds.y)), rng.normal(size=len(ds.y))])
    sel = MutualInfoDrop(2, random_state=0).fit(X, ds.y)
    assert list(sel.get_support()) == [True] * 5 + [False, False]


def test_mutual_information_equals_scikit_learn_with_ties_and_singletons():
    from sklearn.feature_selection import mutual_info_classif

    table = simulate_members(n_clusters=12, n_stars=200, random_state=4)
    ds = prepare(table)
    X = np.round(ds.X, 2)  # many ties
    y = ds.y.copy()
    y[0] = "singleton"  # a class with one member is ignored by the estimator
    for seed in (0, 7):
        assert mutual_information(X, y, random_state=seed) == pytest.approx(
            mutual_info_classif(X, y, random_state=seed), abs=1e-12)


def test_correlation_groups_keep_one_per_group():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=200), rng.normal(size=200)
    X = np.column_stack([a, a + 0.01 * rng.normal(size=200), b, -b + 0.01 * rng.normal(size=200),
                         rng.normal(size=200)])
    rho = spearman_matrix(X)
    groups = correlation_groups(rho, 0.9)
    assert groups[0] == groups[1] and groups[2] == groups[3]
    assert len(set(groups)) == 3
    sel = CorrelationGroups(0.9).fit(X)
    assert sel.get_support().sum() == 3
    assert CorrelationGroups(0.999999).fit(X).get_support().sum() == 5


def test_compare_representations_runs_each_by_name():
    ds = _dataset(n_per=12, k=3, d=6)
    names = ("all", "drop_noisiest", "drop_low_mi", "correlation_groups", "pca")
    results = compare_representations(ds, names, n_repeats=1,
                                      options=RepresentationOptions(n_components=3))
    assert [r.name for r in results] == list(names)
    dims = {r.name: r.n_dims for r in results}
    assert dims == {"all": 6, "drop_noisiest": 5, "drop_low_mi": 4, "correlation_groups": 6,
                    "pca": 3}
    assert all(r.cv.mean("accuracy") > 0.8 for r in results)
    with pytest.raises(InputError, match="unknown representation"):
        compare_representations(ds, ("umap",), n_repeats=1)


def test_multitask_autoencoder_learns_saves_and_transforms():
    from vo_ocml.chemtag.multitask import MultitaskAutoencoder

    ds = _dataset(n_per=25, k=3, d=6, noise=0.03)
    X = (ds.X - ds.X.mean(axis=0)) / ds.X.std(axis=0)
    model = MultitaskAutoencoder(latent_dim=4, epochs=150, random_state=0)
    model.fit(X, ds.y, sigma=ds.sigma)
    assert model.transform(X).shape == (len(X), 4)
    assert np.mean(model.predict(X) == ds.y) > 0.9
    recon_err = np.mean((model.reconstruct(X) - X) ** 2)
    assert recon_err < 0.5
    clone = pickle.loads(pickle.dumps(model))
    assert np.allclose(clone.transform(X), model.transform(X), atol=1e-6)
    # the uncertainty weighting matters: huge sigma on every value switches off reconstruction
    loose = MultitaskAutoencoder(latent_dim=4, epochs=150, gamma=0.0, random_state=0)
    loose.fit(X, ds.y, sigma=np.full_like(X, 30.0))
    assert np.mean((loose.reconstruct(X) - X) ** 2) > 2 * recon_err


def test_sample_field_without_and_with_replacement():
    pool = np.arange(20, dtype=float).reshape(10, 2)
    rng = np.random.default_rng(0)
    few, resampled = sample_field(pool, 6, rng)
    assert not resampled and len({tuple(r) for r in few}) == 6
    many, resampled = sample_field(pool, 50, rng)
    assert resampled and many.shape == (50, 2)


def test_field_pool_and_matrix():
    pool = load_field_pool()
    X = field_matrix(pool, ["C_FE", "MG_FE", "FE_H"])
    assert X.shape[1] == 3 and len(X) > 1000
    assert (X[:, 2] >= -0.6).all() and (X[:, 2] <= 0.3).all()
    with pytest.raises(InputError, match="lacks"):
        field_matrix(pool, ["EU_FE"])


def test_field_experiment_table():
    ds = _dataset(n_per=15, k=3, d=4)
    field = np.random.default_rng(5).normal(0, 0.3, (30, 4))
    table = field_experiment(ds, field, [0, 1, 3], track=("C1", "absent"), n_repeats=2)
    assert list(table["n_field"]) == [0, 45, 135]
    assert list(table["resampled"]) == [False, True, True]
    assert table["precision"][0] == pytest.approx(table["recall"][0])
    assert "recall_C1" in table.colnames and "recall_absent" not in table.colnames
    assert table["precision"][2] <= table["precision"][0]


def test_cluster_correlations_signs():
    ds = _dataset(n_per=10, k=5, d=3)
    sizes = [3, 5, 8, 12, 20]
    y = np.concatenate([[f"C{i}"] * n for i, n in enumerate(sizes)])
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (5, 3))
    # bigger clusters: smaller noise, so recall rises with size
    X = np.vstack([centres[i] + rng.normal(0, 1.5 / (i + 1), (n, 3))
                   for i, n in enumerate(sizes)])
    sigma = np.concatenate([[1.0 / (i + 1)] * n for i, n in enumerate(sizes)])[:, None] \
        * np.ones((1, 3))
    ds = ChemDataset(X, y, ["A_FE", "B_FE", "C_FE"], sigma, {}, X[:, 0],
                     np.arange(len(y)), SelectionReport())
    cv = cross_validate(make_pipeline("rbf_svm"), X, y, n_repeats=2)
    corr = cluster_correlations(cv, ds)
    assert set(corr["property"]) == {"size", "mean_uncertainty", "feh"}
    row = corr[(corr["score"] == "recall") & (corr["property"] == "mean_uncertainty")][0]
    assert row["rho"] < 0
    size = corr[(corr["score"] == "recall") & (corr["property"] == "size")][0]
    assert size["rho"] == pytest.approx(-row["rho"])
    assert 0 <= row["p_value"] <= 1


def test_simulator_is_seeded_from_occam_means():
    table = simulate_members(random_state=1)
    again = simulate_members(random_state=1)
    assert np.array_equal(table["MG_FE"], again["MG_FE"])
    params = {p["name"]: p["value"] for p in table.meta["ocml_params"]}
    assert params["ocml_simulated"] is True
    names, counts = np.unique(table["CLUSTER"], return_counts=True)
    assert len(names) == 27 and counts.min() >= 8
    assert abs(len(table) - 775) < 30
    ds = prepare(table, cuts=Cuts())
    assert ds.features == list(SIM_ELEMENTS)
    occam = load_occam_clusters()
    row = occam[occam["NAME"] == "NGC_6791"][0]
    members = table[table["CLUSTER"] == "NGC 6791"]
    for e in ("MG_FE", "FE_H", "NI_FE"):
        sem = max(row[f"{e}_ERR"], np.median(members[f"{e}_ERR"])) / np.sqrt(len(members))
        assert abs(np.mean(members[e]) - row[e]) < 5 * sem
    with pytest.raises(InputError, match="only"):
        simulate_members(n_clusters=500)


def test_simulator_falls_back_to_occam_spread_without_field_errors():
    table = simulate_members(errors=Table({"X": [1.0]}), n_clusters=3, n_stars=30)
    assert np.isfinite(table["CU_FE_ERR"]).all()
