"""Simulated Gaia-like cones (a field plus open clusters), for tests and benchmarks.

The field: positions uniform in the cone, G from a rising luminosity function (10–20.5 mag),
proper motions and parallaxes from a broad two-population disc-like distribution. Each
cluster: a Plummer sky profile, Gaussian intrinsic proper motions and parallaxes, a flatter
luminosity function and a main-sequence-like colour. Every star's observed astrometry is its
true value plus Gaussian noise at the nominal Gaia EDR3 precision for its G, and the table
carries those errors, Gaia archive column names, units and UCDs, and the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.table import Table

from vo_ocml.membership.gaia_precision import nominal_errors


#: faint limit (G) and e-folding scales (mag) of the field's and the clusters' luminosity
#: functions, G = G_FAINT − Exp(scale)
G_FAINT, FIELD_G_SCALE, CLUSTER_G_SCALE = 20.5, 1.6, 3.0
#: the field's proper motions: a thin and a thick population, (mean pmra, mean pmdec, sd) each
THIN_PM, THICK_PM, THICK_FRACTION = (-1.5, 0.5, 2.5), (-4.0, -3.0, 5.0), 0.3
#: the field's true parallaxes: log-normal (median mas, sd of ln)
FIELD_PARALLAX = (0.45, 0.6)


@dataclass(frozen=True)
class SimCluster:
    """A simulated cluster (pm in mas/yr, parallax in mas, sizes in degrees)."""

    n: int
    pmra: float
    pmdec: float
    parallax: float
    sd_pm: float = 0.1
    sd_parallax: float = 0.02
    plummer_radius: float = 0.05
    offset: tuple[float, float] = (0.0, 0.0)


def _uniform_cone(rng, n: int, radius: float) -> np.ndarray:
    r = radius * np.sqrt(rng.random(n))
    phi = rng.random(n) * 2 * np.pi
    return np.column_stack([r * np.cos(phi), r * np.sin(phi)])


def _plummer(rng, n: int, a: float, radius: float) -> np.ndarray:
    u_ = rng.random(n) * (radius**2 / (radius**2 + a**2))  # truncated at the cone's radius
    r = a * np.sqrt(u_ / (1 - u_))
    phi = rng.random(n) * 2 * np.pi
    return np.column_stack([r * np.cos(phi), r * np.sin(phi)])


def simulate_cone(n_field: int = 20000, clusters: tuple[SimCluster, ...] | None = None, *,
                  ra: float = 120.0, dec: float = -30.0, radius: float = 0.5,
                  missing_fraction: float = 0.0, seed: int = 0) -> Table:
    """Simulate a Gaia DR3-like cone.

    Parameters
    ----------
    n_field : int
        Field stars.
    clusters : tuple of SimCluster, optional
        Clusters (default: one of 500 stars at pm (−2.5, 1.0) mas/yr, parallax 0.7 mas).
    ra, dec, radius : float
        Cone centre and radius in degrees.
    missing_fraction : float
        Fraction of stars given no pm/parallax (two-parameter solutions), as in real cones.
    seed : int
        Random seed.

    Returns
    -------
    astropy.table.Table
        Columns source_id, ra, dec, parallax, pmra, pmdec and their errors, phot_g_mean_mag,
        bp_rp, and ``true_cluster`` (0 field, k ≥ 1 the k-th cluster).
    """
    rng = np.random.default_rng(seed)
    if clusters is None:
        clusters = (SimCluster(500, -2.5, 1.0, 0.7),)
    # field
    xy = [_uniform_cone(rng, n_field, radius)]
    g = [G_FAINT - rng.exponential(FIELD_G_SCALE, n_field).clip(0, 10.5)]
    thick = rng.random(n_field) < THICK_FRACTION
    (mx_thin, my_thin, s_thin), (mx_thick, my_thick, s_thick) = THIN_PM, THICK_PM
    pm_true = [np.column_stack([
        rng.normal(np.where(thick, mx_thick, mx_thin), np.where(thick, s_thick, s_thin)),
        rng.normal(np.where(thick, my_thick, my_thin), np.where(thick, s_thick, s_thin))])]
    plx_true = [rng.lognormal(np.log(FIELD_PARALLAX[0]), FIELD_PARALLAX[1], n_field)]
    colour = [rng.normal(1.3, 0.45, n_field)]
    label = [np.zeros(n_field, int)]
    for k, c in enumerate(clusters, start=1):
        xy.append(_plummer(rng, c.n, c.plummer_radius, radius) + np.asarray(c.offset))
        gk = G_FAINT - rng.exponential(CLUSTER_G_SCALE, c.n).clip(0, 11)
        g.append(gk)
        pm_true.append(np.column_stack([rng.normal(c.pmra, c.sd_pm, c.n),
                                        rng.normal(c.pmdec, c.sd_pm, c.n)]))
        plx_true.append(rng.normal(c.parallax, c.sd_parallax, c.n))
        colour.append(0.25 + 0.16 * (gk - 10.0) + rng.normal(0, 0.04, c.n))
        label.append(np.full(c.n, k))
    xy, g, pm_true = np.vstack(xy), np.concatenate(g), np.vstack(pm_true)
    plx_true, colour, label = np.concatenate(plx_true), np.concatenate(colour), np.concatenate(label)
    order = rng.permutation(len(g))
    xy, g, pm_true, plx_true, colour, label = (a[order] for a in (xy, g, pm_true, plx_true, colour, label))
    err = nominal_errors(g) * rng.uniform(0.8, 1.25, (len(g), 3))
    pmra = pm_true[:, 0] + rng.normal(0, 1, len(g)) * err[:, 0]
    pmdec = pm_true[:, 1] + rng.normal(0, 1, len(g)) * err[:, 1]
    plx = plx_true + rng.normal(0, 1, len(g)) * err[:, 2]
    dec_ = dec + xy[:, 1]
    ra_ = (ra + xy[:, 0] / np.cos(np.radians(dec_))) % 360.0
    missing = rng.random(len(g)) < missing_fraction
    table = Table()
    table["source_id"] = np.arange(len(g), dtype=np.int64) * 131072 + 4_000_000_000_000_000
    spec = [("ra", ra_, u.deg, "pos.eq.ra;meta.main"), ("dec", dec_, u.deg, "pos.eq.dec;meta.main"),
            ("parallax", plx, u.mas, "pos.parallax.trig"),
            ("parallax_error", err[:, 2], u.mas, "stat.error;pos.parallax.trig"),
            ("pmra", pmra, u.mas / u.yr, "pos.pm;pos.eq.ra"),
            ("pmra_error", err[:, 0], u.mas / u.yr, "stat.error;pos.pm;pos.eq.ra"),
            ("pmdec", pmdec, u.mas / u.yr, "pos.pm;pos.eq.dec"),
            ("pmdec_error", err[:, 1], u.mas / u.yr, "stat.error;pos.pm;pos.eq.dec"),
            ("phot_g_mean_mag", g.astype(np.float32), u.mag, "phot.mag;em.opt"),
            ("bp_rp", colour.astype(np.float32), u.mag, "phot.color;em.opt.B;em.opt.R")]
    for name, values, unit, ucd in spec:
        values = np.asarray(values)
        if name.startswith(("parallax", "pm")):
            values = np.where(missing, np.nan, values)
        table[name] = values
        table[name].unit = unit
        table[name].meta["ucd"] = ucd
    table["true_cluster"] = label.astype(np.int16)
    table["true_cluster"].description = "simulation truth: 0 field, k the k-th cluster"
    return table


def true_posterior(table: Table, clusters: tuple[SimCluster, ...], *, ra: float = 120.0,
                   dec: float = -30.0, radius: float = 0.5) -> np.ndarray:
    """Each star's posterior (n, K + 1) under the simulation's own model, with its true values.

    The Bayes-optimal membership of a cone made by :func:`simulate_cone` with these clusters
    and cone: the best any method can do, the ceiling against which a method's completeness,
    purity and F1 are read. Columns are the clusters in order, then the field.
    (The field's G distribution is taken without its clip at G 10, which holds < 0.2 % of it;
    stars without astrometry get NaN.)
    """
    from scipy.stats import norm

    y = np.asarray(table["dec"], float) - dec
    x = ((np.asarray(table["ra"], float) - ra + 180.0) % 360.0 - 180.0) * np.cos(np.radians(
        np.asarray(table["dec"], float)))
    g = np.asarray(table["phot_g_mean_mag"], float)
    v = np.column_stack([np.asarray(table[c], float) for c in ("pmra", "pmdec", "parallax")])
    e = np.column_stack([np.asarray(table[c], float)
                         for c in ("pmra_error", "pmdec_error", "parallax_error")])
    n_field = len(table) - sum(c.n for c in clusters)

    def lum(scale: float) -> np.ndarray:
        return np.exp(-(G_FAINT - g) / scale) / scale

    def pm_density(mx: float, my: float, sd: float) -> np.ndarray:
        return norm.pdf(v[:, 0], mx, np.hypot(sd, e[:, 0])) * norm.pdf(v[:, 1], my, np.hypot(sd, e[:, 1]))

    pm_field = (1 - THICK_FRACTION) * pm_density(*THIN_PM) + THICK_FRACTION * pm_density(*THICK_PM)
    median, sd_ln = FIELD_PARALLAX
    ln_grid = np.log(median) + np.linspace(-6 * sd_ln, 6 * sd_ln, _PARALLAX_GRID)
    weight = norm.pdf(ln_grid, np.log(median), sd_ln) * (ln_grid[1] - ln_grid[0])
    plx_field = np.zeros(len(v))
    for s in range(0, len(v), _CHUNK):
        part = slice(s, s + _CHUNK)
        plx_field[part] = norm.pdf(v[part, 2, None], np.exp(ln_grid)[None],
                                   e[part, 2, None]) @ weight
    terms = []
    for c in clusters:
        r2 = (x - c.offset[0]) ** 2 + (y - c.offset[1]) ** 2
        a2 = c.plummer_radius**2
        plummer = (1 + r2 / a2) ** -2 / (np.pi * a2) * (radius**2 + a2) / radius**2
        terms.append(c.n * plummer * lum(CLUSTER_G_SCALE) * pm_density(c.pmra, c.pmdec, c.sd_pm)
                     * norm.pdf(v[:, 2], c.parallax, np.hypot(c.sd_parallax, e[:, 2])))
    terms.append(n_field / (np.pi * radius**2) * lum(FIELD_G_SCALE) * pm_field * plx_field)
    T = np.column_stack(terms)
    return T / T.sum(axis=1, keepdims=True)


#: points of the field's parallax integral, and stars per chunk of it
_PARALLAX_GRID, _CHUNK = 400, 20000
