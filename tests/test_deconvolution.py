"""Extreme deconvolution's M-step with a design matrix: the cluster's mean regressed on its
sky gradient by the normal equations (``deconvolution._xd_update``)."""

import numpy as np

from vo_ocml.membership.deconvolution import _log_normal, _xd_update, error_covariance

FLOOR = np.full(3, 1e-6)


def _stars(n: int = 4000, seed: int = 3):
    """Stars whose mean (pmra, pmdec, parallax) moves linearly across the sky, with errors."""
    rng = np.random.default_rng(seed)
    sky = rng.uniform(-0.5, 0.5, (n, 2))
    coef = np.array([[1.0, -2.0, 0.5], [0.4, 0.0, 0.02], [-0.3, 0.2, 0.0]])
    design = np.column_stack([np.ones(n), sky])
    err = rng.uniform(0.05, 0.3, (n, 3))
    V = design @ coef + rng.normal(0, 0.1, (n, 3)) + err * rng.normal(size=(n, 3))
    return V, error_covariance(err), design, coef, rng


def test_the_gradient_is_the_weighted_least_squares_solution():
    V, S, design, coef, rng = _stars()
    w = rng.uniform(0.2, 1.0, len(V))
    mean, cov = np.broadcast_to(V.mean(0), V.shape), np.diag([0.01, 0.01, 0.01])
    _, Tinv = _log_normal(V, mean, cov, S)
    mu, _, fitted = _xd_update(V, S, w, mean, cov, Tinv, FLOOR, design)
    # the same regression by NumPy's least squares on the square-root-weighted design
    b = mean + (cov @ np.einsum("ijk,ik->ji", np.linalg.inv(cov + S), V - mean)).T
    sw = np.sqrt(w)[:, None]
    expected = np.linalg.lstsq(design * sw, b * sw, rcond=None)[0]
    np.testing.assert_allclose(fitted, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mu, design @ fitted)


def test_em_steps_recover_the_gradient_and_the_intrinsic_spread():
    V, S, design, coef, _ = _stars()
    w = np.ones(len(V))
    mean, cov = np.broadcast_to(V.mean(0), V.shape), np.diag([0.01, 0.01, 0.01])
    for _ in range(100):
        _, Tinv = _log_normal(V, mean, cov, S)
        mean, cov, fitted = _xd_update(V, S, w, mean, cov, Tinv, FLOOR, design)
    np.testing.assert_allclose(fitted, coef, atol=0.03)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), 0.1, atol=0.01)  # errors deconvolved


def test_weight_on_one_position_gives_finite_means():
    """All weight on stars at one sky position: the normal equations are singular, the
    minimum-norm solution still puts the mean where those stars are."""
    V, S, design, _, _ = _stars(n=500)
    design = design.copy()
    design[:, 1:] = 0.25  # every star at the same position: the gradient is undetermined
    w = np.ones(len(V))
    mean, cov = np.broadcast_to(V.mean(0), V.shape), np.diag([0.01, 0.01, 0.01])
    _, Tinv = _log_normal(V, mean, cov, S)
    mu, new, fitted = _xd_update(V, S, w, mean, cov, Tinv, FLOOR, design)
    assert np.all(np.isfinite(fitted)) and np.all(np.isfinite(new))
    np.testing.assert_allclose(mu[0], V.mean(axis=0), atol=0.05)
