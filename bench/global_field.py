"""Offline check of a field model fitted on the whole table instead of the filter's window.

Not the default model: a measurement for the next change to it (docs/injection.md, sixteenth
session). The default mixture fits the field's Gaussians to the stars inside the filter's
window around the cluster's motion, as if they were the whole field: they learn the window's
shape, too dense at its centre, and where the cluster fills its table (no sky to tell them
apart) the faint members' probabilities run low. Here, for each injection of
``bench/injection.py`` (same design, backgrounds and thinning; named runs; N_true ≥
``--min-true``):

1. the default model runs, and its fitted mixture is kept;
2. a field model is fitted to a random sample of every row of the table (at most ``--sample``
   rows with complete astrometry): ``--k`` Gaussians deconvolved with each star's errors
   (extreme deconvolution), their weights per magnitude bin (the fitted mixture's bins), plus
   the fitted cluster's Gaussian held fixed so that its members stay out of the field;
3. each window star's field term becomes n_f(b) f(v) / F, F the field model's mass inside that
   star's filter window (Monte Carlo, uniform points in the window's ellipsoid); its cluster
   term, sky prior and colour term stay the fitted model's, and EM re-fits the two luminosity
   functions alone.

Printed per injection, and pooled by fill (< 0.5 / ≥ 0.5, as bench/injection.py): Σ P / N_true
(every star, and at G 19.5–21), the fraction of clusters within 0.9–1.1, and ECE (P ≥ 0.05),
for the default model and with the whole-table field.

Usage::

    python bench/global_field.py [--own-cache DIR] [--seed 0] [--k 4] [--fields a,b]
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.special import erf, expit, gammaincinv
from scipy.stats import qmc

sys.path.insert(0, str(Path(__file__).resolve().parent))

from injection import (  # noqa: E402  (the bench's own module, beside this one)
    ASTROMETRY, FAINT_G, FILL_SPLIT, SHARED, _fill, discover_fields, thinned_injections,
)

import vo_ocml.membership.mixture_step as mixture_step  # noqa: E402
from vo_ocml.analysis.calibration import reliability  # noqa: E402
from vo_ocml.membership.deconvolution import _log_normal, _xd_update, log_sum_exp  # noqa: E402
from vo_ocml.membership.gaia_precision import nominal_errors  # noqa: E402
from vo_ocml.membership.deconvolution import error_covariance  # noqa: E402
from vo_ocml.pipeline import run  # noqa: E402

#: Gaia's correlation columns, in the order error_covariance takes them
CORRELATIONS = ("pmra_pmdec_corr", "parallax_pmra_corr", "parallax_pmdec_corr")
#: scrambled Sobol points in the cube drawn for a window's field mass; those inside the unit
#: ball (about half) are used, the same for every star
N_POINTS = 1024
#: stars whose window masses are computed at once (memory: CHUNK × points × 12 floats)
CHUNK = 500
#: EM of the whole-table field stops when its mean log-likelihood moves less than this
TOL = 1e-7
#: the filter's window: the χ²₃ quantile of ±3σ (vo_ocml.membership.scope.adaptive_filter)
WINDOW_D2 = 2.0 * gammaincinv(1.5, erf(3.0 / np.sqrt(2.0)))


class _Captured:
    """The last radial mixture fitted by the default model, and what it was fitted on."""

    def __init__(self) -> None:
        self.fit = self.args = self.kwargs = None
        self._radial = mixture_step.radial
        mixture_step.radial = self._capture

    def _capture(self, *args, **kwargs):
        out = self._radial(*args, **kwargs)
        self.fit, self.args, self.kwargs = out[2], args, kwargs
        return out


def fit_whole_table_field(kin, S, b, n_bins, cluster_mean, cluster_cov, k, seed=0):
    """k deconvolved Gaussians with weights per bin, beside the cluster's fixed Gaussian."""
    from sklearn.cluster import KMeans
    floor = 1e-3 * np.maximum(np.std(kin, axis=0), 1e-6)
    labels = KMeans(k, n_init=3, random_state=seed).fit_predict(kin)
    big = [np.sum(labels == m) > 3 for m in range(k)]
    mu = np.array([kin[labels == m].mean(0) if big[m] else kin.mean(0) for m in range(k)])
    cov = np.array([np.cov(kin[labels == m].T) + np.diag(floor**2) if big[m] else np.cov(kin.T)
                    for m in range(k)])
    w = np.full((n_bins, k + 1), 1.0 / (k + 1))
    previous = -np.inf
    for _ in range(300):
        logs, T = [], []
        for m in range(k):
            lm, Tm = _log_normal(kin, mu[m], cov[m], S)
            logs.append(np.log(w[b, m]) + lm)
            T.append(Tm)
        logs.append(np.log(w[b, k]) + _log_normal(kin, cluster_mean, cluster_cov, S)[0])
        parts = np.column_stack(logs)
        total = log_sum_exp(parts)
        resp = np.exp(parts - total[:, None])
        for m in range(k):
            mean, cov[m], _ = _xd_update(kin, S, resp[:, m], np.broadcast_to(mu[m], kin.shape),
                                         cov[m], T[m], floor)
            mu[m] = mean[0]
        per_bin = np.column_stack([np.bincount(b, resp[:, j], minlength=n_bins)
                                   for j in range(k + 1)]) + 0.1
        w = per_bin / per_bin.sum(axis=1, keepdims=True)
        if abs(total.mean() - previous) < TOL:
            break
        previous = total.mean()
    return w[:, :k] / w[:, :k].sum(axis=1, keepdims=True), mu, cov


