"""Cluster + field mixture in (pmra, pmdec, parallax) with a radial member fraction.

The model for each star i, at distance r_i from the cluster's centre on the sky::

    p(v_i) = f(r_i) · N(v_i; μ_c, Σ_c + S_i) + (1 − f(r_i)) · N(v_i; μ_f, Σ_f + S_i)

with v = (pmra, pmdec, parallax), S_i the star's error covariance (zero when errors are
unknown), Σ_c and Σ_f intrinsic (deconvolved) covariances, and f(r) the member fraction in
radial bins of equal star counts -- no parametric shape, only that it does not increase
outwards (the cluster's density falls with radius, the field's does not), so a cluster's
extended halo, a compact distant cluster and a proper-motion box that is mostly members are
all described, and the fraction cannot drift into unphysical profiles. EM: the
E-step gives each star's membership probability; the M-step updates f per bin (the mean
probability there, made non-increasing by isotonic regression), the cluster's sky centre (probability-weighted), and both Gaussians by
extreme deconvolution (Bovy, Hogg & Roweis 2011). This is a Gaussian mixture over
(ra, dec, pmra, pmdec, parallax) whose mixing weight depends on the position, instead of a
Gaussian in position: a cone's field is uniform on the sky and cluster halos are not Gaussian.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import isotonic_regression

_LOG2PI = np.log(2.0 * np.pi)


def _inv3(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverses and determinants of a stack of symmetric positive 3×3 matrices (adjugate).

    Many times faster than LAPACK's batched routines for matrices this small.
    """
    a, b, c = T[:, 0, 0], T[:, 0, 1], T[:, 0, 2]
    e, f, i = T[:, 1, 1], T[:, 1, 2], T[:, 2, 2]
    A, B, C = e * i - f * f, c * f - b * i, b * f - c * e
    det = a * A + b * B + c * C
    inv = np.empty_like(T)
    inv[:, 0, 0], inv[:, 0, 1], inv[:, 0, 2] = A, B, C
    inv[:, 1, 0], inv[:, 1, 1], inv[:, 1, 2] = B, a * i - c * c, b * c - a * f
    inv[:, 2, 0], inv[:, 2, 1], inv[:, 2, 2] = C, b * c - a * f, a * e - b * b
    inv /= det[:, None, None]
    return inv, det


