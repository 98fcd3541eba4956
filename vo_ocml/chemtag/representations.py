"""Feature representations compared in the study's Table 4, as scikit-learn pipeline steps.

Every selection is fitted inside the training fold (no information from the test stars):

- ``all``: every abundance;
- ``drop_noisiest``: without the ``n`` noisiest elements — by median reported uncertainty when
  every abundance has an error column, otherwise by the pooled within-cluster scatter
  (1.4826 × median absolute deviation around each cluster's median, in dex);
- ``drop_low_mi``: without the ``n`` elements of lowest mutual information with the label;
- ``correlation_groups``: one element per group of an average-linkage hierarchical clustering of
  the distance ``1 − |ρ_Spearman|`` cut at ``1 − threshold`` (elements correlated beyond
  ``threshold`` share a group); the element kept is the one most correlated with its group;
- ``pca``: principal components;
- ``multitask``: the latent code of :class:`~vo_ocml.chemtag.multitask.MultitaskAutoencoder`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from scipy.special import digamma
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.feature_selection import SelectorMixin
from sklearn.neighbors import KDTree
from sklearn.preprocessing import StandardScaler

from vo_ocml.chemtag.classifiers import make_pipeline
from vo_ocml.chemtag.data import ChemDataset
from vo_ocml.chemtag.evaluate import CVResult, cross_validate
from vo_ocml.chemtag.multitask import MultitaskAutoencoder
from vo_ocml.chemtag.names import REPRESENTATIONS
from vo_ocml.errors import InputError



class DropNoisiest(SelectorMixin, BaseEstimator):
    """Drop the ``n_drop`` noisiest columns.

    Parameters
    ----------
    n_drop : int
        Columns to drop.
    noise : array-like, optional
        Noise level per column (e.g. median uncertainty); if ``None`` it is measured in ``fit``
        as the pooled within-cluster scatter.
    """

    def __init__(self, n_drop: int = 1, noise: np.ndarray | None = None):
        self.n_drop = n_drop
        self.noise = noise

    def fit(self, X: np.ndarray, y: np.ndarray) -> DropNoisiest:
        """Measure (or take) the noise and choose the columns to keep."""
        X = np.asarray(X, float)
        self.noise_ = np.asarray(self.noise, float) if self.noise is not None \
            else within_cluster_scatter(X, y)
        self.support_ = _drop_top(self.noise_, self.n_drop)
        return self

    def _get_support_mask(self) -> np.ndarray:
        return self.support_


class MutualInfoDrop(SelectorMixin, BaseEstimator):
    """Drop the ``n_drop`` columns of lowest mutual information with the label.

    Parameters
    ----------
    n_drop : int
        Columns to drop.
    random_state : int
        Seed of scikit-learn's nearest-neighbour MI estimator.
    """

    def __init__(self, n_drop: int = 2, random_state: int = 0):
        self.n_drop = n_drop
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> MutualInfoDrop:
        """Estimate the mutual information of each column with ``y``."""
        self.mutual_info_ = mutual_information(X, y, random_state=self.random_state)
        self.support_ = _drop_top(-self.mutual_info_, self.n_drop)
        return self

    def _get_support_mask(self) -> np.ndarray:
        return self.support_


class CorrelationGroups(SelectorMixin, BaseEstimator):
    """Keep one column per group of Spearman-correlated columns.

    Parameters
    ----------
    threshold : float
        Columns with ``|ρ|`` above this (in average linkage) form one group.
    """

    def __init__(self, threshold: float = 0.9):
        self.threshold = threshold

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> CorrelationGroups:
        """Cluster the columns and pick each group's most representative one."""
        rho = spearman_matrix(X)
        self.groups_ = correlation_groups(rho, self.threshold)
        support = np.zeros(X.shape[1], bool)
        for g in np.unique(self.groups_):
            members = np.flatnonzero(self.groups_ == g)
            mean_rho = np.abs(rho[np.ix_(members, members)]).mean(axis=1)
            support[members[np.argmax(mean_rho)]] = True
        self.support_ = support
        return self

    def _get_support_mask(self) -> np.ndarray:
        return self.support_


