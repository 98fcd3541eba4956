"""What the blind detection's global significance means: its best candidate on tables that hold
no cluster.

A calibrated significance s is reached by chance in a fraction 1 − Φ(s) of such tables (0.159 at
1σ, 0.023 at 2σ, 0.00135 at 3σ). The tables: simulated empty cones
(:func:`vo_ocml.simulate.simulate_cone` without a cluster) at several radii and field
densities, searched as the estimator searches them
(:func:`vo_ocml.membership.detection.find_candidates`, defaults). Real tables cannot serve:
shuffling their positions removes a cluster's concentration on the sky but not its clump in
proper motion and parallax, which the kinematic-only test (a cluster that fills its table)
finds by design.

For each row: the fraction of tables whose best candidate reaches 1, 2, 3σ; the factor by which
the p-values would have to be multiplied for the 1σ and 2σ fractions to come out right
(``F(α) = α / q_α``, q_α the α-quantile of the best candidates' global p-values; F = 1:
calibrated; > 1: the significance overstates); the fraction of the best candidates at ≥ 2σ
that the kinematic-only test found (no sky position); and with ``--end-to-end`` the fraction of
the cones in which ``vo_ocml.run`` (blind, defaults: filter, MST and mixture after the
detection) declares a cluster.

Usage::

    python bench/detection_null.py [--runs 40] [--seed 0] [--end-to-end]
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
from scipy.stats import norm

from vo_ocml.membership.detection import find_candidates
from vo_ocml.membership.sky import sky_centre, tangent_plane
from vo_ocml.pipeline import run
from vo_ocml.simulate import simulate_cone

#: simulated empty cones: (radius deg, field stars per deg²)
CONES = ((0.25, 12000), (0.5, 3000), (0.5, 12000), (0.5, 40000), (1.0, 12000))
#: significance levels reported (σ) and the quantiles the factor is measured at
LEVELS = (1.0, 2.0, 3.0)
FACTOR_AT = (norm.sf(1.0), norm.sf(2.0))


def best(X: np.ndarray, E: np.ndarray | None) -> tuple[float, float, bool]:
    """The best candidate's global p-value (1 when there is none), the trials counted, and
    whether the kinematic-only test found it."""
    sky = tangent_plane(X[:, 0], X[:, 1], *sky_centre(X[:, 0], X[:, 1]))
    found = find_candidates(X[:, 2:], E, sky)
    if not found:
        return 1.0, float("nan"), False
    return (float(norm.sf(found[0].significance)), found[0].n_trials,
            found[0].sky_centre is None)


def simulated(radius: float, density: float, runs: int, seed: int,
              end_to_end: bool) -> list[tuple[float, float, bool, bool | None]]:
    """Best candidates of ``runs`` empty simulated cones, and whether a blind run declares a
    cluster (None: not run)."""
    out = []
    for k in range(runs):
        t = simulate_cone(int(density * np.pi * radius**2), (), radius=radius,
                          seed=seed * 100000 + k)
        X = np.column_stack([np.asarray(t[c], float)
                             for c in ("ra", "dec", "pmra", "pmdec", "parallax")])
        E = np.column_stack([np.asarray(t[c], float)
                             for c in ("pmra_error", "pmdec_error", "parallax_error")])
        declared = bool(run(t).result.found) if end_to_end else None
        out.append((*best(X, E), declared))
    return out


def summary(label: str, results: list[tuple[float, float, bool, bool | None]]) -> None:
    """One row: runs, median trials, fractions at each level, factors at 1σ and 2σ, the
    kinematic-only test's share of the best candidates at ≥ 2σ, clusters declared."""
    p = np.array([r[0] for r in results])
    trials = np.array([r[1] for r in results])
    kin_only = np.array([r[2] for r in results])
    reached = " ".join(f"{np.mean(p <= norm.sf(s)):>6.3f}" for s in LEVELS)
    factors = " ".join(f"{a / max(np.quantile(p, a), 1e-300):>7.3g}" for a in FACTOR_AT)
    high = p <= norm.sf(2.0)
    share = f"{kin_only[high].mean():.2f}" if high.any() else "–"
    declared = [r[3] for r in results if r[3] is not None]
    run_ = f"{np.mean(declared):.3f}" if declared else "–"
    print(f"{label:<28} {len(p):>4} {np.nanmedian(trials):>7.0f} {reached} {factors} "
          f"{share:>8} {run_:>8}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40, help="simulated cones per row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--end-to-end", action="store_true",
                        help="also run vo_ocml.run blind on every cone (about twice as long)")
    args = parser.parse_args()
    logging.getLogger("vo_ocml").setLevel(logging.ERROR)  # runs' advice would split the table
    t0 = time.perf_counter()
    print(f"{'empty simulated cones':<28} {'runs':>4} {'trials':>7} "
          + " ".join(f"{'≥' + format(s, '.0f') + 'σ':>6}" for s in LEVELS)
          + " " + " ".join(f"{'F@' + format(norm.isf(a), '.0f') + 'σ':>7}" for a in FACTOR_AT)
          + f" {'kin-only':>8} {'declared':>8}")
    print(f"{'calibrated':<28} {'':>4} {'':>7} "
          + " ".join(f"{norm.sf(s):>6.3f}" for s in LEVELS) + f" {1:>7} {1:>7}")
    pooled = []
    for row, (radius, density) in enumerate(CONES):  # each row its own cones
        res = simulated(radius, density, args.runs, args.seed * len(CONES) + row,
                        args.end_to_end)
        pooled += res
        summary(f"{radius}°, {density:,}/deg²", res)
    summary("all", pooled)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
