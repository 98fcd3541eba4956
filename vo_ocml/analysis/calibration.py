"""Scores of membership probabilities against a known truth: selection scores and calibration.

Used by the injection–recovery benchmark (``bench/injection.py``) and its tests. Stars that
belong to neither side of the truth (e.g. members of a field's own catalogued cluster) are
passed as ``exclude`` and left out of every score.

- completeness = TP / N(true members), purity = TP / N(selected), F1 = 2 TP / (N(selected) +
  N(true members));
- reliability: candidate stars (P ≥ ``p_min``) binned in P; in each bin the mean P against the
  fraction that are true members;
- expected calibration error (ECE) = Σ_b (n_b / N) |mean P_b − fraction true_b| over those bins
  (Naeini et al. 2015; Guo et al. 2017): 0 when the probabilities mean what they say.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: probability of the loosest candidates scored for calibration
P_MIN = 0.05
#: reliability bins: [0.05, 0.1), [0.1, 0.2), …, [0.9, 1.0]
EDGES = np.array([P_MIN, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])


@dataclass(frozen=True)
class Scores:
    """Selection scores of one membership against the truth (NaN where undefined)."""

    n_true: int
    n_selected: int
    true_positives: int

    @property
    def completeness(self) -> float:
        """TP / N(true members)."""
        return self.true_positives / self.n_true if self.n_true else np.nan

    @property
    def purity(self) -> float:
        """TP / N(selected)."""
        return self.true_positives / self.n_selected if self.n_selected else np.nan

    @property
    def f1(self) -> float:
        """2 TP / (N(selected) + N(true members))."""
        total = self.n_selected + self.n_true
        return 2 * self.true_positives / total if total else np.nan


@dataclass(frozen=True)
class Reliability:
    """A reliability diagram's numbers.

    Attributes
    ----------
    edges : ndarray
        Bin edges in P.
    counts : ndarray
        Candidate stars per bin.
    mean_p, fraction : ndarray
        Mean probability and fraction of true members per bin (NaN for empty bins).
    ece : float
        Expected calibration error over the candidates (NaN without candidates).
    """

    edges: np.ndarray
    counts: np.ndarray
    mean_p: np.ndarray
    fraction: np.ndarray
    ece: float


def _clean(prob: np.ndarray, truth: np.ndarray, exclude: np.ndarray | None):
    prob = np.nan_to_num(np.asarray(prob, dtype=float), nan=0.0)
    truth = np.asarray(truth, dtype=bool)
    if prob.shape != truth.shape:
        raise ValueError(f"prob and truth differ in shape: {prob.shape} vs {truth.shape}")
    if exclude is not None:
        keep = ~np.asarray(exclude, dtype=bool)
        prob, truth = prob[keep], truth[keep]
    return prob, truth


def selection_scores(prob: np.ndarray, truth: np.ndarray, *, threshold: float = 0.5,
                     exclude: np.ndarray | None = None) -> Scores:
    """Completeness, purity and F1 of the stars with P > ``threshold`` (NaN P counts as 0)."""
    prob, truth = _clean(prob, truth, exclude)
    selected = prob > threshold
    return Scores(int(truth.sum()), int(selected.sum()), int((selected & truth).sum()))


def reliability(prob: np.ndarray, truth: np.ndarray, *, edges: np.ndarray = EDGES,
                exclude: np.ndarray | None = None) -> Reliability:
    """Reliability of the candidates (P ≥ ``edges[0]``), and their ECE.

    Parameters
    ----------
    prob : array_like
        Membership probabilities (NaN: not scored, counts as 0).
    truth : array_like of bool
        True membership.
    edges : array_like
        Bin edges; the last bin includes P = 1.
    exclude : array_like of bool, optional
        Stars to leave out.

    Returns
    -------
    Reliability
    """
    prob, truth = _clean(prob, truth, exclude)
    edges = np.asarray(edges, dtype=float)
    candidate = prob >= edges[0]
    p, t = prob[candidate], truth[candidate]
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    counts = np.bincount(index, minlength=len(edges) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(index, weights=p, minlength=len(edges) - 1) / counts
        fraction = np.bincount(index, weights=t, minlength=len(edges) - 1) / counts
    total = counts.sum()
    ece = float(np.nansum(counts * np.abs(mean_p - fraction)) / total) if total else np.nan
    return Reliability(edges, counts, mean_p, fraction, ece)


def expected_calibration_error(prob: np.ndarray, truth: np.ndarray, *,
                               exclude: np.ndarray | None = None) -> float:
    """ECE of the candidates with P ≥ 0.05 (see :func:`reliability`)."""
    return reliability(prob, truth, exclude=exclude).ece