def mutual_information(X: np.ndarray, y: np.ndarray, n_neighbors: int = 3,
                       random_state: int = 0) -> np.ndarray:
    """Mutual information (nats) of each column with the labels.

    The k-nearest-neighbour estimator of Ross (2014, PLoS ONE 9, e87357) exactly as in
    :func:`sklearn.feature_selection.mutual_info_classif` (columns scaled to unit variance,
    1e-10 jitter against ties, classes with one member ignored), with the within-class
    neighbour distances computed on sorted values instead of one neighbour search per class and
    column: the same numbers, tens of times faster with many clusters.

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Continuous features (no NaN).
    y : ndarray, shape (n,)
        Labels.
    n_neighbors : int
        k of the estimator.
    random_state : int
        Seed of the jitter.

    Returns
    -------
    ndarray, shape (d,)
    """
    X = np.array(X, dtype=float)
    std = X.std(axis=0)
    X /= np.where(std > 0, std, 1.0)
    rng = np.random.RandomState(random_state)  # scikit-learn's generator, for identical jitter
    X += 1e-10 * np.maximum(1.0, np.mean(np.abs(X), axis=0)) * rng.standard_normal(X.shape)
    _, inverse, counts = np.unique(np.asarray(y), return_inverse=True, return_counts=True)
    keep = counts[inverse] > 1
    X, inverse = X[keep], inverse[keep]
    label_counts = counts[inverse]
    k_all = np.minimum(n_neighbors, label_counts - 1)
    constant = digamma(len(inverse)) + np.mean(digamma(k_all)) - np.mean(digamma(label_counts))
    mi = np.empty(X.shape[1])
    for j in range(X.shape[1]):
        x = X[:, j]
        radius = np.empty(len(x))
        for c in np.unique(inverse):
            rows = inverse == c
            radius[rows] = np.nextafter(_kth_neighbour_distance(x[rows], k_all[rows][0]), 0)
        m = KDTree(x[:, None]).query_radius(x[:, None], radius, count_only=True)
        mi[j] = max(0.0, constant - np.mean(digamma(m)))
    return mi


def _kth_neighbour_distance(values: np.ndarray, k: int) -> np.ndarray:
    """Distance from each value to its k-th nearest other value (1-D)."""
    order = np.argsort(values, kind="stable")
    s = values[order]
    n = len(s)
    idx = np.arange(n)
    candidates = np.full((n, 2 * k), np.inf)
    for a in range(1, k + 1):
        left, right = idx - a, idx + a
        ok = left >= 0
        candidates[ok, a - 1] = s[ok] - s[left[ok]]
        ok = right < n
        candidates[ok, k + a - 1] = s[right[ok]] - s[ok]
    out = np.empty(n)
    out[order] = np.partition(candidates, k - 1, axis=1)[:, k - 1]
    return out


def _drop_top(score: np.ndarray, n_drop: int) -> np.ndarray:
    if not 0 <= n_drop < len(score):
        raise InputError(f"cannot drop {n_drop} of {len(score)} abundances")
    support = np.ones(len(score), bool)
    support[np.argsort(-score, kind="stable")[:n_drop]] = False
    return support


