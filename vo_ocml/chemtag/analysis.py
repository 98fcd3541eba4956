"""Which clusters are hard to tag? Spearman correlations of per-cluster scores with properties.

Per-cluster recall and precision (from a :class:`~vo_ocml.chemtag.evaluate.CVResult`) are
correlated with the cluster's size (stars in the sample), mean abundance uncertainty (mean over
its stars of each star's mean known uncertainty; skipped without error columns) and [Fe/H]
(median over its stars; skipped without ``FE_H``). The study found ρ ≈ −0.78 between recall and
mean uncertainty.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table
from scipy.stats import spearmanr

from vo_ocml.chemtag.data import ChemDataset, mean_uncertainty
from vo_ocml.chemtag.evaluate import CVResult


def cluster_properties(dataset: ChemDataset, classes: np.ndarray) -> dict[str, np.ndarray]:
    """Size, mean uncertainty and median [Fe/H] of each cluster (those that can be computed)."""
    props = {"size": np.array([np.sum(dataset.y == c) for c in classes], float)}
    per_star = mean_uncertainty(dataset.sigma)
    if np.isfinite(per_star).any():
        props["mean_uncertainty"] = np.array(
            [np.nanmean(per_star[dataset.y == c]) for c in classes])
    if dataset.feh is not None:
        props["feh"] = np.array([np.nanmedian(dataset.feh[dataset.y == c]) for c in classes])
    return props


def cluster_correlations(cv: CVResult, dataset: ChemDataset) -> Table:
    """Spearman ρ and p-value of per-cluster recall/precision against cluster properties.

    Parameters
    ----------
    cv : CVResult
        Cross-validation of a classifier on ``dataset``.
    dataset : ChemDataset
        The stars that were cross-validated.

    Returns
    -------
    astropy.table.Table
        Columns ``score``, ``property``, ``rho``, ``p_value``, ``n_clusters``.
    """
    per = cv.per_cluster()
    props = cluster_properties(dataset, cv.classes)
    rows = []
    for score in ("recall", "precision"):
        values = np.asarray(per[score], float)
        for name, prop in props.items():
            ok = np.isfinite(values) & np.isfinite(prop)
            res = spearmanr(values[ok], prop[ok])
            rows.append({"score": score, "property": name, "rho": float(res.statistic),
                         "p_value": float(res.pvalue), "n_clusters": int(ok.sum())})
    return Table(rows=rows)