def log_field(kin, S, b, weights, mu, cov):
    """log f(v_i) of the whole-table field, each star with its errors."""
    return log_sum_exp(np.column_stack([np.log(weights[b, m]) + _log_normal(kin, mu[m], cov[m], S)[0]
                                        for m in range(len(mu))]))


def log_window_mass(centre, intrinsic, err, S, b, weights, mu, cov, points):
    """log of the field's mass inside each star's filter window (volume × mean density)."""
    axes = np.sqrt(WINDOW_D2 * (intrinsic**2 + err**2))
    mean_density = np.empty(len(err))
    for start in range(0, len(err), CHUNK):
        part = slice(start, start + CHUNK)
        n = len(err[part])
        at = (centre + axes[part, None, :] * points[None]).reshape(-1, 3)
        density = np.exp(log_field(at, np.repeat(S[part], len(points), axis=0),
                                   np.repeat(b[part], len(points)), weights, mu, cov))
        mean_density[part] = density.reshape(n, len(points)).mean(axis=1)
    return np.log(4.0 / 3.0 * np.pi * axes.prod(axis=1)) + np.log(mean_density)


def whole_table_probability(t, model, captured, details, args, points) -> np.ndarray | None:
    """Each table row's membership with the whole-table field (None: not computable)."""
    best, (kin_w, err_w, sky_w) = captured.fit, captured.args[:3]
    mag_w, colour_w = captured.kwargs.get("mag"), captured.kwargs.get("colour")
    corr_w = captured.kwargs.get("corr")
    if err_w is None or len(kin_w) != len(best.probability):
        return None  # no errors, or fitted on a sample of the window
    kin_t = np.column_stack([model.cmap.array(t, q) for q in ASTROMETRY])
    row_of = {tuple(r): j for j, r in enumerate(np.round(kin_t, 9))}
    rows = np.array([row_of.get(tuple(r), -1) for r in np.round(kin_w, 9)])
    if np.any(rows < 0):
        return None
    g_t = model.cmap.array(t, "phot_g_mean_mag")
    if all(model.cmap.has(q + "_error") for q in ASTROMETRY):
        err_t = np.column_stack([model.cmap.array(t, q + "_error") for q in ASTROMETRY])
    else:
        err_t = nominal_errors(g_t)
    corr_t = np.column_stack([model.cmap.array(t, c) for c in CORRELATIONS]) \
        if corr_w is not None and all(model.cmap.has(c) for c in CORRELATIONS) else None
    good = np.all(np.isfinite(kin_t), axis=1) & np.all(np.isfinite(err_t) & (err_t > 0), axis=1)
    sample = np.flatnonzero(good)
    if len(sample) > args.sample:
        sample = np.sort(np.random.default_rng(args.seed).choice(sample, args.sample, False))
    bins = best.magnitude_bins
    weights, mu, cov = fit_whole_table_field(
        kin_t[sample], error_covariance(err_t[sample], None if corr_t is None else corr_t[sample]),
        bins.index(g_t[sample], len(sample)), bins.n_bins, best.cluster_mean, best.cluster_cov,
        args.k)
    S_w = error_covariance(err_w, corr_w)
    b_w = bins.index(mag_w, len(kin_w))
    mean_c = best.cluster_mean + (sky_w - best.centre) @ best.cluster_gradient
    cluster = _log_normal(kin_w, mean_c, best.cluster_cov, S_w)[0] + best.profile.log_density(sky_w)
    field = log_field(kin_w, S_w, b_w, weights, mu, cov) \
        - log_window_mass(np.asarray(details["filter_centre"], float),
                          np.asarray(details["intrinsic_spread"], float), err_w, S_w, b_w,
                          weights, mu, cov, points) \
        + best.footprint.log_field_density(sky_w)
    if best.colour_term is not None:
        colour_c, colour_f = best.colour_term.log_terms(mag_w, colour_w, b_w)
        cluster, field = cluster + colour_c, field + colour_f
    if not np.all(np.isfinite(cluster - field)):
        return None
    n_c, n_f = best.n_cluster.copy(), best.n_field.copy()
    for _ in range(500):  # the luminosity functions alone
        p = expit(np.log(n_c[b_w] / n_f[b_w]) + cluster - field)
        new_c, new_f = bins.member_counts(b_w, p, 1.0 - p)
        done = np.max(np.abs(new_c - n_c)) < 1e-4
        n_c, n_f = new_c, new_f
        if done:
            break
    out = np.zeros(len(t))
    out[rows] = p
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--own-cache", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--k", type=int, default=4, help="Gaussians of the whole-table field")
    ap.add_argument("--sample", type=int, default=20000, help="table rows it is fitted on")
    ap.add_argument("--fields", default=None, help="comma-separated field labels (default all)")
    ap.add_argument("--per-field", type=int, default=8)
    ap.add_argument("--min-true", type=int, default=100)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    cube = 2.0 * qmc.Sobol(3, seed=1).random(N_POINTS) - 1.0
    points = cube[np.sum(cube**2, axis=1) <= 1.0]  # evenly spread over the unit ball
    captured = _Captured()
    fields = discover_fields(SHARED)
    if args.fields:
        fields = {k: v for k, v in fields.items() if k in args.fields.split(",")}
    records = []
    for label in sorted(fields):
        for i, d, inj, model, truth, usable in thinned_injections(
                label, fields[label], args.seed, args.per_field, args.own_cache, args.min_true):
            t = inj.table
            captured.fit = None
            annotated = run(t, centroid=inj.centroid, position=inj.position, r50=inj.r50)
            if captured.fit is None or not annotated.summary.found:
                continue
            default = np.nan_to_num(np.asarray(annotated.result.probability, float))
            whole = whole_table_probability(t, model, captured, annotated.result.details, args,
                                            points)
            if whole is None:
                continue
            g = model.cmap.array(t, "phot_g_mean_mag")
            faint = usable & (g >= FAINT_G[0]) & (g < FAINT_G[1])
            fill = _fill(inj, model)
            records.append((fill, truth[usable], default[usable], whole[usable], faint[usable]))
            print(f"{label[:24]:24s} {i} N_true {truth.sum():4d} d {d:.1f} kpc fill {fill:.2f} | "
                  + " | ".join(f"{name}: ΣP/N {p[usable].sum() / truth.sum():.2f}, G 19.5–21 "
                               f"{p[faint].sum() / max(np.sum(truth & faint), 1):.2f}"
                               for name, p in (("default", default), ("whole table", whole))),
                  flush=True)
    print("\nfill      n   model        ΣP/N   ΣP/N G 19.5–21  within 0.9–1.1  ECE")
    for lo, hi in ((0.0, FILL_SPLIT), (FILL_SPLIT, np.inf)):
        part = [r for r in records if lo <= r[0] < hi]
        if not part:
            continue
        truth = np.concatenate([r[1] for r in part])
        faint = np.concatenate([r[4] for r in part])
        for j, name in ((2, "default"), (3, "whole table")):
            p = np.concatenate([r[j] for r in part])
            within = np.mean([abs(r[j].sum() / r[1].sum() - 1) <= 0.1 for r in part])
            print(f"{'≥' if hi == np.inf else '<'} {FILL_SPLIT:<6g} {len(part):3d}  {name:11s} "
                  f"{p.sum() / truth.sum():.3f}  {p[faint].sum() / truth[faint].sum():14.3f}  "
                  f"{within:14.2f}  {reliability(p, truth).ece:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