def within_cluster_scatter(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pooled robust scatter of each column around its cluster medians (dex).

    1.4826 × the median over all stars of ``|x − median of the star's cluster|``.
    """
    y = np.asarray(y)
    residuals = np.empty_like(np.asarray(X, float))
    for label in np.unique(y):
        rows = y == label
        residuals[rows] = X[rows] - np.nanmedian(X[rows], axis=0)
    return 1.4826 * np.nanmedian(np.abs(residuals), axis=0)


def spearman_matrix(X: np.ndarray) -> np.ndarray:
    """Spearman correlation matrix of the columns (rows with a NaN are left out)."""
    X = np.asarray(X, float)
    X = X[np.isfinite(X).all(axis=1)]
    if X.shape[1] < 2:
        return np.ones((X.shape[1], X.shape[1]))
    rho = spearmanr(X).statistic
    return np.nan_to_num(np.atleast_2d(rho), nan=0.0)


def correlation_linkage(rho: np.ndarray) -> np.ndarray:
    """Average-linkage tree of the columns on the distance ``1 − |ρ|``."""
    dist = 1.0 - np.abs(rho)
    np.fill_diagonal(dist, 0.0)
    return linkage(squareform(np.clip(dist, 0.0, None), checks=False), method="average")


def correlation_groups(rho: np.ndarray, threshold: float) -> np.ndarray:
    """Group label of each column: the linkage tree cut at distance ``1 − threshold``."""
    if len(rho) < 2:
        return np.ones(len(rho), int)
    return fcluster(correlation_linkage(rho), t=1.0 - threshold, criterion="distance")


@dataclass
class RepresentationOptions:
    """Parameters of the representations (defaults follow the study where they apply).

    Attributes
    ----------
    n_noisiest : int
        Elements dropped by ``drop_noisiest`` (the study: 1, Co).
    n_low_mi : int
        Elements dropped by ``drop_low_mi`` (the study: 2, V and TiII).
    threshold : float
        ``|ρ|`` grouping threshold of ``correlation_groups`` (the study: 0.9).
    n_components : int or None
        PCA dimension; default ``min(10, d − 1)``.
    latent_dim : int or None
        Multitask latent size; default ``min(10, d)``.
    gamma : float
        Multitask cross-entropy weight.
    epochs : int
        Multitask training epochs.
    """

    n_noisiest: int = 1
    n_low_mi: int = 2
    threshold: float = 0.9
    n_components: int | None = None
    latent_dim: int | None = None
    gamma: float = 1.0
    epochs: int = 300


def representation_steps(name: str, dataset: ChemDataset, options: RepresentationOptions,
                         random_state: int = 0
                         ) -> tuple[list[tuple[str, Any]], dict[str, np.ndarray]]:
    """Pipeline steps and per-sample fit parameters of representation ``name``.

    Parameters
    ----------
    name : str
        One of :data:`~vo_ocml.chemtag.names.REPRESENTATIONS`.
    dataset : ChemDataset
        Supplies the number of abundances and, for ``drop_noisiest`` and ``multitask``, the
        uncertainties.
    options : RepresentationOptions
        Parameters.
    random_state : int
        Seed.

    Returns
    -------
    steps : list of (str, transformer)
        To pass to :func:`~vo_ocml.chemtag.classifiers.make_pipeline`.
    sample_params : dict
        Per-sample fit parameters (the multitask uncertainties).
    """
    d = dataset.X.shape[1]
    if name == "all":
        return [], {}
    if name == "drop_noisiest":
        known = np.isfinite(dataset.sigma).any(axis=0)
        noise = np.nanmedian(dataset.sigma, axis=0) if known.all() else None
        return [("select", DropNoisiest(options.n_noisiest, noise))], {}
    if name == "drop_low_mi":
        return [("select", MutualInfoDrop(options.n_low_mi, random_state))], {}
    if name == "correlation_groups":
        return [("select", CorrelationGroups(options.threshold))], {}
    if name == "pca":
        n = options.n_components or min(10, d - 1)
        if not 1 <= n <= d:
            raise InputError(f"PCA needs 1 to {d} components, not {n}")
        return [("prescale", StandardScaler()), ("pca", PCA(n, random_state=random_state))], {}
    if name == "multitask":
        model = MultitaskAutoencoder(latent_dim=options.latent_dim or min(10, d),
                                     gamma=options.gamma, epochs=options.epochs,
                                     random_state=random_state)
        return [("prescale", StandardScaler()), ("multitask", model)], \
            {"multitask__sigma": dataset.sigma}
    raise InputError(f"unknown representation {name!r}; choose from {', '.join(REPRESENTATIONS)}")


@dataclass
class RepresentationResult:
    """One row of the representation table."""

    name: str
    features: str
    n_dims: int
    cv: CVResult


def describe(name: str, dataset: ChemDataset, options: RepresentationOptions,
             random_state: int = 0) -> tuple[str, int]:
    """What representation ``name`` keeps when fitted on the whole dataset (for display).

    Returns
    -------
    text : str
        E.g. ``"without CO_FE"`` or ``"PCA 9D"``.
    n_dims : int
        Dimension of the representation.
    """
    steps, _ = representation_steps(name, dataset, options, random_state)
    if name in ("drop_noisiest", "drop_low_mi", "correlation_groups"):
        X = np.where(np.isfinite(dataset.X), dataset.X, np.nanmedian(dataset.X, axis=0))
        selector = steps[0][1].fit(X, dataset.y)
        kept = selector.get_support()
        dropped = [f for f, k in zip(dataset.features, kept) if not k]
        if name == "correlation_groups":
            return f"kept {', '.join(np.array(dataset.features)[kept])}", int(kept.sum())
        return f"without {', '.join(dropped)}", int(kept.sum())
    if name == "pca":
        n = steps[1][1].n_components
        return f"PCA {n}D", n
    if name == "multitask":
        n = steps[1][1].latent_dim
        return f"multitask latent {n}D", n
    return f"all {len(dataset.features)}", len(dataset.features)


def compare_representations(dataset: ChemDataset, names: tuple[str, ...] = REPRESENTATIONS, *,
                            classifier: str = "rbf_svm",
                            options: RepresentationOptions | None = None, n_splits: int = 3,
                            n_repeats: int = 5, random_state: int = 0, n_jobs: int = 1
                            ) -> list[RepresentationResult]:
    """Cross-validate one classifier on each representation (the study's Table 4).

    Parameters
    ----------
    dataset : ChemDataset
        Stars, labels, uncertainties.
    names : tuple of str
        Representations to compare (see :data:`~vo_ocml.chemtag.names.REPRESENTATIONS`).
    classifier : str
        Classifier (the study: RBF SVM).
    options : RepresentationOptions, optional
        Representation parameters.
    n_splits, n_repeats, random_state : int
        Cross-validation scheme and seed (same splits for every representation).
    n_jobs : int
        Threads for the classifier.

    Returns
    -------
    list of RepresentationResult
    """
    options = options or RepresentationOptions()
    results = []
    for name in names:
        steps, params = representation_steps(name, dataset, options, random_state)
        pipe = make_pipeline(classifier, steps, random_state=random_state, n_jobs=n_jobs)
        cv = cross_validate(pipe, dataset.X, dataset.y, n_splits=n_splits, n_repeats=n_repeats,
                            random_state=random_state, sample_params=params)
        text, dims = describe(name, dataset, options, random_state)
        results.append(RepresentationResult(name, text, dims, cv))
    return results