def _log_normal(V: np.ndarray, mean: np.ndarray, cov: np.ndarray,
                S: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """log N(v_i; mean, cov + S_i), and the inverse covariances (n, 3, 3) when S is given."""
    d = V - mean  # mean: (3,) or per star (n, 3)
    if S is None:
        inv = np.linalg.inv(cov)
        logdet = np.linalg.slogdet(cov)[1]
        maha = np.sum((d @ inv) * d, axis=1)
        return -0.5 * (maha + logdet + V.shape[1] * _LOG2PI), None
    Tinv, det = _inv3(cov[None] + S)
    logdet = np.log(det)
    maha = np.sum(d * np.sum(Tinv * d[:, None, :], axis=2), axis=1)
    return -0.5 * (maha + logdet + V.shape[1] * _LOG2PI), Tinv


def _xd_update(V: np.ndarray, S: np.ndarray | None, w: np.ndarray, mean: np.ndarray,
               cov: np.ndarray, Tinv: np.ndarray | None, floor: np.ndarray,
               design: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One extreme-deconvolution M-step for one Gaussian with star weights ``w``.

    ``mean`` is per star (n, 3). With a ``design`` matrix (n, p) the mean is a weighted linear
    regression on it (the cluster's proper-motion gradient across the sky); otherwise constant.
    Returns the new per-star means, the covariance and the regression coefficients (or None).
    """
    total = w.sum()
    if total < 1e-6:
        return mean, cov, None
    if S is None:
        b, wB = V, None
    else:  # b_i = μ + Σ T_i⁻¹ (v_i − μ); Σ_i w_i B_i = Σ·Σw − Σ (Σ_i w_i T_i⁻¹) Σ
        b = mean + np.sum(Tinv * (V - mean)[:, None, :], axis=2) @ cov
        wB = cov * total - cov @ np.tensordot(w, Tinv, axes=1) @ cov
    coef = None
    if design is None:
        mu = np.broadcast_to((w[:, None] * b).sum(axis=0) / total, b.shape)
    else:
        sw = np.sqrt(w)[:, None]
        coef = np.linalg.lstsq(design * sw, b * sw, rcond=None)[0]
        mu = design @ coef
    d = b - mu
    new = (d * w[:, None]).T @ d / total
    if wB is not None:
        new = new + wB / total
    return mu, new + np.diag(floor**2), coef


@dataclass
class RadialMixtureFit:
    """A fitted cluster + field mixture.

    Attributes
    ----------
    probability : ndarray
        Membership probability of each star.
    cluster_mean, cluster_cov : ndarray
        μ_c at the centre and intrinsic Σ_c (mas/yr, mas).
    cluster_gradient : ndarray, shape (2, 3)
        d μ_c / d(ξ, η) per degree (zero without ``gradient``).
    field_weights, field_means, field_covs : ndarray
        The field's Gaussians (M of them): weights, means, intrinsic covariances.
    centre : ndarray
        Cluster centre on the tangent plane (deg).
    bin_edges, fraction : ndarray
        Radial bin edges (deg) and the member fraction per bin.
    n_iter : int
        EM iterations run.
    log_likelihood : float
        Mean log-likelihood per star at convergence.
    """

    probability: np.ndarray
    cluster_mean: np.ndarray
    cluster_gradient: np.ndarray
    cluster_cov: np.ndarray
    field_weights: np.ndarray
    field_means: np.ndarray
    field_covs: np.ndarray
    centre: np.ndarray
    bin_edges: np.ndarray
    fraction: np.ndarray
    n_iter: int
    log_likelihood: float

    @property
    def n_parameters(self) -> int:
        """Free parameters (for BIC)."""
        m = len(self.field_weights)
        return 9 * (1 + m) + 6 + (m - 1) + len(self.fraction) + 2

    def predict(self, kin: np.ndarray, errors: np.ndarray | None, sky: np.ndarray) -> np.ndarray:
        """Membership probabilities of (new) stars under the fitted model."""
        S = None if errors is None else np.einsum("ni,ij->nij", errors**2, np.eye(3))
        r = np.hypot(*(sky - self.centre).T)
        b = np.clip(np.searchsorted(self.bin_edges, r, side="right") - 1, 0, len(self.fraction) - 1)
        mean = self.cluster_mean + (sky - self.centre) @ self.cluster_gradient
        lc = _log_normal(kin, mean, self.cluster_cov, S)[0]
        lf = np.logaddexp.reduce(np.column_stack(
            [np.log(w) + _log_normal(kin, m, c, S)[0]
             for w, m, c in zip(self.field_weights, self.field_means, self.field_covs)]), axis=1)
        a = np.log(self.fraction[b]) + lc
        return np.exp(a - np.logaddexp(a, np.log1p(-self.fraction[b]) + lf))

    def bic(self, n: int) -> float:
        """Bayesian information criterion for ``n`` stars (lower is better)."""
        return -2.0 * self.log_likelihood * n + self.n_parameters * np.log(n)


def _decreasing(fraction: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The closest non-increasing profile (weighted isotonic regression), kept inside (0, 1)."""
    fitted = isotonic_regression(fraction, weights=np.maximum(counts, 1).astype(float),
                                 increasing=False).x
    return np.clip(fitted, 1e-4, 1 - 1e-4)


def _initial_field(kin: np.ndarray, n_field: int, floor: np.ndarray,
                   random_state: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if n_field == 1:
        return np.ones(1), kin.mean(axis=0)[None], (np.cov(kin.T) + np.diag(floor**2))[None]
    from sklearn.cluster import KMeans
    labels = KMeans(n_field, n_init=3, random_state=random_state).fit_predict(kin)
    weights = np.bincount(labels, minlength=n_field) / len(kin)
    means = np.array([kin[labels == m].mean(axis=0) for m in range(n_field)])
    covs = np.array([np.cov(kin[labels == m].T) + np.diag(floor**2) if (labels == m).sum() > 3
                     else np.cov(kin.T) for m in range(n_field)])
    return weights, means, covs


def fit_radial_mixture(kin: np.ndarray, errors: np.ndarray | None, sky: np.ndarray,
                       cluster_mean: np.ndarray, cluster_sd: np.ndarray,
                       centre: np.ndarray, *, n_field: int = 1, n_bins: int | None = None,
                       gradient: bool = True, max_iter: int = 1000, tol: float = 2e-7,
                       p_tol: float = 5e-4,
                       random_state: int | None = 0) -> RadialMixtureFit:
    """Fit the cluster + field mixture by EM.

    Parameters
    ----------
    kin : ndarray, shape (n, 3)
        (pmra, pmdec, parallax) in mas/yr and mas, in a fixed (canonical) order.
    errors : ndarray, shape (n, 3) or None
        Their standard errors (None: no deconvolution).
    sky : ndarray, shape (n, 2)
        Tangent-plane positions (deg).
    cluster_mean, cluster_sd : ndarray, shape (3,)
        Starting cluster centroid and intrinsic spread.
    centre : ndarray, shape (2,)
        Starting sky centre (deg).
    n_field : int
        Gaussians describing the field (more than 1 when, e.g., a second cluster shares it).
    n_bins : int, optional
        Radial bins (default: n/60 clipped to 4…12).
    gradient : bool
        Let the cluster's mean (pmra, pmdec, parallax) vary linearly across the sky: the
        perspective effect of a nearby cluster's space motion (over 2° the Pleiades' mean
        proper motion changes by ~1.7 mas/yr).
    max_iter, tol, p_tol : int, float, float
        EM stops after ``max_iter`` iterations, or when the mean log-likelihood changes by less
        than ``tol``, or when no star's probability changes by more than ``p_tol``.
    random_state : int or None
        Seed of the field's k-means start (n_field > 1).

    Returns
    -------
    RadialMixtureFit
    """
    n = len(kin)
    S = None if errors is None else np.einsum("ni,ij->nij", errors**2, np.eye(3))
    n_bins = n_bins or int(np.clip(n // 60, 4, 12))
    floor = 1e-3 * np.maximum(np.std(kin, axis=0), 1e-6)
    mu_c = np.broadcast_to(np.asarray(cluster_mean, float), kin.shape)
    cov_c = np.diag(np.maximum(cluster_sd, floor) ** 2)
    coef = None
    w_f, mu_f, cov_f = _initial_field(kin, n_field, floor, random_state)
    centre = np.asarray(centre, float)
    r = np.hypot(*(sky - centre).T)
    edges = np.quantile(r, np.linspace(0, 1, n_bins + 1))
    edges[-1] = np.inf
    frac = np.full(n_bins, 0.5)
    previous, p_previous = -np.inf, np.zeros(n)
    it, ll = 0, -np.inf
    for it in range(1, max_iter + 1):
        r = np.hypot(*(sky - centre).T)
        b = np.clip(np.searchsorted(edges, r, side="right") - 1, 0, n_bins - 1)
        lc, Tc = _log_normal(kin, mu_c, cov_c, S)
        field = [_log_normal(kin, mu_f[m], cov_f[m], S) for m in range(n_field)]
        lf_parts = np.column_stack([np.log(w_f[m]) + field[m][0] for m in range(n_field)])
        lf = np.logaddexp.reduce(lf_parts, axis=1)
        a = np.log(frac[b]) + lc
        c = np.log1p(-frac[b]) + lf
        norm = np.logaddexp(a, c)
        p = np.exp(a - norm)
        resp_f = (1.0 - p)[:, None] * np.exp(lf_parts - lf[:, None])
        ll = float(norm.mean())
        counts = np.bincount(b, minlength=n_bins)
        frac = _decreasing(np.bincount(b, p, minlength=n_bins) / np.maximum(counts, 1), counts)
        if p.sum() > 1:
            centre = (p[:, None] * sky).sum(axis=0) / p.sum()
        design = np.column_stack([np.ones(n), sky - centre]) if gradient else None
        mu_c, cov_c, coef = _xd_update(kin, S, p, mu_c, cov_c, Tc, floor, design)
        for m in range(n_field):
            mean_m, cov_f[m], _ = _xd_update(kin, S, resp_f[:, m], mu_f[m], cov_f[m],
                                             field[m][1], floor)
            mu_f[m] = mean_m[0]
        w_f = np.maximum(resp_f.sum(axis=0), 1e-9)
        w_f = w_f / w_f.sum()
        if abs(ll - previous) < tol or np.max(np.abs(p - p_previous)) < p_tol:
            break
        previous, p_previous = ll, p
    cluster_mean = coef[0] if coef is not None else mu_c[0]
    grad = coef[1:] if coef is not None else np.zeros((2, 3))
    return RadialMixtureFit(probability=p, cluster_mean=cluster_mean, cluster_gradient=grad,
                            cluster_cov=cov_c,
                            field_weights=w_f, field_means=mu_f, field_covs=cov_f, centre=centre,
                            bin_edges=edges, fraction=frac, n_iter=it, log_likelihood=ll)
