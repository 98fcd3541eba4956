"""Inject simulated clusters into a real Gaia table, observed with that table's own errors.

:class:`FieldModel` learns what it needs from a real table once — its footprint on the sky,
its magnitude range and any pre-cut box in proper motion and parallax (the range its stars
span), its error–G relation, its kinematics at each parallax, and the catalogued clusters it
contains — and :meth:`FieldModel.inject` then adds one simulated cluster
(:mod:`vo_ocml.injection.population`) as extra rows labelled ``inj_member``.

Observation model, per injected star:

- kept only if it would be in the table: G inside the field's G range, position inside the
  footprint (within ``FOOTPRINT_FACTOR`` × the 95th percentile nearest-neighbour spacing of
  a field star), observed pm and parallax inside the range the field spans (pre-cut boxes);
- errors (and correlation coefficients, RUWE and every other ``*_error``/``e_*``/``*_corr``
  column) copied from a *donor*: a random field star among the ``DONORS`` nearest in G. A donor
  without astrometry (two-parameter solution) makes the injected star one too, so the field's
  fraction of incomplete rows at each G is reproduced. Tables without pm/parallax error
  columns get the nominal errors of :mod:`vo_ocml.membership.gaia_precision`, scattered by
  ``NOMINAL_SCATTER``;
- observed = truth + Gaussian noise with the (correlated) errors, times ``noise_scale`` (1: the
  errors are what Gaia states; above 1: real stars scatter more than stated, and the table
  keeps the stated errors); the observed parallax also
  carries the Gaia zero-point ``PARALLAX_ZERO_POINT`` (Lindegren et al. 2021: quasars have a
  median EDR3 parallax of −0.017 mas), so injected stars sit where real stars of that
  distance sit. Positions are not perturbed (their errors are below a milliarcsecond).

The field's own clusters: every catalogued cluster (the shipped catalogue) whose centre lies
in or near the footprint marks the stars within ``max(KNOWN_R50_FACTOR × r50, rt)`` of its
centre whose pm and parallax agree with it within ``KNOWN_SIGMA`` (intrinsic spread and the
star's errors combined). ``own="mask"`` removes those rows; ``own="keep"`` keeps them and
labels them ``inj_near_known`` so that scores can leave them out. The mask takes every faint
star whose errors reach the cluster's motion, so near a cluster it leaves mostly the stars of
other motions: a hole in the field that depends on kinematics (the NGC 2477 cone loses 2,649
of its 7,100 rows, and the distant field's motion then stands out at the cone's centre).
``own="thin"`` removes each row with a given probability instead -- its membership
probability of the field's clusters, measured by the caller: as many rows as the clusters are
expected to hold, and no hole. The rows removed are not the members themselves: a kept row of
probability P is still a member with probability P (when P is calibrated), so the faint members,
whose P is moderate, partly stay -- labelled field, a second cluster under the injected one.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import MaskedColumn, Table, vstack
from scipy.spatial import cKDTree

from vo_ocml.catalog import clusters_near
from vo_ocml.errors import InputError
from vo_ocml.injection import population as pop
from vo_ocml.io.columns import QUANTITIES, resolve_columns
from vo_ocml.membership.gaia_precision import nominal_errors
from vo_ocml.membership.sky import angular_distance, sky_centre, tangent_plane

#: Gaia EDR3 parallax zero-point added to injected parallaxes (mas; Lindegren et al. 2021)
PARALLAX_ZERO_POINT = -0.017
#: labels added to the table
TRUTH_COLUMN, KNOWN_COLUMN = "inj_member", "inj_near_known"
#: donors: how many field stars nearest in G an injected star draws its errors from
DONORS = 20
#: a position is inside the footprint when a field star lies within this many times the
#: field's 95th-percentile nearest-neighbour spacing
FOOTPRINT_FACTOR = 2.0
#: the cluster centre is a field star's position within this fraction of the field's extent
CENTRE_FRACTION = 0.5
#: cluster pm is a bright field star's pm at the cluster's parallax: brighter than this G,
#: with pm within ``PM_CORE`` robust sigmas of that slice's median, parallax within the window
PM_DONOR_G, PM_CORE = 18.0, 1.0
PM_SLICE_MIN, PM_SLICE_FRACTION, PM_SLICE_MIN_STARS = 0.1, 0.2, 10
#: margins keeping a cluster inside a pre-cut box: in units of its own spread, plus a floor
BOX_SIGMAS, BOX_FLOOR_PM, BOX_FLOOR_PARALLAX = 3.0, 0.1, 0.03
#: catalogued clusters: sky reach (× r50) and pm/parallax agreement (sigmas) of their stars;
#: intrinsic spreads assumed when the catalogue has none (mas/yr, mas)
KNOWN_R50_FACTOR, KNOWN_SIGMA = 2.0, 3.0
KNOWN_DEFAULT_SPREAD = (0.2, 0.2, 0.05)
#: scatter of nominal errors when the table has no error columns (uniform factor range)
NOMINAL_SCATTER = (0.8, 1.25)
#: drawn cluster parameters: internal dispersion (km/s), core radius (pc, log-uniform),
#: concentration log10(r_t/r_c), log10 age (yr)
SIGMA_V_RANGE, CORE_PC_RANGE = (0.5, 2.0), (0.7, 2.5)
CONCENTRATION_RANGE, LOG_AGE_RANGE = (0.5, 1.1), (7.5, 9.5)
#: photometric noise when no donor colour error is available: G (mag) → sigma of G and of
#: BP−RP (mag), typical of Gaia DR3 (Riello et al. 2021, Fig. 16–17), log-interpolated
PHOT_G = np.array([13.0, 17.0, 19.0, 20.0, 21.0])
PHOT_SIGMA_G = np.array([0.0003, 0.001, 0.003, 0.006, 0.015])
PHOT_SIGMA_COLOUR = np.array([0.005, 0.012, 0.05, 0.12, 0.3])
_MAX_CORR = 0.99
_DONOR_PREFIXES, _DONOR_MARKERS = ("e_", "astrometric_", "visibility"), ("error", "_corr", "ruwe")


@dataclass
class Injection:
    """One injected cluster and the table holding it.

    Attributes
    ----------
    table : astropy.table.Table
        The field's rows (unchanged, in order; the field's own cluster removed when masked)
        followed by the injected rows; ``inj_member`` is True for injected rows.
    truth : dict
        The cluster's parameters: ``n`` (members simulated), ``n_rows`` (injected rows),
        ``n_true`` (injected rows with complete astrometry: what a method can find),
        ``distance_kpc``, ``ra``, ``dec``, ``pmra``, ``pmdec``, ``parallax`` (observed frame:
        1/d plus the zero-point), ``sigma_v_kms``, ``sigma_pm``, ``r_core_pc``, ``r_tidal_pc``,
        ``r_tidal_deg``, ``log_age``, ``a0``, and ``members_ra``, ``members_dec``,
        ``members_r50``: the mean position of the injected rows with complete astrometry and
        their median distance from it in degrees (a catalogue's centre and r50).
    """

    table: Table
    truth: dict[str, Any] = dc_field(default_factory=dict)

    @property
    def centroid(self) -> tuple[float, float, float]:
        """The cluster's (pmra, pmdec, parallax) as Gaia would measure it."""
        return self.truth["pmra"], self.truth["pmdec"], self.truth["parallax"]

    @property
    def position(self) -> tuple[float, float]:
        """The cluster's (ra, dec) as a catalogue of its members would list it (deg)."""
        return self.truth["members_ra"], self.truth["members_dec"]

    @property
    def r50(self) -> float:
        """The cluster's half-number radius (deg) as a catalogue of its members would list it."""
        return self.truth["members_r50"]


def _deproject(xi: np.ndarray, eta: np.ndarray, ra0: float, dec0: float) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.radians(xi), np.radians(eta)
    d0 = np.radians(dec0)
    rho = np.maximum(np.hypot(x, y), 1e-15)
    c = np.arctan(rho)
    dec = np.arcsin(np.cos(c) * np.sin(d0) + y * np.sin(c) * np.cos(d0) / rho)
    ra = np.radians(ra0) + np.arctan2(x * np.sin(c), rho * np.cos(d0) * np.cos(c) - y * np.sin(d0) * np.sin(c))
    return np.degrees(ra) % 360.0, np.degrees(dec)


def _phot_sigma(g: np.ndarray, table: np.ndarray) -> np.ndarray:
    return np.exp(np.interp(g, PHOT_G, np.log(table)))


def _in_range(values: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    return ~(values < bounds[0]) & ~(values > bounds[1])  # NaN passes: incomplete rows stay


class FieldModel:
    """A real table prepared for cluster injection.

    Parameters
    ----------
    table : astropy.table.Table
        A real Gaia table (Gaia archive or VizieR names, or UCDs); never modified. It needs
        positions, proper motions, parallaxes and G.
    own : {"mask", "keep", "thin"}
        What to do with the stars of catalogued clusters in the field (see the module notes).
    columns : dict, optional
        Column overrides, as for :func:`vo_ocml.run`.
    own_probability : ndarray, shape (len(table),), optional
        ``own="thin"``: each row's probability of belonging to one of the field's clusters
        (NaN: 0); the row is removed with that probability.
    random_state : int
        Seed of the thinning.
    noise_scale : float
        Injected stars scatter by this many times their stated errors (which the table keeps).

    Raises
    ------
    InputError
        Missing columns, no G magnitude, too few stars with astrometry, a bad ``own``,
        ``own="thin"`` without one probability per row, or a ``noise_scale`` not above 0.
    """

    def __init__(self, table: Table, *, own: str = "mask", columns: dict[str, str] | None = None,
                 own_probability: np.ndarray | None = None, random_state: int = 0,
                 noise_scale: float = 1.0):
        if own not in ("mask", "keep", "thin"):
            raise InputError(f"own must be 'mask', 'keep' or 'thin'; got {own!r}.")
        if not noise_scale > 0:
            raise InputError(f"noise_scale must be positive; got {noise_scale}.")
        self.noise_scale = float(noise_scale)
        if own == "thin" and (own_probability is None or len(own_probability) != len(table)):
            raise InputError("own='thin' needs own_probability: one membership probability "
                             f"per row of the table ({len(table)}).")
        self.cmap = resolve_columns(table, columns, required=(
            "ra", "dec", "pmra", "pmdec", "parallax", "phot_g_mean_mag"))
        a = self.cmap.arrays(table)
        complete = np.isfinite(a["parallax"]) & np.isfinite(a["pmra"]) & np.isfinite(a["pmdec"])
        if complete.sum() < PM_SLICE_MIN_STARS:
            raise InputError(f"The field has {complete.sum()} stars with astrometry; at least "
                             f"{PM_SLICE_MIN_STARS} are needed to inject clusters into it.")
        self.own = own
        self.centre = sky_centre(a["ra"], a["dec"])
        coord = SkyCoord(*self.centre, unit="deg").galactic
        self.b = float(coord.b.deg)
        near = self._near_known(a, complete)
        if own == "thin":
            p = np.clip(np.nan_to_num(np.asarray(own_probability, float)), 0.0, 1.0)
            near = np.random.default_rng(random_state).random(len(table)) < p
        keep = np.ones(len(table), bool) if own == "keep" else ~near
        self.base = table.copy(copy_data=False) if own == "keep" else table[keep]
        if own == "keep":
            self.base[KNOWN_COLUMN] = near
        self.n_masked = 0 if own == "keep" else int(near.sum())
        self.a = {k: v[keep] for k, v in a.items()}
        xy = tangent_plane(self.a["ra"], self.a["dec"], *self.centre)
        self.tree = cKDTree(xy)
        spacing = self.tree.query(xy, k=2)[0][:, 1]
        self.footprint_tolerance = FOOTPRINT_FACTOR * float(np.percentile(spacing, 95))
        self.radius = np.hypot(xy[:, 0], xy[:, 1])
        self.extent = float(np.percentile(self.radius, 98))
        self.ranges = {q: (float(np.nanmin(self.a[q])), float(np.nanmax(self.a[q])))
                       for q in ("pmra", "pmdec", "parallax", "phot_g_mean_mag")}
        g = self.a["phot_g_mean_mag"]
        finite_g = np.flatnonzero(np.isfinite(g))
        self.donor_order = finite_g[np.argsort(g[finite_g])]
        self.donor_g = g[self.donor_order]
        self.has_errors = all(self.cmap.has(f"{q}_error") for q in ("pmra", "pmdec", "parallax"))
        self.corr_names = [n for n in ("pmra_pmdec_corr", "parallax_pmra_corr", "parallax_pmdec_corr")
                           if n in table.colnames]

    # -- the field's own clusters -------------------------------------------------------------
    def _near_known(self, a: dict[str, np.ndarray], complete: np.ndarray) -> np.ndarray:
        spread = np.hypot(*(tangent_plane(a["ra"], a["dec"], *self.centre).T))
        reach = float(np.nanmax(spread)) + 1.0
        errors = self._errors(a)
        near = np.zeros(len(a["ra"]), bool)
        self.known = []
        for entry in clusters_near(*self.centre, reach):
            radii = [r for r in (KNOWN_R50_FACTOR * entry.r50, entry.rt) if np.isfinite(r)]
            centroid = (entry.pmra, entry.pmdec, entry.parallax)
            if not (radii and all(np.isfinite(centroid))):
                continue
            radius = max(radii)
            sky = np.hypot(*(tangent_plane(a["ra"], a["dec"], entry.ra, entry.dec).T)) <= radius
            if not sky.any():
                continue
            spreads = [s if np.isfinite(s) else d for s, d in
                       zip((entry.s_pmra, entry.s_pmdec, entry.s_parallax), KNOWN_DEFAULT_SPREAD)]
            agree = complete & sky
            for k, q in enumerate(("pmra", "pmdec", "parallax")):
                sigma = np.hypot(spreads[k], errors[:, k])
                agree &= np.abs(a[q] - centroid[k]) <= KNOWN_SIGMA * sigma
            if agree.any():
                self.known.append((entry.name, int(agree.sum())))
            near |= agree
        return near

    def _errors(self, a: dict[str, np.ndarray]) -> np.ndarray:
        if all(f"{q}_error" in a for q in ("pmra", "pmdec", "parallax")):
            return np.column_stack([a["pmra_error"], a["pmdec_error"], a["parallax_error"]])
        return nominal_errors(a["phot_g_mean_mag"])

    # -- what a cluster may be ---------------------------------------------------------------
    def distance_range(self, lo_kpc: float = 0.3, hi_kpc: float = 8.0) -> tuple[float, float]:
        """Distances (kpc) within [lo, hi] whose parallax lies inside the field's parallax box."""
        p_lo, p_hi = self.ranges["parallax"]
        p_lo, p_hi = p_lo + BOX_FLOOR_PARALLAX - PARALLAX_ZERO_POINT, p_hi - BOX_FLOOR_PARALLAX - PARALLAX_ZERO_POINT
        d_lo = lo_kpc if p_hi <= 0 else max(lo_kpc, 1.0 / p_hi)
        d_hi = hi_kpc if p_lo <= 0 else min(hi_kpc, 1.0 / p_lo)
        if d_lo >= d_hi:
            raise InputError(f"The field's parallax range {self.ranges['parallax']} mas admits no "
                             f"cluster between {lo_kpc} and {hi_kpc} kpc.")
        return d_lo, d_hi

    def _cluster_pm(self, rng: np.random.Generator, parallax: float, sigma_pm: float) -> tuple[float, float]:
        a = self.a
        ok = np.isfinite(a["pmra"]) & np.isfinite(a["pmdec"]) & np.isfinite(a["parallax"])
        window = max(PM_SLICE_MIN, PM_SLICE_FRACTION * parallax)
        slice_ = ok & (np.abs(a["parallax"] - parallax) <= window)
        if slice_.sum() < PM_SLICE_MIN_STARS:
            nearest = np.argsort(np.where(ok, np.abs(a["parallax"] - parallax), np.inf))
            slice_ = np.zeros(len(ok), bool)
            slice_[nearest[:PM_SLICE_MIN_STARS * 5]] = True
            slice_ &= ok
        pm = np.column_stack([a["pmra"][slice_], a["pmdec"][slice_]])
        median = np.median(pm, axis=0)
        robust = 1.4826 * np.median(np.abs(pm - median), axis=0)
        core = np.all(np.abs(pm - median) <= PM_CORE * np.maximum(robust, 1e-3), axis=1)
        bright = a["phot_g_mean_mag"][slice_] < PM_DONOR_G
        pick = pm[core & bright] if (core & bright).any() else pm[core] if core.any() else pm
        centre = pick[rng.integers(len(pick))]
        margin = BOX_SIGMAS * sigma_pm + BOX_FLOOR_PM
        out = []
        for k, q in enumerate(("pmra", "pmdec")):
            lo, hi = self.ranges[q][0] + margin, self.ranges[q][1] - margin
            out.append(float(np.clip(centre[k], lo, hi)) if lo < hi else 0.5 * sum(self.ranges[q]))
        return out[0], out[1]

    def _centre(self, rng: np.random.Generator) -> tuple[float, float]:
        inner = np.flatnonzero(self.radius <= CENTRE_FRACTION * self.extent)
        i = inner[rng.integers(len(inner))] if len(inner) else rng.integers(len(self.radius))
        return float(self.a["ra"][i]), float(self.a["dec"][i])

    # -- injection ---------------------------------------------------------------------------
    def inject(self, rng: np.random.Generator, n: int, distance_kpc: float, *,
               sigma_v_kms: float | None = None, r_core_pc: float | None = None,
               concentration: float | None = None, log_age: float | None = None,
               a0: float | None = None, centre: tuple[float, float] | None = None,
               pm: tuple[float, float] | None = None) -> Injection:
        """Add one simulated cluster of ``n`` members at ``distance_kpc``.

        Parameters left as None are drawn from ``rng`` (see the module constants): internal
        dispersion, King core radius and concentration, age, extinction (line-of-sight mean
        times patchiness), the sky centre (a field star's position in the inner half of the
        footprint) and the proper motion (a bright field star's at that parallax, near the
        field's median there, kept inside any pre-cut box).

        Returns
        -------
        Injection
        """
        if n < 1 or not distance_kpc > 0:
            raise InputError(f"Need n ≥ 1 and a positive distance; got n={n}, d={distance_kpc}.")
        sigma_v = sigma_v_kms if sigma_v_kms is not None else rng.uniform(*SIGMA_V_RANGE)
        r_core = r_core_pc if r_core_pc is not None else float(np.exp(rng.uniform(*np.log(CORE_PC_RANGE))))
        conc = concentration if concentration is not None else rng.uniform(*CONCENTRATION_RANGE)
        age = log_age if log_age is not None else rng.uniform(*LOG_AGE_RANGE)
        if a0 is None:
            a0 = pop.line_of_sight_a0(distance_kpc, self.b) * float(np.exp(rng.normal(0.0, pop.DUST_PATCHINESS)))
        r_tidal = r_core * 10 ** conc
        parallax = 1.0 / distance_kpc
        sigma_pm = pop.pm_dispersion(sigma_v, distance_kpc)
        ra0, dec0 = centre if centre is not None else self._centre(rng)
        pmra0, pmdec0 = pm if pm is not None else self._cluster_pm(rng, parallax + PARALLAX_ZERO_POINT, sigma_pm)
        stars = pop.simulate_population(rng, n, age_yr=10 ** age, r_core=r_core, r_tidal=r_tidal)
        extinction = a0 * (1 + rng.normal(0.0, pop.DIFFERENTIAL_EXTINCTION, n)).clip(0)
        g = stars.abs_g + 5 * np.log10(distance_kpc * 100.0) + pop.AG_PER_A0 * extinction
        colour = stars.colour + pop.EBPRP_PER_A0 * extinction
        pc_to_deg = np.degrees(1.0 / (distance_kpc * 1000.0))
        ra, dec = _deproject(stars.x * pc_to_deg, stars.y * pc_to_deg, ra0, dec0)
        true_plx = 1.0 / (distance_kpc + stars.z / 1000.0)
        true_pm = np.column_stack([rng.normal(pmra0, sigma_pm, n), rng.normal(pmdec0, sigma_pm, n)])
        g = g + rng.normal(0.0, 1.0, n) * _phot_sigma(g, PHOT_SIGMA_G)
        keep = _in_range(g, self.ranges["phot_g_mean_mag"])
        dist, _ = self.tree.query(tangent_plane(ra, dec, *self.centre))
        keep &= dist <= self.footprint_tolerance
        idx = np.flatnonzero(keep)
        donors = self._donors(rng, g[idx])
        observed, errors = self._observe(rng, true_pm[idx], true_plx[idx], g[idx], donors)
        inside = np.ones(len(idx), bool)
        for k, q in enumerate(("pmra", "pmdec", "parallax")):
            inside &= _in_range(observed[:, k], self.ranges[q])
        idx, donors, observed, errors = idx[inside], donors[inside], observed[inside], errors[inside]
        values = {"ra": ra[idx], "dec": dec[idx], "pmra": observed[:, 0], "pmdec": observed[:, 1],
                  "parallax": observed[:, 2], "phot_g_mean_mag": g[idx],
                  "bp_rp": self._observed_colour(rng, g[idx], colour[idx], donors)}
        if not self.has_errors:
            values.update(pmra_error=errors[:, 0], pmdec_error=errors[:, 1], parallax_error=errors[:, 2])
        rows = self._rows(values, donors)
        table = vstack([self.base, rows], join_type="exact", metadata_conflicts="silent")
        table[TRUTH_COLUMN] = np.concatenate([np.zeros(len(self.base), bool), np.ones(len(rows), bool)])
        table[TRUTH_COLUMN].description = "injection truth: True for an injected cluster member"
        complete = np.isfinite(observed).all(axis=1)
        members_ra, members_dec = sky_centre(values["ra"][complete], values["dec"][complete]) \
            if complete.any() else (float(ra0), float(dec0))
        members_r50 = float(np.median(angular_distance(
            values["ra"][complete], values["dec"][complete], members_ra, members_dec))) \
            if complete.any() else float(r_tidal * pc_to_deg)
        truth = dict(n=int(n), n_rows=len(rows), n_true=int(complete.sum()),
                     distance_kpc=float(distance_kpc), ra=float(ra0), dec=float(dec0),
                     pmra=float(pmra0), pmdec=float(pmdec0),
                     parallax=float(parallax + PARALLAX_ZERO_POINT), sigma_v_kms=float(sigma_v),
                     sigma_pm=float(sigma_pm), r_core_pc=float(r_core), r_tidal_pc=float(r_tidal),
                     r_tidal_deg=float(r_tidal * pc_to_deg), log_age=float(age), a0=float(a0),
                     members_ra=members_ra, members_dec=members_dec, members_r50=members_r50)
        return Injection(table=table, truth=truth)

    def _donors(self, rng: np.random.Generator, g: np.ndarray) -> np.ndarray:
        n_field = len(self.donor_order)
        pos = np.searchsorted(self.donor_g, g)
        lo = np.clip(pos - DONORS // 2, 0, max(n_field - DONORS, 0))
        pick = np.minimum(lo + rng.integers(0, min(DONORS, n_field), len(g)), n_field - 1)
        return self.donor_order[pick]

    def _observe(self, rng: np.random.Generator, pm: np.ndarray, plx: np.ndarray, g: np.ndarray,
                 donors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(g)
        a = self.a
        if self.has_errors:
            err = np.column_stack([a["pmra_error"][donors], a["pmdec_error"][donors],
                                   a["parallax_error"][donors]])
        else:
            err = nominal_errors(g) * rng.uniform(*NOMINAL_SCATTER, (n, 3))
        corr = np.zeros((n, 3))  # pmra-pmdec, parallax-pmra, parallax-pmdec
        for k, name in enumerate(("pmra_pmdec_corr", "parallax_pmra_corr", "parallax_pmdec_corr")):
            if name in self.corr_names:
                corr[:, k] = np.nan_to_num(np.asarray(self.base[name], float)[donors]).clip(-_MAX_CORR, _MAX_CORR)
        cov = np.empty((n, 3, 3))
        safe = np.nan_to_num(err, nan=1.0)
        cov[:, 0, 0], cov[:, 1, 1], cov[:, 2, 2] = safe[:, 0] ** 2, safe[:, 1] ** 2, safe[:, 2] ** 2
        cov[:, 0, 1] = cov[:, 1, 0] = corr[:, 0] * safe[:, 0] * safe[:, 1]
        cov[:, 0, 2] = cov[:, 2, 0] = corr[:, 1] * safe[:, 0] * safe[:, 2]
        cov[:, 1, 2] = cov[:, 2, 1] = corr[:, 2] * safe[:, 1] * safe[:, 2]
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:  # inconsistent correlations: drop them
            chol = np.linalg.cholesky(cov * np.eye(3))
        noise = self.noise_scale * np.einsum("nij,nj->ni", chol, rng.standard_normal((n, 3)))
        truth = np.column_stack([pm, plx + PARALLAX_ZERO_POINT])
        observed = truth + noise
        incomplete = ~(np.isfinite(a["parallax"][donors]) & np.isfinite(a["pmra"][donors]))
        observed[incomplete | ~np.isfinite(err).all(axis=1)] = np.nan
        return observed, err

    def _observed_colour(self, rng: np.random.Generator, g: np.ndarray, colour: np.ndarray,
                         donors: np.ndarray) -> np.ndarray:
        """Observed BP−RP: nominal DR3 noise; no colour where the donor has none."""
        observed = colour + rng.normal(0.0, 1.0, len(g)) * _phot_sigma(g, PHOT_SIGMA_COLOUR)
        if "bp_rp" in self.a:
            observed[~np.isfinite(self.a["bp_rp"][donors])] = np.nan
        return observed

    def _rows(self, values: dict[str, np.ndarray], donors: np.ndarray) -> Table:
        n = len(donors)
        base = self.base
        by_column = {c: q for q, c in self.cmap.columns.items()}
        bp, rp = pop.bp_rp_fluxes(values["phot_g_mean_mag"], values["bp_rp"])
        derived = {**values, "phot_bp_mean_mag": bp, "phot_rp_mean_mag": rp}
        gal = SkyCoord(values["ra"] * u.deg, values["dec"] * u.deg).galactic
        by_name = {"glon": gal.l.deg, "l": gal.l.deg, "glat": gal.b.deg, "b": gal.b.deg,
                   "pm": np.hypot(values["pmra"], values["pmdec"]),
                   "g_rp": values["phot_g_mean_mag"] - rp}
        out = Table()
        for name in base.colnames:
            col = base[name]
            q = by_column.get(name)
            data, mask = None, np.zeros(n, bool)
            if q in derived and q != "source_id":
                data = self._to_column_unit(derived[q], col, q)
            elif q == "source_id" and col.dtype.kind in "iu":
                start = int(np.nanmax(np.asarray(col, dtype=np.float64))) + 1 if len(col) else 1
                data = np.arange(start, start + n, dtype=col.dtype)
            elif name.lower() in by_name:
                data = by_name[name.lower()]
            elif name.lower().startswith(_DONOR_PREFIXES) or any(m in name.lower() for m in _DONOR_MARKERS):
                donor = col[donors]
                data = np.asarray(donor)
                mask = np.asarray(getattr(donor, "mask", np.zeros(n, bool)), bool) & np.ones(n, bool)
            if data is None:
                data, mask = np.zeros(n, dtype=col.dtype), np.ones(n, bool)
            else:
                data = np.asarray(data)
                if data.dtype.kind == "f":
                    mask = mask | ~np.isfinite(data)
                if col.dtype.kind in "iub" and data.dtype.kind == "f":
                    data = np.nan_to_num(data).astype(col.dtype)
                else:
                    data = data.astype(col.dtype, copy=False)
            out[name] = MaskedColumn(data, mask=mask, unit=col.unit, description=col.description)
            out[name].meta.update(col.meta)
        return out

    @staticmethod
    def _to_column_unit(values: np.ndarray, col, quantity: str) -> np.ndarray:
        want = QUANTITIES[quantity].unit
        unit = col.unit
        if want is None or unit is None or str(unit).strip() in ("", "-") or isinstance(unit, u.UnrecognizedUnit):
            return values
        return values * float(want.to(unit))
