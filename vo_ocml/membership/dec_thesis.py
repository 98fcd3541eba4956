"""DEC with the thesis's features on the whole cone (``features="thesis"`` or ``"raw"``).

The thesis's method (shared SCIENCE.md §2), automated: the cone's stars are clustered on
pmra/parallax, pmdec/parallax, parallax and the proper-motion modulus (or raw pmra, pmdec,
parallax); the cluster's groups are the one nearest the centroid (given, or the overdensity
:func:`~vo_ocml.membership.centroid.find_centroid` finds in pm, parallax and sky), else the
densest; the probability is the ensemble's soft-assignment ratio
(:func:`~vo_ocml.membership.dec_groups.cluster_probability`); optionally the thesis's quantile
filter. Kept to reproduce the thesis (``bench/dec_thesis.py``); ``features="sky"`` is better.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vo_ocml.membership.base import STAGE_DEC, STAGE_QUANTILE, Centroid, StarColumns
from vo_ocml.membership.detection import find_centroid
from vo_ocml.membership.sky import sky_centre, tangent_plane
from vo_ocml.membership.dec_features import FEATURE_SETS, RobustScaler, inside, quantile_bounds, raw_features
from vo_ocml.membership.dec_groups import (Ensemble, Outcome, anchor_rows, ensemble_details, ensemble_score,
                                           robust_spread, run_ensemble, scores)

if TYPE_CHECKING:
    from vo_ocml.membership.dec import DEC

log = logging.getLogger(__name__)

#: default merge radius (core spreads) for the thesis features: a rich cluster that fills its
#: proper-motion box is split by K-Means into several adjacent groups
MERGE_THESIS = 2.0


@dataclass
class ThesisModel:
    """The fitted thesis-feature DEC, to score new rows."""

    features: str
    scaler: RobustScaler
    ensemble: Ensemble
    bounds: np.ndarray | None
    quantile_filter: bool

    def predict(self, X: np.ndarray, errors: np.ndarray | None, stars: StarColumns) -> np.ndarray:
        """Probability of complete rows ``X`` (ra, dec, pmra, pmdec, parallax); errors unused."""
        F = raw_features(X, self.features)
        p = ensemble_score(self.ensemble, self.scaler.transform(F))
        return np.where(inside(F, self.bounds), p, 0.0) if self.quantile_filter else p


def detect(Xc: np.ndarray, err: np.ndarray | None, random_state: int) -> tuple[Centroid | None, dict | None]:
    """The cluster's overdensity found in the data, to pick the group near it (None: none found)."""
    sky = tangent_plane(Xc[:, 0], Xc[:, 1], *sky_centre(Xc[:, 0], Xc[:, 1]))
    found = find_centroid(Xc[:, 2:], err, sky, random_state=random_state)
    if found is None:
        return None, None
    c = found.centre
    info = {"centre": c.round(4).tolist(), "kernel": found.scale.round(4).tolist(),
            "significance": round(found.significance, 2), "n_peak": found.n_peak}
    log.info("DEC: overdensity found at %s (significance %.1f)", c, found.significance)
    return Centroid(float(c[0]), float(c[1]), float(c[2]), source="data",
                    spread=tuple(float(v) for v in found.scale)), info


def fit_thesis(est: "DEC", Xc: np.ndarray, err: np.ndarray | None, centroid: Centroid | None,
               stars: StarColumns) -> Outcome:
    """DEC on the thesis's features of every complete row ``Xc`` (canonical order)."""
    names = FEATURE_SETS[est.features]
    F = raw_features(Xc, est.features)
    scaler = RobustScaler.fit(F, names)
    Z = scaler.transform(F)
    k, silhouettes = est._k(Z, "stars with complete astrometry (finite ra, dec, pmra, pmdec and parallax > 0)")
    seeds = est._seeds(len(Z))
    guide, detection = (centroid, None) if centroid is not None else detect(Xc, err, est.random_state)
    training, network = est._network()
    ens = run_ensemble(Z, k, seeds, Xc[:, 2:], guide, backend=est.backend,
                       anchor=None if guide is None else anchor_rows(Xc[:, 2:], guide),
                       training=training, network=network,
                       merge_distance=est.merge_distance if est.merge_distance is not None else MERGE_THESIS,
                       names="(pmra, pmdec, parallax)", verbose=est.verbose)
    members = ens.score > 0.5
    bounds = quantile_bounds(F, members, est.quantiles) if est.quantile_filter else None
    keep = inside(F, bounds) if est.quantile_filter else np.ones(len(Z), dtype=bool)
    probability = np.where(keep, ens.score, 0.0)
    details = ensemble_details(ens, seeds, k, silhouettes, est.n_clusters is not None) | {
        "detection": detection,
        "quantile_bounds": None if bounds is None else
        {nm: [float(b[0]), float(b[1])] for nm, b in zip(names, bounds.T)},
    }
    found = member_centroid(Xc, probability > 0.5, centroid)
    details["member_centroid"] = None if found is None else found.as_array().round(4).tolist()
    result = scores(probability, np.where(members & ~keep, STAGE_QUANTILE, STAGE_DEC),
                    ens.runs[ens.representative].labels,
                    {"dec_group": int(members.sum()), "quantile_filter": int((members & keep).sum())},
                    centroid if centroid is not None else found, details)
    return Outcome(result, ThesisModel(est.features, scaler, ens, bounds, est.quantile_filter),
                   ens.groups[ens.representative], k)


def member_centroid(V: np.ndarray, members: np.ndarray, given: Centroid | None) -> Centroid | None:
    """Median (pmra, pmdec, parallax) of the members of rows ``V`` (ra, dec, pmra, pmdec, parallax)."""
    if not members.any():
        return None
    W = V[members]
    pm_plx = np.median(W[:, 2:], axis=0)
    ra, dec = float(np.median(W[:, 0])), float(np.median(W[:, 1]))
    return Centroid(
        float(pm_plx[0]), float(pm_plx[1]), float(pm_plx[2]), source="data" if given is None else given.source,
        name=None if given is None else given.name, ra=ra, dec=dec,
        spread=tuple(float(s) for s in robust_spread(W[:, 2:])),
    )
