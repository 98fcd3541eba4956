"""PNG figures of the baseline: confusion heat map, correlation dendrogram, field-star curve.

Figures are drawn on :class:`matplotlib.figure.Figure` objects (no pyplot state, Agg output).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from astropy.table import Table
from matplotlib.figure import Figure
from scipy.cluster.hierarchy import dendrogram

from vo_ocml.chemtag.evaluate import CVResult
from vo_ocml.chemtag.representations import correlation_linkage, spearman_matrix


def plot_confusion(cv: CVResult, path: str | os.PathLike, title: str = "") -> None:
    """Heat map of the mean confusion matrix, each row normalised to the cluster's recall."""
    counts = cv.confusion
    rows = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, rows, out=np.zeros_like(counts, dtype=float), where=rows > 0)
    n = len(cv.classes)
    size = max(5.0, 0.35 * n + 2.0)
    fig = Figure(figsize=(size + 1.0, size))
    ax = fig.add_subplot()
    image = ax.imshow(frac, cmap="viridis", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(n), [str(c) for c in cv.classes], rotation=90, fontsize=7)
    ax.set_yticks(range(n), [f"{c} ({k})" for c, k in zip(cv.classes, cv.class_counts)],
                  fontsize=7)
    ax.set_xlabel("predicted cluster")
    ax.set_ylabel("true cluster (stars)")
    ax.set_title(title or f"mean confusion, {cv.n_repeats}×{cv.n_splits}-fold")
    fig.colorbar(image, ax=ax, label="fraction of the true cluster")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_dendrogram(X: np.ndarray, features: Sequence[str], threshold: float,
                    path: str | os.PathLike) -> None:
    """Dendrogram of the abundances on ``1 − |ρ_Spearman|`` with the grouping cut drawn."""
    rho = spearman_matrix(X)
    fig = Figure(figsize=(max(5.0, 0.45 * len(features) + 2.0), 4.0))
    ax = fig.add_subplot()
    if len(features) > 1:
        dendrogram(correlation_linkage(rho), labels=list(features), ax=ax,
                   color_threshold=1.0 - threshold, leaf_rotation=90)
    ax.axhline(1.0 - threshold, color="grey", linestyle="--", label=f"|ρ| = {threshold}")
    ax.set_ylabel("1 − |Spearman ρ|")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_field_curve(table: Table, path: str | os.PathLike) -> None:
    """Member recall and precision (and tracked clusters' recall) versus the field ratio."""
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.add_subplot()
    ratio = np.asarray(table["ratio"], float)
    for name, marker in (("recall", "o"), ("precision", "s")):
        ax.errorbar(ratio, 100 * np.asarray(table[name]), yerr=100 * np.asarray(
            table[f"{name}_std"]), marker=marker, capsize=3, label=f"members: {name}")
    for col in table.colnames:
        if col.startswith("recall_") and col != "recall_std":
            ax.plot(ratio, 100 * np.asarray(table[col]), marker="^", linestyle=":",
                    label=f"{col.removeprefix('recall_')}: recall")
    resampled = np.asarray(table["resampled"], bool)
    if resampled.any():
        ax.axvspan(ratio[resampled].min(), ratio.max(), color="grey", alpha=0.15,
                   label="field resampled (smoothed bootstrap)")
    ax.set_xlabel("field stars per member")
    ax.set_ylabel("per cent")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
