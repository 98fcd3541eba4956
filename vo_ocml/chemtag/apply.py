"""Train a chemical-tagging classifier, save it, load it, and apply it to a new table.

:func:`train` fits a pipeline (classifier + representation) on a :class:`ChemDataset`;
:meth:`ChemTagModel.save` writes it with joblib (a multitask representation is stored inside in
the Keras format); :meth:`ChemTagModel.apply` adds to a copy of any table with the same abundance
columns (a file, or a VOTable received over SAMP):

- ``ocml_chem_cluster`` (UCD ``meta.id``): the predicted birth cluster, empty where too many
  abundances are missing (more than half; fewer are imputed with the training medians);
- ``ocml_chem_prob`` (UCD ``stat.probability``): the classifier's probability of that cluster;

and provenance in ``meta["ocml_params"]``. Input columns are never renamed or dropped.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from typing import Any

import joblib
import numpy as np
from astropy.table import MaskedColumn, Table
from sklearn.pipeline import Pipeline

from vo_ocml.chemtag.classifiers import make_pipeline
from vo_ocml.chemtag.data import ChemDataset, column_as_float
from vo_ocml.chemtag.representations import RepresentationOptions, representation_steps
from vo_ocml.errors import InputError
from vo_ocml.io.tables import param

CLUSTER_COLUMN = "ocml_chem_cluster"
PROB_COLUMN = "ocml_chem_prob"
_FORMAT = "vo_ocml.chemtag.model/1"


@dataclass
class ChemTagModel:
    """A trained classifier with what is needed to apply it.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Imputer, representation, scaler and classifier (with ``predict_proba``).
    features : list of str
        Abundance columns, in order.
    classes : list of str
        Cluster labels.
    classifier, representation : str
        Their names.
    n_train : int
        Training stars.
    info : dict
        Provenance (version, date, cuts report).
    """

    pipeline: Pipeline
    features: list[str]
    classes: list[str]
    classifier: str
    representation: str
    n_train: int
    info: dict[str, Any] = field(default_factory=dict)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted cluster and its probability for rows of abundances (NaN allowed).

        Rows missing more than half of the abundances get ``""`` and NaN.
        """
        X = np.asarray(X, float)
        ok = np.isfinite(X).sum(axis=1) * 2 >= X.shape[1]
        labels = np.full(len(X), "", dtype=object)
        prob = np.full(len(X), np.nan)
        if ok.any():
            proba = self.pipeline.predict_proba(X[ok])
            best = np.argmax(proba, axis=1)
            classes = np.asarray(self.pipeline.classes_).astype(str)
            labels[ok] = classes[best]
            prob[ok] = proba[np.arange(len(best)), best]
        return labels.astype(str), prob

    def apply(self, table: Table) -> Table:
        """A copy of ``table`` with ``ocml_chem_cluster`` and ``ocml_chem_prob`` added.

        Raises
        ------
        InputError
            The table lacks one of the model's abundance columns.
        """
        upper = {c.upper(): c for c in table.colnames}
        missing = [f for f in self.features if f.upper() not in upper]
        if missing:
            raise InputError(
                f"the table lacks the abundance columns {', '.join(missing)} that this model "
                f"was trained on ({', '.join(self.features)})")
        X = np.column_stack([column_as_float(table, upper[f.upper()]) for f in self.features])
        labels, prob = self.predict(X)
        out = table.copy()
        out[CLUSTER_COLUMN] = MaskedColumn(labels, mask=labels == "",
                                           description="predicted birth cluster (chemistry)")
        out[CLUSTER_COLUMN].meta["ucd"] = "meta.id"
        out[PROB_COLUMN] = MaskedColumn(prob, mask=~np.isfinite(prob),
                                        description="classifier probability of that cluster")
        out[PROB_COLUMN].meta["ucd"] = "stat.probability"
        out.meta["ocml_params"] = [*out.meta.get("ocml_params", []), *self._params()]
        return out

    def _params(self) -> list[dict[str, Any]]:
        def p(name: str, value: Any, ucd: str, text: str) -> dict[str, Any]:
            """One provenance PARAM."""
            return param(name, value, ucd, None, text)

        return [
            p("ocml_version", self.info.get("version", ""), "meta.version", "vo_ocml version"),
            p("ocml_method", "chemtag", "meta.code", "method"),
            p("ocml_date", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "time.creation", "when the clusters were predicted (UTC)"),
            p("ocml_chem_classifier", self.classifier, "meta.code", "classifier"),
            p("ocml_chem_representation", self.representation, "meta.code", "representation"),
            p("ocml_chem_features", ",".join(self.features), "meta.ref", "abundance columns"),
            p("ocml_chem_n_train", self.n_train, "meta.number", "training stars"),
            p("ocml_chem_trained", self.info.get("date", ""), "time.creation",
              "when the model was trained (UTC)"),
        ]

    def save(self, path: str | os.PathLike) -> None:
        """Write the model with joblib."""
        joblib.dump({"format": _FORMAT, "model": self}, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ChemTagModel:
        """Read a model written by :meth:`save`.

        Raises
        ------
        InputError
            The file is missing or is not a chemtag model.
        """
        try:
            payload = joblib.load(path)
        except FileNotFoundError as exc:
            raise InputError(f"no model file {os.fspath(path)!r}") from exc
        except Exception as exc:  # joblib raises many kinds on a foreign file
            raise InputError(f"{os.fspath(path)!r} is not a readable chemtag model: {exc}") \
                from exc
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise InputError(f"{os.fspath(path)!r} is not a vo_ocml chemtag model")
        return payload["model"]


def train(dataset: ChemDataset, *, classifier: str = "rbf_svm", representation: str = "all",
          options: RepresentationOptions | None = None, params: dict[str, Any] | None = None,
          random_state: int = 0, n_jobs: int = 1) -> ChemTagModel:
    """Fit a classifier on a whole dataset.

    Parameters
    ----------
    dataset : ChemDataset
        Training stars.
    classifier : str
        See :data:`~vo_ocml.chemtag.names.CLASSIFIERS`.
    representation : str
        See :data:`~vo_ocml.chemtag.names.REPRESENTATIONS`.
    options : RepresentationOptions, optional
        Representation parameters.
    params : dict, optional
        Classifier hyper-parameters (e.g. from :func:`~vo_ocml.chemtag.classifiers.tune`).
    random_state : int
        Seed.
    n_jobs : int
        Threads.

    Returns
    -------
    ChemTagModel
    """
    from vo_ocml import __version__

    steps, sample_params = representation_steps(
        representation, dataset, options or RepresentationOptions(), random_state)
    pipe = make_pipeline(classifier, steps, random_state=random_state, probability=True,
                         n_jobs=n_jobs, params=params)
    pipe.fit(dataset.X, dataset.y, **sample_params)
    return ChemTagModel(
        pipeline=pipe, features=list(dataset.features),
        classes=[str(c) for c in pipe.classes_], classifier=classifier,
        representation=representation, n_train=len(dataset.y),
        info={"version": __version__,
              "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "selection": dataset.report.format()},
    )
