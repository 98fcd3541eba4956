"""Injection–recovery ground truth: simulated open clusters injected into real Gaia tables.

``FieldModel(table).inject(rng, n, distance_kpc)`` returns the field plus one simulated
cluster, labelled ``inj_member`` (see :mod:`vo_ocml.injection.field` for the observation model
and :mod:`vo_ocml.injection.population` for the stars). ``bench/injection.py`` runs the
benchmark on every real field; scores are in :mod:`vo_ocml.analysis.calibration`.
"""

from vo_ocml.injection.field import (KNOWN_COLUMN, PARALLAX_ZERO_POINT, TRUTH_COLUMN, FieldModel,
                                     Injection)

__all__ = ["FieldModel", "Injection", "KNOWN_COLUMN", "PARALLAX_ZERO_POINT", "TRUTH_COLUMN"]
