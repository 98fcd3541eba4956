"""K clusters + field in (pmra, pmdec, parallax): the radial mixture generalised to several clusters.

For each star i the model is::

    p(v_i) ∝ Σ_k odds_k(r_ik) · N(v_i; μ_k, Σ_k + S_i) + N(v_i; μ_f, Σ_f + S_i)

where r_ik is the star's distance from cluster k's sky centre and odds_k(r) = f_k(r) / (1 − f_k(r))
are cluster k's prior odds against the field at that radius. Each f_k is the single-cluster
model's member fraction (:mod:`vo_ocml.membership.radial_mixture`): radial bins of equal star
counts around the cluster, non-increasing outwards (isotonic), estimated in the M-step as the
mean of P_k / (P_k + P_field) in each bin -- the share of cluster k against the field alone,
so that a neighbouring cluster's stars count for neither. With one cluster this is exactly the
single-cluster model. The Gaussians are the same deconvolved ones (extreme deconvolution,
:func:`~vo_ocml.membership.radial_mixture._xd_update`), one per cluster (with the perspective
gradient where asked) and one for the field. The posterior is a probability per cluster and
for the field, summing to one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vo_ocml.membership.radial_mixture import _decreasing, _log_normal, _xd_update


@dataclass
class JointSeed:
    """Where one cluster starts: centroid (pmra, pmdec, parallax), intrinsic spread, sky centre.

    ``gradient``: whether its mean may vary linearly across the sky (nearby clusters).
    """

    mean: np.ndarray
    intrinsic: np.ndarray
    centre: np.ndarray
    gradient: bool = False


@dataclass
class JointMixtureFit:
    """A fitted K-cluster + field mixture.

    Attributes
    ----------
    probability : ndarray, shape (n, K + 1)
        Posterior of each cluster (columns 0…K−1, in the seeds' order) and of the field
        (last column); rows sum to one.
    means, gradients, covs : ndarray, shapes (K, 3), (K, 2, 3), (K, 3, 3)
        Each cluster's mean at its centre, its gradient per degree and intrinsic covariance.
    centres : ndarray, shape (K, 2)
        Sky centres on the tangent plane (deg).
    bin_edges, fractions : list of ndarray
        Each cluster's radial bin edges (deg) and member fraction per bin.
    field_weights, field_means, field_covs : ndarray, shapes (M,), (M, 3), (M, 3, 3)
        The field's Gaussians.
    n_iter : int
        EM iterations run.
    log_likelihood : float
        Mean log-likelihood per star at convergence.
    """

    probability: np.ndarray
    means: np.ndarray
    gradients: np.ndarray
    covs: np.ndarray
    centres: np.ndarray
    bin_edges: list[np.ndarray]
    fractions: list[np.ndarray]
    field_weights: np.ndarray
    field_means: np.ndarray
    field_covs: np.ndarray
    n_iter: int
    log_likelihood: float

    def _log_terms(self, kin: np.ndarray, S: np.ndarray | None, sky: np.ndarray) -> np.ndarray:
        terms = []
        for k in range(len(self.means)):
            mean = self.means[k] + (sky - self.centres[k]) @ self.gradients[k]
            f = self.fractions[k][_bin(self.bin_edges[k], sky, self.centres[k])]
            terms.append(np.log(f) - np.log1p(-f) + _log_normal(kin, mean, self.covs[k], S)[0])
        terms.append(np.logaddexp.reduce(np.column_stack(
            [np.log(w) + _log_normal(kin, m, c, S)[0]
             for w, m, c in zip(self.field_weights, self.field_means, self.field_covs)]), axis=1))
        return np.column_stack(terms)

    def predict(self, kin: np.ndarray, errors: np.ndarray | None, sky: np.ndarray) -> np.ndarray:
        """Posteriors (n, K + 1) of (new) stars under the fitted model."""
        L = self._log_terms(kin, _covariance(errors), sky)
        return np.exp(L - np.logaddexp.reduce(L, axis=1)[:, None])


def _covariance(errors: np.ndarray | None) -> np.ndarray | None:
    return None if errors is None else np.einsum("ni,ij->nij", errors**2, np.eye(3))


def _bin(edges: np.ndarray, sky: np.ndarray, centre: np.ndarray) -> np.ndarray:
    r = np.hypot(*(sky - centre).T)
    return np.clip(np.searchsorted(edges, r, side="right") - 1, 0, len(edges) - 2)


def fit_joint_mixture(kin: np.ndarray, errors: np.ndarray | None, sky: np.ndarray,
                      seeds: list[JointSeed], *, field_groups: np.ndarray | None = None,
                      n_bins: int | None = None,
                      max_iter: int = 1000, tol: float = 2e-7,
                      p_tol: float = 5e-4) -> JointMixtureFit:
    """Fit K clusters and the field together by EM.

    Parameters
    ----------
    kin : ndarray, shape (n, 3)
        (pmra, pmdec, parallax) in mas/yr and mas, in a fixed (canonical) order.
    errors : ndarray, shape (n, 3) or None
        Their standard errors (None: no deconvolution).
    sky : ndarray, shape (n, 2)
        Tangent-plane positions (deg).
    seeds : list of JointSeed
        One per cluster (at least one).
    field_groups : ndarray of int, shape (n,), optional
        A starting group (0…M−1) for each star: the field is M Gaussians, each started from
        its group's stars (e.g. the stars of each cluster's filter, so that the field near
        each cluster is described where it is); default one Gaussian.
    n_bins : int, optional
        Radial bins per cluster (default: n/60 clipped to 4…12, as the single-cluster model).
    max_iter, tol, p_tol : int, float, float
        EM stops after ``max_iter`` iterations, or when the mean log-likelihood changes by less
        than ``tol``, or when no posterior changes by more than ``p_tol``.

    Returns
    -------
    JointMixtureFit
    """
    n, K = len(kin), len(seeds)
    S = _covariance(errors)
    n_bins = n_bins or int(np.clip(n // 60, 4, 12))
    floor = 1e-3 * np.maximum(np.std(kin, axis=0), 1e-6)
    mu = [np.broadcast_to(np.asarray(s.mean, float), kin.shape) for s in seeds]
    cov = [np.diag(np.maximum(np.asarray(s.intrinsic, float), floor) ** 2) for s in seeds]
    coef: list[np.ndarray | None] = [None] * K
    centres = np.array([np.asarray(s.centre, float) for s in seeds])
    edges = []
    for k in range(K):
        e = np.quantile(np.hypot(*(sky - centres[k]).T), np.linspace(0, 1, n_bins + 1))
        e[-1] = np.inf
        edges.append(e)
    frac = [np.full(n_bins, 0.5 / K) for _ in range(K)]
    groups = np.zeros(n, int) if field_groups is None else np.asarray(field_groups)
    M = int(groups.max()) + 1
    pooled = np.cov(kin.T) + np.diag(floor**2)
    mu_f, cov_f, w_f = [], [], np.empty(M)
    for m in range(M):
        g = groups == m
        mu_f.append(np.broadcast_to(kin[g].mean(axis=0) if g.sum() > 3 else kin.mean(axis=0),
                                    kin.shape))
        cov_f.append(np.cov(kin[g].T) + np.diag(floor**2) if g.sum() > 3 else pooled)
        w_f[m] = max(g.mean(), 1e-3)
    w_f /= w_f.sum()
    previous, P_previous = -np.inf, np.zeros((n, K + 1))
    it, ll, P = 0, -np.inf, P_previous
    for it in range(1, max_iter + 1):
        L, log_odds, T, bins = np.empty((n, K + 1)), np.zeros((n, K + 1)), [], []
        for k in range(K):
            b = _bin(edges[k], sky, centres[k])
            lc, Tk = _log_normal(kin, mu[k], cov[k], S)
            log_odds[:, k] = np.log(frac[k][b]) - np.log1p(-frac[k][b])
            L[:, k] = log_odds[:, k] + lc
            T.append(Tk)
            bins.append(b)
        parts, Tf = np.empty((n, M)), []
        for m in range(M):
            lm, Tm = _log_normal(kin, mu_f[m], cov_f[m], S)
            parts[:, m] = np.log(w_f[m]) + lm
            Tf.append(Tm)
        L[:, K] = np.logaddexp.reduce(parts, axis=1)
        norm = np.logaddexp.reduce(L, axis=1)
        P = np.exp(L - norm[:, None])
        # the prior weights are odds / (1 + Σ odds) (the field's odds column is 0 = log 1)
        ll = float(np.mean(norm - np.logaddexp.reduce(log_odds, axis=1)))
        for k in range(K):
            share = P[:, k] / np.maximum(P[:, k] + P[:, K], 1e-300)
            counts = np.bincount(bins[k], minlength=n_bins)
            frac[k] = _decreasing(np.bincount(bins[k], share, minlength=n_bins)
                                  / np.maximum(counts, 1), counts)
            if P[:, k].sum() > 1:
                centres[k] = (P[:, k, None] * sky).sum(axis=0) / P[:, k].sum()
            design = np.column_stack([np.ones(n), sky - centres[k]]) if seeds[k].gradient \
                else None
            mu[k], cov[k], coef[k] = _xd_update(kin, S, P[:, k], mu[k], cov[k], T[k], floor,
                                                design)
        resp_f = P[:, K, None] * np.exp(parts - L[:, K, None])
        for m in range(M):
            mu_f[m], cov_f[m], _ = _xd_update(kin, S, resp_f[:, m], mu_f[m], cov_f[m], Tf[m],
                                              floor)
        w_f = np.maximum(resp_f.sum(axis=0), 1e-9)
        w_f /= w_f.sum()
        if abs(ll - previous) < tol or np.max(np.abs(P - P_previous)) < p_tol:
            break
        previous, P_previous = ll, P
    means = np.array([c[0] if c is not None else m[0] for c, m in zip(coef, mu)])
    gradients = np.array([c[1:] if c is not None else np.zeros((2, 3)) for c in coef])
    return JointMixtureFit(probability=P, means=means, gradients=gradients,
                           covs=np.array(cov), centres=centres, bin_edges=edges,
                           fractions=frac, field_weights=w_f,
                           field_means=np.array([m[0] for m in mu_f]), field_covs=np.array(cov_f),
                           n_iter=it, log_likelihood=ll)
