"""A cluster's motions when the table gives no errors: a mixture over Gaia's levels of error.

Without error columns (and without G to estimate them from, :mod:`gaia_precision`) a member's
observed (pmra, pmdec, parallax) is the cluster's intrinsic Gaussian blurred by an error the
table does not state, and Gaia's errors span two orders of magnitude between G 13 and G 21. One
Gaussian then fits the well-measured core and leaves the rest of the members to the field (on
simulated cones: completeness 0.39–0.86 at purity 0.97–1.00, Σ P / N_true 0.35–0.86;
docs/injection.md, twenty-first session). Here the cluster's density is

    Σ_k π_k N(v; μ_c, Σ_c + E_k),

E_k the nominal Gaia errors at a ladder of magnitudes (:data:`LEVEL_G`) and none, π_k the
members' share at each level, fitted by EM with the rest of the mixture: each star's level is
a latent variable, and Σ_c is updated by extreme deconvolution of every star at every level,
weighted by its responsibility. The field's Gaussians need no errors: they describe the
observed field. Σ_c stays an intrinsic spread, so the bounds on it keep their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vo_ocml.membership.deconvolution import _log_normal, _xd_update, element_major, log_sum_exp
from vo_ocml.membership.gaia_precision import nominal_errors

#: G magnitudes whose nominal errors are the levels (with a level of no error): G 13 is the
#: bright floor, G 21 Gaia's faint end, one magnitude apart where the errors change fastest
LEVEL_G = (13.0, 16.0, 18.0, 19.0, 20.0, 21.0)
#: the smallest share a level keeps (its log stays finite, EM can return to it)
MIN_SHARE = 1e-6
#: the widest level's standard errors (pmra, pmdec, parallax): the filter's, for stars without
#: errors (:func:`stand_in`)
WIDEST = nominal_errors(np.array([LEVEL_G[-1]]))[0]


@dataclass(frozen=True)
class ErrorLevels:
    """Levels of error (standard errors (K, 3) of pmra, pmdec, parallax) and the members' log
    shares of them (K,)."""

    errors: np.ndarray
    log_shares: np.ndarray

    @classmethod
    def start(cls) -> ErrorLevels:
        """No error and :data:`LEVEL_G`'s nominal errors, in equal shares."""
        errors = np.vstack([np.zeros(3), nominal_errors(np.array(LEVEL_G))])
        return cls(errors, np.full(len(errors), -np.log(len(errors))))

    def log_density(self, kin: np.ndarray, mean: np.ndarray,
                    cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log Σ_k π_k N(v_i; μ_i, Σ + E_k) per star, and its responsibilities (n, K)."""
        parts = np.column_stack([share + _log_normal(kin, mean, cov + np.diag(e**2), None)[0]
                                 for share, e in zip(self.log_shares, self.errors)])
        total = log_sum_exp(parts)
        return total, np.exp(parts - total[:, None])

    def update(self, kin: np.ndarray, w: np.ndarray, resp: np.ndarray, mean: np.ndarray,
               cov: np.ndarray, floor: np.ndarray, design: np.ndarray | None,
               fixed_mean: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, ErrorLevels]:
        """The M-step: the cluster's per-star means, intrinsic covariance and regression
        coefficients (:func:`~vo_ocml.membership.deconvolution._xd_update` over every star at
        every level, weights ``w`` × ``resp``), and the levels' new shares."""
        n, K = resp.shape
        S = element_major(n * K)
        for i in range(3):
            S[:, i, i] = np.repeat(self.errors[:, i] ** 2, n)
        V, means = np.tile(kin, (K, 1)), np.tile(np.broadcast_to(mean, kin.shape), (K, 1))
        weights = (w[:, None] * resp).T.ravel()
        inverse = _log_normal(V, means, cov, S)[1]
        mu, new, coef = _xd_update(V, S, weights, means, cov, inverse, floor,
                                   None if design is None else np.tile(design, (K, 1)),
                                   fixed_mean)
        shares = np.maximum(w @ resp / max(w.sum(), 1e-300), MIN_SHARE)
        return mu[:n], new, coef, ErrorLevels(self.errors, np.log(shares / shares.sum()))

    def mean_covariance(self, kin: np.ndarray, mean: np.ndarray, cov: np.ndarray,
                        p: np.ndarray) -> np.ndarray:
        """Covariance of the fitted cluster mean, (Σ_i P_i Σ_k r_ik (Σ_c + E_k)⁻¹)⁻¹: each
        member weighs as the levels of error it likely has (r_ik, its responsibilities; the
        single model's :func:`~vo_ocml.membership.mixture_step.mean_covariance` with the
        stars' own errors)."""
        weight = p @ self.log_density(kin, mean, cov)[1]
        return np.linalg.inv(sum(w * np.linalg.inv(cov + np.diag(e**2))
                                 for w, e in zip(weight, self.errors)))

    def pm_variance(self, resp: np.ndarray) -> np.ndarray:
        """Each star's expected proper-motion error variance (pmra² + pmdec²) over the levels."""
        return resp @ (self.errors[:, 0] ** 2 + self.errors[:, 1] ** 2)


def cluster_update(levels: ErrorLevels | None, kin: np.ndarray, S: np.ndarray | None,
                   w: np.ndarray, mean: np.ndarray, cov: np.ndarray, T: np.ndarray | None,
                   floor: np.ndarray, design: np.ndarray | None, fixed_mean: bool
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, ErrorLevels | None]:
    """The cluster's M-step: :meth:`ErrorLevels.update` with ``levels`` (``T``: the stars'
    responsibilities of them), else extreme deconvolution with the stars' errors ``S``
    (``T``: their inverse covariances); the levels are returned as they come out."""
    if levels is None:
        return (*_xd_update(kin, S, w, mean, cov, T, floor, design, fixed_mean), None)
    return levels.update(kin, w, T, mean, cov, floor, design, fixed_mean)


def stand_in(err: np.ndarray | None, n: int) -> np.ndarray:
    """``err``, or for ``n`` stars without errors the widest level's: the filter's window then
    admits a member whatever its unstated error, as the levels' mixture models it."""
    return err if err is not None else np.broadcast_to(WIDEST, (n, 3))
