"""Chemical tagging: which open cluster does a star's chemistry point to?

A supervised baseline after the A&A 2024 study (see docs/chemtag.md): dataset preparation with
the study's cuts (:func:`prepare`), its eight classifiers (:func:`make_pipeline`), repeated
stratified k-fold evaluation (:func:`cross_validate`), feature representations including a
multitask autoencoder (:func:`compare_representations`), the field-star experiment
(:func:`field_experiment`), per-cluster analyses (:func:`cluster_correlations`), a simulator
seeded from OCCAM DR16 (:func:`simulate_members`) and trained models applied to new tables
(:func:`train`, :class:`ChemTagModel`). Submodules are imported on first use; TensorFlow only when
the multitask model is trained or loaded.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "ChemDataset": "data", "Cuts": "data", "prepare": "data", "load_default": "data",
    "CLASSIFIERS": "names", "REPRESENTATIONS": "names",
    "make_pipeline": "classifiers", "tune": "classifiers",
    "CVResult": "evaluate", "cross_validate": "evaluate", "fold_metrics": "evaluate",
    "compare_classifiers": "baseline",
    "RepresentationOptions": "representations",
    "compare_representations": "representations",
    "MultitaskAutoencoder": "multitask",
    "field_experiment": "field", "field_matrix": "field", "load_field_pool": "field",
    "cluster_correlations": "analysis",
    "simulate_members": "simulate",
    "ChemTagModel": "apply", "train": "apply",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"vo_ocml.chemtag.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'vo_ocml.chemtag' has no attribute {name!r}")
