"""Trained models (save, load, apply) and the ``vo-ocml chemtag`` command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from vo_ocml.chemtag.apply import CLUSTER_COLUMN, PROB_COLUMN, ChemTagModel, train
from vo_ocml.chemtag.data import load_default, prepare
from vo_ocml.cli import main
from vo_ocml.errors import InputError

RAW = Path(__file__).parent / "data" / "chem" / "apogee_occam_raw_subset.csv"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> tuple[ChemTagModel, Path]:
    ds = prepare(load_default())
    trained = train(ds, classifier="rbf_svm")
    path = tmp_path_factory.mktemp("model") / "chemtag.joblib"
    trained.save(path)
    return trained, path


def test_saved_model_applies_to_a_new_table(model):
    trained, path = model
    loaded = ChemTagModel.load(path)
    assert loaded.features == trained.features and len(loaded.classes) == 19
    table = load_default()[:20]
    table["MG_FE"] = table["MG_FE"].astype(float)
    for col in ("C_FE", "O_FE", "MG_FE", "SI_FE"):
        table[col][0] = np.nan
    out = loaded.apply(table)
    assert table.colnames == out.colnames[: len(table.colnames)]
    assert out[CLUSTER_COLUMN].mask[0] and np.ma.is_masked(out[PROB_COLUMN][0])
    assert not out[CLUSTER_COLUMN].mask[1:].any()
    prob = np.asarray(out[PROB_COLUMN][1:], float)
    assert ((prob > 0) & (prob <= 1)).all()
    # the training stars come back mostly in their own cluster
    assert np.mean(out[CLUSTER_COLUMN][1:] == table["CLUSTER"][1:]) > 0.6
    assert out[PROB_COLUMN].meta["ucd"] == "stat.probability"
    names = {p["name"] for p in out.meta["ocml_params"]}
    assert {"ocml_chem_classifier", "ocml_chem_features", "ocml_version"} <= names


def test_apply_needs_the_model_columns_and_a_model_file(model, tmp_path):
    trained, _ = model
    with pytest.raises(InputError, match="lacks the abundance columns"):
        trained.apply(Table({"MG_FE": [0.1]}))
    bogus = tmp_path / "not_a_model.joblib"
    bogus.write_text("hello")
    with pytest.raises(InputError, match="not a readable chemtag model"):
        ChemTagModel.load(bogus)
    with pytest.raises(InputError, match="no model file"):
        ChemTagModel.load(tmp_path / "missing.joblib")


@pytest.mark.slow
def test_multitask_model_round_trip(tmp_path):
    ds = prepare(load_default())
    trained = train(ds, classifier="rbf_svm", representation="multitask")
    path = tmp_path / "mt.joblib"
    trained.save(path)
    loaded = ChemTagModel.load(path)
    table = load_default()[:30]
    a, b = trained.apply(table), loaded.apply(table)
    assert list(a[CLUSTER_COLUMN]) == list(b[CLUSTER_COLUMN])
    assert np.allclose(a[PROB_COLUMN], b[PROB_COLUMN], atol=1e-6)


def test_cli_baseline_prints_table_and_writes_files(tmp_path, capsys):
    status = main(["chemtag", "baseline", "--classifiers", "dummy,knn,rbf_svm", "--repeats",
                   "1", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert status == 0
    assert "nearest neighbours" in text and "RBF SVM" in text and "min_members" in text
    assert (tmp_path / "confusion_rbf_svm.png").stat().st_size > 1000
    confusion = Table.read(tmp_path / "confusion_knn.csv")
    assert len(confusion) == 19
    summary = Table.read(tmp_path / "classifiers.csv")
    assert list(summary["classifier"]) == ["dummy", "knn", "rbf_svm"]
    assert summary["accuracy_mean"][2] > summary["accuracy_mean"][0]


def test_cli_baseline_with_tuning(capsys):
    assert main(["chemtag", "baseline", "--classifiers", "knn", "--tune", "--repeats", "1"]) == 0
    assert "tuned knn: {'n_neighbors'" in capsys.readouterr().out


def test_cli_on_a_file_with_cuts_and_analyse(tmp_path, capsys):
    status = main(["chemtag", "analyse", "-i", str(RAW), "--repeats", "1", "--out",
                   str(tmp_path)])
    text = capsys.readouterr().out
    assert status == 0
    assert "membership" in text and "Spearman" in text
    assert (tmp_path / "correlations.csv").exists()


def test_cli_representations_field_train_apply_simulate(tmp_path, capsys):
    assert main(["chemtag", "representations", "--representations", "all,correlation_groups",
                 "--repeats", "1", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "dendrogram.png").exists()
    assert main(["chemtag", "field", "--ratios", "0,1", "--repeats", "1", "--out",
                 str(tmp_path)]) == 0
    assert len(Table.read(tmp_path / "field.csv")) == 2
    assert (tmp_path / "field.png").exists()
    model = tmp_path / "m.joblib"
    assert main(["chemtag", "train", "--classifier", "knn", "-m", str(model)]) == 0
    out = tmp_path / "tagged.ecsv"
    assert main(["chemtag", "apply", str(RAW), "-m", str(model), "-o", str(out)]) == 0
    tagged = Table.read(out)
    assert CLUSTER_COLUMN in tagged.colnames and len(tagged) == 175
    sim = tmp_path / "sim.csv"
    assert main(["chemtag", "simulate", "-o", str(sim), "--n-clusters", "5",
                 "--n-stars", "60"]) == 0
    assert len(set(Table.read(sim)["CLUSTER"])) == 5
    capsys.readouterr()


def test_cli_bad_input_exits_2(tmp_path, capsys):
    bad = tmp_path / "nolabel.csv"
    Table({"MG_FE": [0.1, 0.2], "FE_H": [0.0, 0.1]}).write(bad)
    assert main(["chemtag", "baseline", "-i", str(bad)]) == 2
    assert "no label column" in capsys.readouterr().err
    assert main(["chemtag", "baseline", "--simulated", "-i", str(bad)]) == 2


def test_cli_cluster_with_one_member_exits_2(tmp_path, capsys):
    rng = np.random.default_rng(0)
    table = Table({"CLUSTER": ["A"] * 10 + ["B"] * 10 + ["Lonely 1"],
                   "MG_FE": rng.normal(size=21), "FE_H": rng.normal(0, 0.1, 21)})
    path = tmp_path / "one.csv"
    table.write(path)
    assert main(["chemtag", "baseline", "-i", str(path), "--min-members", "1"]) == 2
    assert "Lonely 1 (1)" in capsys.readouterr().err
    # with the default >= 8 members cut the lonely star is removed and the rest runs
    assert main(["chemtag", "baseline", "-i", str(path), "--classifiers", "knn",
                 "--repeats", "1"]) == 0
    assert "2 of 3 clusters kept" in capsys.readouterr().out


def test_cli_simulated_baseline(capsys):
    assert main(["chemtag", "baseline", "--simulated", "--classifiers", "dummy,linear_svm",
                 "--repeats", "1"]) == 0
    text = capsys.readouterr().out
    assert "SIMULATED" in text and "27 clusters" in text and "linear SVM" in text

