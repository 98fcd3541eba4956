"""Gaussian densities of stars with measurement errors, and extreme deconvolution's M-step.

For stars with (pmra, pmdec, parallax) v_i and error covariances S_i, a Gaussian of intrinsic
mean μ and covariance Σ has the likelihood N(v_i; μ, Σ + S_i); the M-step that updates μ and Σ
from weighted stars is extreme deconvolution (Bovy, Hogg & Roweis 2011). The per-star 3×3
inverses are written out (adjugates, six unique elements): the mixtures of
:mod:`vo_ocml.membership.radial_mixture` and :mod:`vo_ocml.membership.joint_mixture` spend
most of their time here.
"""

from __future__ import annotations

import numpy as np

_LOG2PI = np.log(2.0 * np.pi)
#: the unique elements of a symmetric 3×3 matrix, in the order :func:`_inv3` returns them
_UPPER = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))


def _inv3(cov: np.ndarray, S: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Inverses and determinants of the symmetric positive 3×3 matrices cov + S_i (adjugate).

    ``cov`` is (3, 3) or (n, 3, 3), ``S`` (n, 3, 3) or None. Returns the inverses' six unique
    elements, shape (6, n), in the order 00, 01, 02, 11, 12, 22, and the determinants (n,):
    many times faster than LAPACK's batched routines for matrices this small, and no (n, 3, 3)
    array is built. Fastest when S is stored element-major (:func:`element_major`).
    """
    a, b, c, e, f, i = (cov[..., j, k] + (0.0 if S is None else S[:, j, k]) for j, k in _UPPER)
    inv = np.empty((6,) + np.broadcast_shapes(a.shape, b.shape))
    # the adjugate's six cofactors p q − r s, each into its row: no temporaries to stack
    for row, (p, q, r, s) in zip(inv, ((e, i, f, f), (c, f, b, i), (b, f, c, e),
                                       (a, i, c, c), (b, c, a, f), (a, e, b, b))):
        np.multiply(p, q, out=row)
        row -= r * s
    det = a * inv[0]
    det += b * inv[1]
    det += c * inv[2]
    inv /= det
    return inv, det


def element_major(n: int) -> np.ndarray:
    """A zeroed (n, 3, 3) array stored as (3, 3, n): each star's element (j, k) is contiguous,
    which the element-wise algebra of :func:`_inv3` reads many times per EM iteration."""
    return np.zeros((3, 3, n)).transpose(2, 0, 1)


def take_rows(errors: np.ndarray | None, rows) -> np.ndarray | None:
    """``errors[rows]`` of standard errors (n, 3) or error covariances (n, 3, 3); covariances
    come back element-major (:func:`element_major`)."""
    if errors is None or errors.ndim != 3:
        return None if errors is None else errors[rows]
    return np.ascontiguousarray(errors.transpose(1, 2, 0)[:, :, rows]).transpose(2, 0, 1)


#: a correlation matrix with a smaller determinant is shrunk towards the identity (at most
#: _PD_STEPS times by 0.8: real Gaia triples are always positive definite)
_MIN_CORRELATION_DET, _PD_STEPS = 1e-3, 30
#: the (row, column) in (pmra, pmdec, parallax) of each Gaia correlation column, in order
CORRELATION_PAIRS = ((0, 1), (2, 0), (2, 1))


def error_covariance(errors: np.ndarray | None,
                     correlations: np.ndarray | None = None) -> np.ndarray | None:
    """Per-star error covariances (n, 3, 3) of (pmra, pmdec, parallax), stored element-major
    (:func:`element_major`).

    Parameters
    ----------
    errors : ndarray, shape (n, 3) or (n, 3, 3), or None
        Standard errors, or covariances already (returned as they are).
    correlations : ndarray, shape (n, 3), optional
        Gaia's ``pmra_pmdec_corr``, ``parallax_pmra_corr``, ``parallax_pmdec_corr``
        (non-finite → 0).
    """
    if errors is None or errors.ndim == 3:
        return errors
    S = element_major(len(errors))
    for i in range(3):
        S[:, i, i] = errors[:, i] ** 2
    if correlations is not None:
        rho = np.clip(np.nan_to_num(np.asarray(correlations, float)), -0.999, 0.999)
        for _ in range(_PD_STEPS):  # shrink the few inconsistent triples until positive definite
            a, b_, c = rho.T
            bad = 1 + 2 * a * b_ * c - a**2 - b_**2 - c**2 < _MIN_CORRELATION_DET
            if not bad.any():
                break
            rho[bad] *= 0.8
        for k, (i, j) in enumerate(CORRELATION_PAIRS):
            S[:, i, j] = S[:, j, i] = rho[:, k] * errors[:, i] * errors[:, j]
    return S


def log_sum_exp(parts: np.ndarray) -> np.ndarray:
    """log Σ_k exp(parts[:, k]) for a few columns k: ``np.logaddexp.reduce(parts, axis=1)``,
    column by column (ten times faster on (n, 3)); -inf where a row is all -inf."""
    columns = parts.T
    top = columns[0].copy()
    for col in columns[1:]:
        np.maximum(top, col, out=top)
    shift = np.where(np.isfinite(top), top, 0.0)
    total = np.exp(columns[0] - shift)
    for col in columns[1:]:
        total += np.exp(col - shift)
    with np.errstate(divide="ignore"):
        return shift + np.log(total)


#: a matrix better conditioned than this is solved directly: the direct solution's relative
#: error is about its condition number times the machine epsilon, half the digits at 1 / √ε
_MAX_DIRECT_CONDITION = 1.0 / np.sqrt(np.finfo(float).eps)


def solve_or_least_squares(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with a x = b for a small square ``a`` (LU), or the minimum-norm least-squares x
    (SVD) where ``a`` is singular or nearly so."""
    if np.linalg.cond(a) < _MAX_DIRECT_CONDITION:
        return np.linalg.solve(a, b)
    return np.linalg.lstsq(a, b, rcond=None)[0]


def _apply(inv: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each star's inverse (six unique elements, :func:`_inv3`) times its row of ``x`` (n, 3);
    returned transposed, shape (3, n)."""
    x0, x1, x2 = x.T
    u00, u01, u02, u11, u12, u22 = inv
    y = np.empty((3, len(x)))
    for row, (p, q, r) in zip(y, ((u00, u01, u02), (u01, u11, u12), (u02, u12, u22))):
        np.multiply(p, x0, out=row)
        row += q * x1
        row += r * x2
    return y


def _log_normal(V: np.ndarray, mean: np.ndarray, cov: np.ndarray,
                S: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """log N(v_i; mean, cov + S_i), and the inverse covariances (six unique elements per star,
    :func:`_inv3`) when S is given.

    ``mean`` is (3,) or per star (n, 3); ``cov`` is (3, 3) or per star (n, 3, 3).
    """
    d = V - mean
    if S is None and cov.ndim == 2:
        inv = np.linalg.inv(cov)
        logdet = np.linalg.slogdet(cov)[1]
        maha = np.sum((d @ inv) * d, axis=1)
        return -0.5 * (maha + logdet + V.shape[1] * _LOG2PI), None
    inv, det = _inv3(cov, S)
    d0, d1, d2 = d.T
    u00, u01, u02, u11, u12, u22 = inv
    maha = u00 * d0 * d0  # in place, in the order of the written-out sum
    maha += u11 * d1 * d1
    maha += u22 * d2 * d2
    cross = u01 * d0 * d1
    cross += u02 * d0 * d2
    cross += u12 * d1 * d2
    maha += 2.0 * cross
    return -0.5 * (maha + np.log(det) + V.shape[1] * _LOG2PI), None if S is None else inv


def _xd_update(V: np.ndarray, S: np.ndarray | None, w: np.ndarray, mean: np.ndarray,
               cov: np.ndarray, Tinv: np.ndarray | None, floor: np.ndarray,
               design: np.ndarray | None = None, fixed_mean: bool = False
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One extreme-deconvolution M-step for one Gaussian with star weights ``w``.

    ``mean`` is per star (n, 3); ``Tinv`` the stars' inverse covariances (cov + S_i)⁻¹ as
    :func:`_log_normal` returns them. With a ``design`` matrix (n, p) the mean is a weighted
    linear regression on it (the cluster's proper-motion gradient across the sky); with
    ``fixed_mean`` it stays as it is and only the covariance is updated; otherwise constant.
    Returns the new per-star means, the covariance and the regression coefficients (or None).
    """
    total = w.sum()
    if total < 1e-6:  # no star belongs to it: unchanged, per star as promised
        return np.broadcast_to(mean, V.shape), cov, None
    if S is None:
        b, wB = V, None
    else:  # b_i = μ + Σ T_i⁻¹ (v_i − μ); Σ_i w_i B_i = Σ·Σw − Σ (Σ_i w_i T_i⁻¹) Σ
        b = mean + (cov @ _apply(Tinv, V - mean)).T
        u = Tinv @ w  # Σ_i w_i T_i⁻¹, its six unique elements
        wT = np.array([[u[0], u[1], u[2]], [u[1], u[3], u[4]], [u[2], u[4], u[5]]])
        wB = cov * total - cov @ wT @ cov
    coef = None
    if fixed_mean:
        mu = mean
    elif design is None:
        mu = np.broadcast_to(w @ b / total, b.shape)
    else:  # weighted least squares by its normal equations (p × p): np.linalg.lstsq on the
        # (n, p) weighted design took 0.3 s of a 4.5 s run on bench/samp_latency.py's cone
        weighted = design * w[:, None]
        coef = solve_or_least_squares(weighted.T @ design, weighted.T @ b)
        mu = design @ coef
    d = b - mu
    new = (d * w[:, None]).T @ d / total
    if wB is not None:
        new = new + wB / total
    return mu, new + np.diag(floor**2), coef
