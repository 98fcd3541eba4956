"""Optional extras: a method whose dependency is missing fails at once, naming the extra.

The missing module is simulated by a real import failure: ``sys.modules[name] = None`` makes
``import name`` raise ImportError inside this test only.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from vo_ocml.cli import main
from vo_ocml.errors import MissingDependencyError


def test_dec_tensorflow_backend_without_tensorflow_names_the_extra(monkeypatch, tmp_path,
                                                                     capsys):
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    out = tmp_path / "o.vot"
    assert main(["run", "--method", "dec", "--dec-backend", "tensorflow", "-o", str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "DEC's TensorFlow backend needs TensorFlow" in err
    assert "pip install 'vo_ocml[dec]'" in err
    assert "Traceback" not in err and not out.exists()


def test_dec_estimator_without_tensorflow(monkeypatch):
    from vo_ocml.membership.dec import DEC

    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(MissingDependencyError, match=r"vo_ocml\[dec\]"):
        DEC(backend="tensorflow").fit(np.ones((50, 5)))


def test_xgboost_classifier_without_xgboost(monkeypatch):
    from vo_ocml.chemtag.classifiers import EncodedXGBClassifier

    monkeypatch.setitem(sys.modules, "xgboost", None)
    with pytest.raises(MissingDependencyError, match=r"XGBoost.*pip install 'vo_ocml\[chemtag\]'"):
        EncodedXGBClassifier().fit(np.arange(8.0).reshape(4, 2), np.array([0, 1, 0, 1]))


def test_missing_dependency_is_an_import_error():
    assert issubclass(MissingDependencyError, ImportError)
