"""The classifier comparison (the study's Table 2) and plain-text renderings of every result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from astropy.table import Table

from vo_ocml.chemtag.classifiers import make_pipeline
from vo_ocml.chemtag.data import ChemDataset
from vo_ocml.chemtag.evaluate import METRICS, CVResult, cross_validate
from vo_ocml.chemtag.names import CLASSIFIERS, DISPLAY_NAMES
from vo_ocml.chemtag.representations import RepresentationResult


def compare_classifiers(dataset: ChemDataset, names: Sequence[str] = CLASSIFIERS, *,
                        n_splits: int = 3, n_repeats: int = 5, random_state: int = 0,
                        n_jobs: int = 1, params: dict[str, dict[str, Any]] | None = None
                        ) -> dict[str, CVResult]:
    """Cross-validate each classifier on all abundances with the same splits.

    Parameters
    ----------
    dataset : ChemDataset
        Stars and labels.
    names : sequence of str
        Classifiers (default: all eight of the study).
    n_splits, n_repeats, random_state : int
        Repeated stratified k-fold scheme and seed.
    n_jobs : int
        Threads for random forest and XGBoost.
    params : dict, optional
        Per-classifier hyper-parameters overriding the defaults.

    Returns
    -------
    dict of str to CVResult
        In the order of ``names``.
    """
    params = params or {}
    return {
        name: cross_validate(
            make_pipeline(name, random_state=random_state, n_jobs=n_jobs,
                          params=params.get(name)),
            dataset.X, dataset.y, n_splits=n_splits, n_repeats=n_repeats,
            random_state=random_state)
        for name in names
    }


def format_classifier_table(results: dict[str, CVResult], title: str = "") -> str:
    """Table 2 layout: classifier, accuracy, precision, recall, F1 (per cent, mean ± std)."""
    head = f"{'classifier':<20}" + "".join(f"{m:>15}" for m in METRICS) + f"{'time':>9}"
    lines = [title] if title else []
    lines += [head, "-" * len(head)]
    for name, cv in results.items():
        lines.append(f"{DISPLAY_NAMES.get(name, name):<20}"
                     + "".join(f"{cv.formatted(m):>15}" for m in METRICS)
                     + f"{cv.seconds:>8.1f}s")
    return "\n".join(lines)


def format_representation_table(results: Sequence[RepresentationResult], classifier: str,
                                title: str = "") -> str:
    """Table 4 layout: representation, dimension, accuracy and F1 of one classifier."""
    head = (f"{'representation':<20}{'dims':>5}{'accuracy':>15}{'f1':>15}{'time':>9}  "
            "features")
    lines = [title] if title else []
    lines += [f"classifier: {DISPLAY_NAMES.get(classifier, classifier)}", head, "-" * len(head)]
    for r in results:
        lines.append(f"{r.name:<20}{r.n_dims:>5}{r.cv.formatted('accuracy'):>15}"
                     f"{r.cv.formatted('f1'):>15}{r.cv.seconds:>8.1f}s  {r.features}")
    return "\n".join(lines)


def format_table(table: Table, percent: Sequence[str] = (), digits: int = 3) -> str:
    """A small astropy table as aligned text; ``percent`` columns are shown ×100 with 1 decimal."""
    cols = table.colnames
    cells = [[str(c) for c in cols]]
    for row in table:
        out = []
        for c in cols:
            v = row[c]
            if c in percent:
                out.append(f"{100 * float(v):.1f}")
            elif isinstance(v, (float, np.floating)):
                out.append(f"{float(v):.{digits}g}")
            else:
                out.append(str(v))
        cells.append(out)
    widths = [max(len(r[i]) for r in cells) for i in range(len(cols))]
    lines = ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
