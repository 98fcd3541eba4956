"""DEC end to end on a simulated Melotte 25 (Hyades) field of 434,000 stars, timed on the CPU.

The simulated field: stars uniformly spread over a 10°-radius cone around the Hyades
(ra 66.75°, dec +15.87°), parallaxes log-normal (median 0.6 mas, a tail to tens of mas) plus
Gaia-like errors, proper motions from tangential velocities drawn from a Galactic-disc-like
distribution (mean reflex motion and 35 km/s dispersion per axis) scaled by the parallax. The
cluster: ``--members`` stars (default 700) at pm (104.92, −28.00) mas/yr with a 6 × 4 mas/yr
projected spread and parallax 21.05 ± 1.1 mas, concentrated within a few degrees of the centre.

Prints the wall-clock time of ``DEC().fit(X)`` (TensorFlow import included), the step counts,
completeness and purity against the simulated truth, the machine's load average and CPU count.

Run: ``python bench/dec_speed.py [--rows 434000] [--members 700] [--seed 0] [--named] [--dec-param k=v ...]``
"""

from __future__ import annotations

import argparse
import ast
import os
import time

import numpy as np

#: Hyades: sky centre (deg), proper motion (mas/yr), parallax (mas) — SIMBAD, SCIENCE.md §2
HYADES = {"ra": 66.75, "dec": 15.87, "pmra": 104.92, "pmdec": -28.00, "parallax": 21.052}


def simulate(rows: int, members: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A Hyades-like cone: ``rows`` stars of which ``members`` belong to the cluster.

    Returns
    -------
    X : ndarray, shape (rows, 5)
        ra, dec (deg), pmra, pmdec (mas/yr), parallax (mas).
    truth : ndarray of bool, shape (rows,)
    """
    rng = np.random.default_rng(seed)
    n_field = rows - members
    r = 10.0 * np.sqrt(rng.uniform(0, 1, n_field))
    theta = rng.uniform(0, 2 * np.pi, n_field)
    dec = HYADES["dec"] + r * np.sin(theta)
    ra = HYADES["ra"] + r * np.cos(theta) / np.cos(np.radians(dec))
    plx_true = rng.lognormal(np.log(0.6), 0.9, n_field)
    err = rng.lognormal(np.log(0.15), 0.7, n_field)  # parallax error, mas; pm errors ~1.2×
    v_ra = rng.normal(-15.0, 35.0, n_field)
    v_dec = rng.normal(-10.0, 35.0, n_field)
    pmra = v_ra * plx_true / 4.74 + rng.normal(0, 1.2 * err)
    pmdec = v_dec * plx_true / 4.74 + rng.normal(0, 1.2 * err)
    field = np.column_stack([ra, dec, pmra, pmdec, plx_true + rng.normal(0, err)])

    rc = np.abs(rng.normal(0, 2.5, members))
    phi = rng.uniform(0, 2 * np.pi, members)
    cdec = HYADES["dec"] + rc * np.sin(phi)
    cra = HYADES["ra"] + rc * np.cos(phi) / np.cos(np.radians(cdec))
    cluster = np.column_stack([
        cra, cdec,
        rng.normal(HYADES["pmra"], 6.0, members), rng.normal(HYADES["pmdec"], 4.0, members),
        rng.normal(HYADES["parallax"], 1.1, members),
    ])
    X = np.vstack([field, cluster])
    truth = np.r_[np.zeros(n_field, bool), np.ones(members, bool)]
    order = rng.permutation(rows)
    return X[order], truth[order]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=434_000, help="stars in the table")
    parser.add_argument("--members", type=int, default=700, help="cluster stars among them")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed")
    parser.add_argument("--named", action="store_true",
                        help="pass the Hyades centroid, as the pipeline does for --cluster 'Melotte 25'")
    parser.add_argument("--dec-param", nargs="*", default=[], help="DEC parameters as name=python-literal")
    args = parser.parse_args()
    params = {k: ast.literal_eval(v) for k, v in (p.split("=", 1) for p in args.dec_param)}

    X, truth = simulate(args.rows, args.members, args.seed)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    from vo_ocml.membership.dec import DEC

    if args.named:
        params["centroid"] = (HYADES["pmra"], HYADES["pmdec"], HYADES["parallax"])
    dec = DEC(**params).fit(X)
    seconds = time.perf_counter() - t0
    r = dec.result_
    found = r.members(0.5)
    tp = np.count_nonzero(found & truth)
    print(f"rows {len(X):,}  cluster members {truth.sum():,}  cpus {os.cpu_count()}")
    print(f"load average before {load_before[0]:.2f}  after {os.getloadavg()[0]:.2f}")
    print(f"DEC fit, end to end (TensorFlow import included): {seconds:.1f} s")
    print(f"k = {dec.n_clusters_}  silhouette {r.details['silhouette']}")
    print(f"steps {r.step_counts}")
    print(f"KL refreshes per seed {r.details['kl_refreshes']}  seed agreement {r.details['seed_agreement_jaccard']}")
    print(f"completeness {tp / truth.sum():.3f}  purity {tp / max(found.sum(), 1):.3f}")
    print(f"cluster group choice: {r.details['group_choice']['rule']}; detection {r.details['detection']}")
    print(f"member centroid {r.details['member_centroid']}  (simulated {HYADES['pmra']}, {HYADES['pmdec']}, "
          f"{HYADES['parallax']})")


if __name__ == "__main__":
    main()
