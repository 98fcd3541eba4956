"""The one estimator contract: :class:`MembershipEstimator`, a scikit-learn ``BaseEstimator``.

It owns what every membership estimator shares: input validation, the choice of the rows that
can be scored (the complete rows), their canonical order, the result for every input row, the
step counts and the score. A subclass only scores the complete rows, in canonical order
(:meth:`MembershipEstimator._fit_rows`, :meth:`MembershipEstimator._predict_rows` or
:meth:`MembershipEstimator._predict_cluster_rows`).

Estimators take ``X`` as an ``(n, 5)`` float array with columns :data:`FEATURES`
(ra, dec in degrees; pmra, pmdec in mas/yr; parallax in mas) and, as the keyword ``errors``,
the ``(n, 3)`` standard errors of (pmra, pmdec, parallax). Rows that cannot be scored (a
non-finite value; for DEC also parallax ≤ 0) are kept and marked :data:`STAGE_INCOMPLETE`
with a NaN probability. The shared vocabulary (stages, steps, :class:`Centroid`,
:class:`MembershipResult`, :func:`is_member`) lives in :mod:`vo_ocml.membership.result` and is
importable from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from vo_ocml.errors import InputError
from vo_ocml.membership.result import (
    ERROR_FEATURES, FEATURES, MEMBER_THRESHOLD, STAGE_DEC, STAGE_DESCRIPTION, STAGE_FILTER,
    STAGE_GMM, STAGE_INCOMPLETE, STAGE_MST, STAGE_NO_CLUSTER, STAGE_QUANTILE, STEP_COMPLETE,
    STEP_CONE, Centroid, ClusterFound, MembershipResult, check_threshold, is_member, probability_step,
    step_param_name,
)

__all__ = [
    "ERROR_FEATURES", "FEATURES", "MEMBER_THRESHOLD", "STAGE_DEC", "STAGE_DESCRIPTION",
    "STAGE_FILTER", "STAGE_GMM", "STAGE_INCOMPLETE", "STAGE_MST", "STAGE_NO_CLUSTER",
    "STAGE_DTYPE", "STAGE_QUANTILE", "Centroid", "ClusterFound", "MembershipEstimator",
    "MembershipResult", "Scores", "as_centroid", "check_threshold", "complete_mask", "is_member",
    "probability_step", "step_param_name",
]

#: fixed-width strings for stage codes (4× faster than Python objects on 2M rows)
STAGE_DTYPE = f"<U{max(map(len, STAGE_DESCRIPTION))}"


def complete_mask(X: np.ndarray) -> np.ndarray:
    """Rows of ``X`` whose every feature is finite."""
    return np.all(np.isfinite(X), axis=1)


@dataclass
class Scores:
    """What an estimator computes for the rows it scores (complete rows, canonical order).

    Attributes
    ----------
    probability : ndarray, shape (m,)
        Membership probability of each scored row.
    stage : ndarray of str, shape (m,)
        Stage code of each scored row.
    steps : dict of str to int
        Star counts of the estimator's own steps, after ``cone`` and ``complete``.
    centroid : Centroid or None
        The cluster's fitted centroid; None: no cluster found.
    details : dict
        Method-specific facts (see :class:`MembershipResult`).
    extra_columns : dict of str to (ndarray, fill)
        Per-row outputs of the scored rows and the value the other rows get.
    clusters : list of ClusterFound
        Joint runs: every cluster modelled (see :class:`MembershipResult`).
    cluster_probability : ndarray, shape (m, K + 1), or None
        Joint runs: per-cluster and field probabilities of the scored rows.
    """

    probability: np.ndarray
    stage: np.ndarray
    steps: dict[str, int]
    centroid: Centroid | None
    details: dict[str, Any] = field(default_factory=dict)
    extra_columns: dict[str, tuple[np.ndarray, Any]] = field(default_factory=dict)
    clusters: list[ClusterFound] = field(default_factory=list)
    cluster_probability: np.ndarray | None = None


def as_centroid(value: Any) -> Centroid | None:
    """A :class:`Centroid` from None, a Centroid, or three finite numbers (a user's centroid).

    Raises
    ------
    InputError
        Not three finite numbers (pmra, pmdec in mas/yr, parallax in mas).
    """
    if value is None or isinstance(value, Centroid):
        if value is not None and not np.all(np.isfinite(value.as_array())):
            raise InputError(f"The centroid {value.as_array().tolist()} has missing values; give "
                             "pmra, pmdec and parallax (mas/yr, mas/yr, mas).")
        return value
    try:
        values = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        values = np.array([])
    if values.shape != (3,) or not np.all(np.isfinite(values)):
        raise InputError(f"The centroid must be a Centroid or three finite numbers (pmra, pmdec "
                         f"in mas/yr, parallax in mas); got {value!r:.100}.")
    return Centroid(*values.tolist(), source="user")


@dataclass(frozen=True)
class StarColumns:
    """Optional per-star columns beyond the astrometry: G, error correlations, BP−RP colour.

    The estimator's :meth:`MembershipEstimator.fit` and ``predict_proba`` put them, in the
    rows' canonical order, in ``self._stars`` before calling the subclass hooks.
    """

    magnitude: np.ndarray | None = None
    correlations: np.ndarray | None = None
    colour: np.ndarray | None = None

    @classmethod
    def checked(cls, n: int, magnitude: Any, correlations: Any,
                colour: Any = None) -> "StarColumns":
        """Checked float arrays of shapes (n,), (n, 3) and (n,), or None."""
        out = []
        for name, values, shape in (("magnitude", magnitude, (n,)),
                                    ("correlations", correlations, (n, 3)),
                                    ("colour", colour, (n,))):
            if values is not None:
                try:
                    values = np.asarray(values, dtype=np.float64)
                except (TypeError, ValueError):
                    raise InputError(f"{name} must be an array of numbers.") from None
                if values.shape != shape:
                    raise InputError(f"{name} must have shape {shape}; got {values.shape}.")
            out.append(values)
        return cls(*out)

    def rows(self, rows: np.ndarray) -> "StarColumns":
        """The same columns for ``rows`` only."""
        return StarColumns(*(None if v is None else np.take(v, rows, axis=0)
                             for v in (self.magnitude, self.correlations, self.colour)))


class MembershipEstimator(BaseEstimator):
    """The contract of every membership estimator (a scikit-learn estimator).

    ``fit(X, errors=E)`` checks ``X`` and ``errors``, keeps the rows that can be scored
    (:meth:`_scorable`) in a canonical order (sorted by ra, dec, pmra, pmdec, parallax, so that
    the result does not depend on the table's row order), hands them to :meth:`_fit_rows`, and
    builds ``result_`` for every input row. ``predict_proba``, ``predict_cluster_proba`` and
    ``score`` work the same way. Subclasses set :attr:`method` and implement
    :meth:`_check_params`, :meth:`_fit_rows` and :meth:`_predict_rows` (or, when their fits
    model several clusters, :meth:`_predict_cluster_rows`); every constructor argument is a
    parameter (``get_params``, ``set_params``, ``clone`` and ``GridSearchCV`` work).

    Attributes
    ----------
    result_ : MembershipResult
        Probabilities, stages, step counts, centroid and details for every input row.
    probability_ : ndarray, shape (n,)
        ``result_.probability``.
    """

    #: the method's name (``vo_ocml.run(method=...)``, provenance)
    method: ClassVar[str] = ""
    #: what makes a row complete, in words (for error messages)
    complete_rows: ClassVar[str] = "finite ra, dec, pmra, pmdec and parallax"

    # ------------------------------------------------------------------ subclass hooks
    def _check_params(self) -> None:
        """Raise :class:`InputError` on a parameter out of range."""

    def _scorable(self, X: np.ndarray) -> np.ndarray:
        """The rows this estimator can score (default: every feature finite)."""
        return complete_mask(X)

    def _fit_rows(self, X: np.ndarray, errors: np.ndarray | None) -> Scores:
        """Score the complete rows ``X`` (canonical order); ``errors`` aligned or None."""
        raise NotImplementedError

    def _predict_rows(self, X: np.ndarray, errors: np.ndarray | None) -> np.ndarray:
        """Membership probability of complete new rows under the fitted model."""
        raise NotImplementedError

    def _predict_cluster_rows(self, X: np.ndarray, errors: np.ndarray | None) -> np.ndarray:
        """Each cluster's posterior, then the field's, (m, K + 1), of complete new rows under
        the fitted model; by default the one cluster of :meth:`_predict_rows`. An estimator
        whose fits model several clusters implements this instead."""
        p = self._predict_rows(X, errors)
        return np.column_stack([p, 1.0 - p])

    def _parameters(self) -> dict[str, Any]:
        """Every parameter the fit used, for provenance (the centroid as three numbers, known
        clusters by name)."""
        params = self.get_params(deep=False)
        centroid = as_centroid(params.get("centroid"))
        params["centroid"] = None if centroid is None else centroid.as_array().tolist()
        if "known_clusters" in params:
            params["known_clusters"] = "; ".join(
                c.name or f"{c.as_array().tolist()}" for c in params["known_clusters"]) or "none"
        return params

    # ------------------------------------------------------------------ shared steps
    @staticmethod
    def _check_input(X: Any, errors: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """``X`` as an (n, 5) float array and ``errors`` as (n, 3) absolute values or None.

        Missing errors become the column's median; a column of errors that is entirely missing
        makes the errors unknown (None).
        """
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError("X must be an (n, 5) array of numbers with columns "
                             f"{', '.join(FEATURES)}.") from None
        if X.ndim != 2 or X.shape[1] != len(FEATURES):
            raise InputError(f"X must be an (n, 5) array with columns {', '.join(FEATURES)} "
                             f"(deg, deg, mas/yr, mas/yr, mas); got shape {X.shape}.")
        if len(X) == 0:
            raise InputError("The table is empty: there are no stars to classify.")
        if errors is None:
            return X, None
        try:
            errors = np.abs(np.asarray(errors, dtype=np.float64))
        except (TypeError, ValueError):
            raise InputError("errors must be an (n, 3) array of numbers (pmra_error, "
                             "pmdec_error, parallax_error).") from None
        if errors.shape != (len(X), len(ERROR_FEATURES)):
            raise InputError(f"errors must have shape ({len(X)}, 3) (pmra_error, pmdec_error, "
                             f"parallax_error); got {errors.shape}.")
        bad = ~np.isfinite(errors)
        if bad.all(axis=0).any():
            return X, None  # a whole error column is empty: the errors are unknown
        if bad.any():
            errors = np.where(bad, np.nanmedian(np.where(bad, np.nan, errors), axis=0), errors)
        return X, errors

    def _rows(self, X: np.ndarray) -> np.ndarray:
        """Indices of the scorable rows in canonical order (by ra, dec, pmra, pmdec, parallax)."""
        rows = np.flatnonzero(self._scorable(X))
        ra = X[rows, 0]
        # 10× faster than a 5-key lexsort on 2M rows. Without ties every sort gives the same
        # order: the default (SIMD) sort takes 0.27 s there where a stable one takes 0.48 s
        order = np.argsort(ra)
        sorted_ra = ra[order]
        if np.any(sorted_ra[1:] == sorted_ra[:-1]):  # ties in ra: the full order breaks them
            order = np.lexsort(X[rows][:, ::-1].T)
        return rows[order]

    # ------------------------------------------------------------------ API
    def fit(self, X: Any, y: None = None, *, errors: Any = None, magnitude: Any = None,
            correlations: Any = None, colour: Any = None) -> "MembershipEstimator":
        """Score every row of ``X``.

        Parameters
        ----------
        X : array-like, shape (n, 5)
            ra, dec (deg), pmra, pmdec (mas/yr), parallax (mas), in :data:`FEATURES` order;
            rows that cannot be scored are kept as ``incomplete``.
        y : None
            Unused (membership is unsupervised); present for scikit-learn. Anything else is
            refused, so that ``fit(X, E)`` cannot silently drop the errors.
        errors : array-like, shape (n, 3), optional
            Standard errors of pmra, pmdec, parallax (mas/yr, mas/yr, mas).
        magnitude : array-like, shape (n,), optional
            G magnitudes (NaN: unknown), for estimators whose model uses them.
        correlations : array-like, shape (n, 3), optional
            Gaia's ``pmra_pmdec_corr``, ``parallax_pmra_corr``, ``parallax_pmdec_corr``
            (NaN: 0), for estimators that deconvolve with full error covariances.
        colour : array-like, shape (n,), optional
            BP−RP (NaN: unknown), for estimators with a photometric term.

        Returns
        -------
        self

        Raises
        ------
        InputError
            Bad shape, values or parameters, or no row that can be scored.
        """
        if y is not None:
            raise InputError(f"{type(self).__name__}.fit takes no labels: membership is "
                             "unsupervised. Pass the standard errors as errors=E.")
        self._check_params()
        X, errors = self._check_input(X, errors)
        rows = self._rows(X)
        if len(rows) == 0:
            raise InputError(f"None of the {len(X)} rows has complete astrometry "
                             f"({self.complete_rows}): there is nothing to classify.")
        self._stars = StarColumns.checked(len(X), magnitude, correlations, colour).rows(rows)
        # np.take: the rows of millions in canonical order 2-5× faster than X[rows]
        scores = self._fit_rows(np.take(X, rows, axis=0),
                                None if errors is None else np.take(errors, rows, axis=0))
        self.result_ = self._result(len(X), rows, scores)
        self.probability_ = self.result_.probability
        return self

    def _result(self, n: int, rows: np.ndarray, scores: Scores) -> MembershipResult:
        probability = np.full(n, np.nan)
        probability[rows] = scores.probability
        stage = np.full(n, STAGE_INCOMPLETE, dtype=STAGE_DTYPE)
        stage[rows] = scores.stage
        steps = {STEP_CONE: n, STEP_COMPLETE: len(rows), **scores.steps}
        for step in steps:
            step_param_name(step)
        extra = {}
        for name, (values, fill) in scores.extra_columns.items():
            column = np.full(n, fill, dtype=np.asarray(values).dtype)
            column[rows] = values
            extra[name] = column
        matrix = None
        if scores.cluster_probability is not None:
            matrix = np.full((n, scores.cluster_probability.shape[1]), np.nan)
            matrix[rows] = scores.cluster_probability
        return MembershipResult(
            probability=probability, stage=stage, step_counts=steps,
            centroid=scores.centroid, method=self.method, parameters=self._parameters(),
            details=scores.details, extra_columns=extra, clusters=list(scores.clusters),
            cluster_probability=matrix)

    def _check_fitted(self) -> None:
        if not hasattr(self, "result_"):
            raise InputError(f"This {type(self).__name__} is not fitted yet: call fit() first.")

    def predict_proba(self, X: Any, *, errors: Any = None, magnitude: Any = None,
                      correlations: Any = None, colour: Any = None) -> np.ndarray:
        """Membership probabilities of stars ``X`` under the fitted model.

        Parameters
        ----------
        X : array-like, shape (n, 5)
            Rows in :data:`FEATURES` order.
        errors : array-like, shape (n, 3), optional
            Their standard errors of pmra, pmdec, parallax.
        magnitude, correlations, colour : array-like, optional
            As for :meth:`fit`.

        Returns
        -------
        ndarray, shape (n, 2)
            Columns: P(field), P(member) of the first (named or most significant) cluster; NaN
            for rows that cannot be scored.
        """
        p = self.predict_cluster_proba(X, errors=errors, magnitude=magnitude,
                                       correlations=correlations, colour=colour)[:, 0]
        return np.column_stack([1.0 - p, p])

    def predict_cluster_proba(self, X: Any, *, errors: Any = None, magnitude: Any = None,
                              correlations: Any = None, colour: Any = None) -> np.ndarray:
        """Each star's probability of belonging to each cluster of the fit, and to the field.

        Parameters
        ----------
        X, errors, magnitude, correlations, colour
            As for :meth:`predict_proba`.

        Returns
        -------
        ndarray, shape (n, K + 1)
            Columns: the K clusters in the order of ``result_.clusters`` (several-cluster fits;
            otherwise K = 1, the fitted cluster), then the field; rows sum to one, NaN for rows
            that cannot be scored. Column 0 is ``predict_proba(X)[:, 1]``; on the fitted rows
            the columns approximate ``result_.cluster_probability`` (new stars are not pruned
            by the MST).
        """
        self._check_fitted()
        X, errors = self._check_input(X, errors)
        rows = np.flatnonzero(self._scorable(X))
        self._stars = StarColumns.checked(len(X), magnitude, correlations, colour).rows(rows)
        out = np.full((len(X), max(len(self.result_.clusters), 1) + 1), np.nan)
        if len(rows):
            out[rows] = self._predict_cluster_rows(
                np.take(X, rows, axis=0), None if errors is None else np.take(errors, rows, axis=0))
        return out

    def score(self, X: Any, y: None = None, *, errors: Any = None) -> float:
        """How decisively the fitted model splits ``X`` into members and field (higher: better).

        Membership has no labels, so this is a documented surrogate of a likelihood: the mean,
        over the rows that can be scored, of log max(P, 1 − P) -- the log-probability of each
        star's more probable class (0 when every star is certainly a member or certainly
        field). A fit that found no cluster scores −inf, so that ``GridSearchCV`` never
        prefers "no cluster" to a cluster.

        Parameters
        ----------
        X : array-like, shape (n, 5)
            Rows in :data:`FEATURES` order.
        y : None
            Unused.
        errors : array-like, shape (n, 3), optional
            Their standard errors.

        Returns
        -------
        float
        """
        self._check_fitted()
        if not self.result_.found:
            return -math.inf
        p = self.predict_proba(X, errors=errors)[:, 1]
        p = p[np.isfinite(p)]
        if len(p) == 0:
            return -math.inf
        return float(np.mean(np.log(np.clip(np.maximum(p, 1.0 - p), 1e-300, 1.0))))
