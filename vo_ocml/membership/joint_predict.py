"""New stars under a fitted :class:`~vo_ocml.membership.mstgmm.MSTGMM`: each cluster's posterior
and the field's, as the fit gave them to its own stars.

New stars pass the fitted filters (the MST belongs to the fitted sample and is not re-applied)
and get the first cluster's fit -- the single model's, the paper's mixture, or its group's joint
mixture -- combined with every group of clusters fitted apart from it (``fits_apart_``) as the
fit combined them (:func:`~vo_ocml.membership.joint_groups.combine`). When the first cluster was
fitted alone because its group's mixture moved it (``first_alone_``), the rest of its group was
fitted on the stars it left: a new star in its filter window is then the field's for the groups
fitted apart, as those stars were.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vo_ocml.membership.joint import window_columns
from vo_ocml.membership.joint_groups import combine
from vo_ocml.membership.deconvolution import error_covariance
from vo_ocml.membership.radial_mixture import RadialMixtureFit
from vo_ocml.membership.sky import tangent_plane


def _block(rows: np.ndarray, n: int, k: int,
           predict: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """(n, k + 1) posteriors: ``predict(rows)`` on ``rows``, the field's (last column) elsewhere,
    as a fit leaves the stars outside its filter windows."""
    block = np.zeros((n, k + 1))
    block[:, -1] = 1.0
    if len(rows):
        block[rows] = predict(rows)
    return block


def cluster_posteriors(est, X: np.ndarray, err: np.ndarray | None) -> np.ndarray:
    """Posteriors (n, K + 1) of complete new rows ``X`` (standard errors ``err``, the stars'
    other columns in ``est._stars``) under ``est``'s fit: its clusters in the order of
    ``result_.clusters``, then the field."""
    n, kin = len(X), X[:, 2:5]
    if est.mixture_ is None:  # no cluster: every star the field's
        return np.column_stack([np.zeros(n), np.ones(n)])
    sky = tangent_plane(X[:, 0], X[:, 1], *est.sky_origin_)

    def likelihood_args(rows: np.ndarray, log_window: np.ndarray) -> tuple:
        """A radial or joint mixture's ``predict`` arguments for ``rows``."""
        sub = est._stars.rows(rows)
        cov = None if err is None else error_covariance(err[rows], sub.correlations)
        return kin[rows], cov, sky[rows], sub.magnitude, log_window, sub.colour

    own = np.flatnonzero(est._filter(kin, err, est.centre_, est.observed_spread_,
                                     est.intrinsic_spread_))
    if est.scaler_ is not None:  # the paper's mixture, in its standardised 5-D space
        def paper(rows: np.ndarray) -> np.ndarray:
            Z = est.scaler_.transform(np.column_stack([sky[rows], kin[rows]]))
            p = est.mixture_.predict_proba(Z)[:, est.cluster_component_]
            return np.column_stack([p, 1.0 - p])
        return _block(own, n, 1, paper)

    def single(rows: np.ndarray) -> np.ndarray:
        q = est.mixture_.predict(*likelihood_args(rows, est._window_log_volume(
            kin[rows], None if err is None else err[rows])))
        return np.column_stack([q, 1.0 - q])

    def group(seeds, model) -> np.ndarray:  # a joint mixture, in its clusters' filter windows
        passed, log_window = window_columns(est, kin, err, seeds)
        return _block(np.flatnonzero(passed.any(axis=1)), n, len(seeds),
                      lambda rows: model.predict(*likelihood_args(rows, log_window[rows])))

    P = _block(own, n, 1, single) if isinstance(est.mixture_, RadialMixtureFit) else \
        group(est.joint_seeds_, est.mixture_)
    for seeds, model in est.fits_apart_:
        block = group(seeds, model)
        if est.first_alone_:  # the groups apart were fitted on the stars the first one left
            block[own] = 0.0
            block[own, -1] = 1.0
        P = combine(P, block)
    return P
