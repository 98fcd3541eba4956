"""The numbers a membership run is judged by, like the source studies' tables.

Members are the stars with probability above the threshold (default 0.5). The cluster's
mean proper motion and parallax come from the fitted model when the method fits one (the
mixture's deconvolved cluster mean, with the standard errors of that mean: every member
weighs as 1 / (intrinsic spread² + its error²), times its probability); otherwise they are
the members' means with those same weights, the intrinsic spread measured from the members
(observed variance less the mean squared error). So neither is dominated by the many faint
members with large errors. A named cluster that the fit held at its named centroid (the free fit
had moved to another cluster or a feature of the field) has the named means, without standard
errors. The centre is the members' mean direction and r50 the median
angular distance of members from it; ``fill``, r50 over the median distance of the table's
rows from that centre, says whether the table reaches beyond the cluster (see
:data:`FILL_WARNING`). The parallax says whether the Gaia zero-point (Lindegren et al. 2021)
was applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vo_ocml.catalog.match import KINEMATIC_TOLERANCE, POSITION_TOLERANCE, CatalogueMatch
from vo_ocml.io.tables import param
from vo_ocml.membership.base import MEMBER_THRESHOLD, MembershipResult
from vo_ocml.membership.gaia_precision import GLOBAL_ZERO_POINT
from vo_ocml.membership.sky import angular_distance, sky_centre, tangent_plane
from vo_ocml.tap.resolve import R50_FACTOR

log = logging.getLogger(__name__)

#: a cluster whose r50 is at least this fraction of the median distance of the table's rows
#: from its centre fills the table: no part of it is far enough from the cluster for the
#: field to be measured apart from it by position, and the faint members' probabilities run
#: low (injection bench, fifteenth session: Σ P / N_true of every star at G 19.5–21 of 0.87
#: against 1.01 for clusters below this, named runs; docs/injection.md)
FILL_WARNING = 0.5
#: the table's median distance from the cluster is taken over about this many rows (every
#: k-th): its relative error is then about 1.25/√n, under 1 %; over all of 2,000,000 rows it
#: took 0.41 s per cluster's summary
FILL_SAMPLE = 20_000
#: what a user is told when the cluster fills the table
FILL_ADVICE = ("the cluster fills the table: faint members' probabilities run low; a table "
               "reaching farther from the cluster lets the field be measured apart from it")

#: what a user is told when no catalogued cluster matches
NO_MATCH = (f"none in the shipped catalogue within {POSITION_TOLERANCE:g} × a cluster's r50 "
            f"and {KINEMATIC_TOLERANCE:g} sigma in motion and parallax")

#: how the cluster's means were obtained
FITTED = "fitted model (deconvolved cluster mean; SE from the fit)"
WEIGHTED = "members weighted by P / (intrinsic spread² + error²)"
HELD = ("the named centroid, not measured: the free fit ended {:.1f} sigma in motion and "
        "parallax and {:.1f} half-number radii on the sky from it (another cluster or a feature "
        "of the field), and the cluster was fitted held there")


@dataclass
class Summary:
    """Summary of one membership run.

    Attributes
    ----------
    found : bool
        Whether a cluster was found.
    method : str
        Membership method.
    threshold : float
        Probability above which a star is a member.
    n_members, n_p08 : int
        Stars with P > threshold, and with P > 0.8.
    pmra, pmdec, parallax : float
        Members' means (mas/yr, mas/yr, mas); NaN without members.
    pmra_se, pmdec_se, parallax_se : float
        Their standard errors.
    ra, dec : float
        Members' centre (deg).
    r50 : float
        Median distance of members from the centre (deg).
    fill : float
        ``r50`` over the median distance of the table's rows from the centre; from
        :data:`FILL_WARNING` up the cluster fills the table (NaN without members).
    centroid_source : str
        Where the filter's centroid came from ("data", "user", "catalogue:…").
    step_counts : dict
        Star counts per step.
    means_from : str
        How the means were obtained (:data:`FITTED`, :data:`WEIGHTED` or :data:`HELD`).
    parallax_zero_point : float or None
        The parallax zero-point subtracted from every parallax (mas; None: not applied).
    catalogue : CatalogueMatch or None
        The found cluster's catalogued counterpart and the offsets from it, when looked up
        (:mod:`vo_ocml.analysis.identification`).
    catalogue_checked : bool
        Whether the catalogue was looked up (``catalogue`` None then: no counterpart).
    catalogued : tuple of str
        When no cluster was found and the catalogue was looked up: the catalogued clusters the
        table holds, richest first (at most ten).
    rivals : str
        The known clusters a single-cluster run modelled beside its cluster (comma-separated;
        :func:`~vo_ocml.membership.joint.beside_rivals`), or empty.
    """

    found: bool
    method: str
    threshold: float
    n_members: int
    n_p08: int
    pmra: float
    pmra_se: float
    pmdec: float
    pmdec_se: float
    parallax: float
    parallax_se: float
    ra: float
    dec: float
    r50: float
    centroid_source: str
    step_counts: dict[str, int] = field(default_factory=dict)
    means_from: str = WEIGHTED
    parallax_zero_point: float | None = None
    fill: float = np.nan
    catalogue: CatalogueMatch | None = None
    catalogue_checked: bool = False
    catalogued: tuple[str, ...] = ()
    rivals: str = ""

    @property
    def fills_table(self) -> bool:
        """Whether the cluster fills the table (:data:`FILL_WARNING`)."""
        return bool(self.fill >= FILL_WARNING)

    def as_rows(self) -> list[tuple[str, str]]:
        """(label, value) rows for printing or an HTML table."""
        def pm(x, se, unit):
            if not np.isfinite(x):
                return "—"
            return f"{x:.3f} ± {se:.3f} {unit}" if np.isfinite(se) else f"{x:.3f} {unit}"
        rows = [
            ("method", self.method),
            ("cluster found", "yes" if self.found else "no"),
            ("centroid from", self.centroid_source),
            (f"members (P > {self.threshold:g})", str(self.n_members)),
            ("members (P > 0.8)", str(self.n_p08)),
            ("pmra", pm(self.pmra, self.pmra_se, "mas/yr")),
            ("pmdec", pm(self.pmdec, self.pmdec_se, "mas/yr")),
            ("parallax", pm(self.parallax, self.parallax_se, "mas") + self._zero_point_note()),
            ("means from", self.means_from),
            ("centre (ra, dec)", f"{self.ra:.5f}, {self.dec:.5f} deg" if np.isfinite(self.ra) else "—"),
            ("r50", f"{self.r50 * 60:.2f} arcmin" if np.isfinite(self.r50) else "—"),
            ("r50 / table's median radius", "—" if not np.isfinite(self.fill) else
             f"{self.fill:.2f}" + (f" ({FILL_ADVICE})" if self.fills_table else "")),
        ]
        if self.rivals:
            rows.append(("modelled beside it", f"{self.rivals} (fitted jointly with this "
                         "cluster: a fit of it alone took their stars)"))
        if self.catalogue_checked and not self.found:
            rows.append(("catalogued clusters in the table", ", ".join(self.catalogued) +
                         " (name one to fit it)" if self.catalogued else "none"))
        elif self.catalogue_checked:
            rows.append(("catalogue match", NO_MATCH if self.catalogue is None
                         else self.catalogue.describe()))
        steps = " → ".join(f"{k} {v}" for k, v in self.step_counts.items())
        rows.append(("steps", steps))
        return rows

    def _zero_point_note(self) -> str:
        if not np.isfinite(self.parallax):
            return ""
        if self.parallax_zero_point is None:
            return f" (Gaia zero-point not applied; Lindegren+2021 global: {GLOBAL_ZERO_POINT} mas)"
        return f" (zero-point {self.parallax_zero_point:+.3f} mas subtracted)"

    def format(self) -> str:
        """A plain-text block for the terminal."""
        rows = self.as_rows()
        width = max(len(label) for label, _ in rows)
        return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)

    def as_params(self) -> list[dict[str, Any]]:
        """VOTable PARAM dicts (name, value, ucd, unit, description) for the output table."""
        p = param
        return [
            p("ocml_found", bool(self.found), "meta.code", None, "whether a cluster was found"),
            p("ocml_n_members", int(self.n_members), "meta.number", None,
              f"stars with membership probability > {self.threshold:g}"),
            p("ocml_n_p08", int(self.n_p08), "meta.number", None,
              "stars with membership probability > 0.8"),
            p("ocml_mean_pmra", self.pmra, "pos.pm;pos.eq.ra;stat.mean", "mas/yr",
              "members' mean pmra"),
            p("ocml_mean_pmra_se", self.pmra_se, "stat.error;pos.pm;pos.eq.ra", "mas/yr",
              "standard error of the members' mean pmra"),
            p("ocml_mean_pmdec", self.pmdec, "pos.pm;pos.eq.dec;stat.mean", "mas/yr",
              "members' mean pmdec"),
            p("ocml_mean_pmdec_se", self.pmdec_se, "stat.error;pos.pm;pos.eq.dec", "mas/yr",
              "standard error of the members' mean pmdec"),
            p("ocml_mean_parallax", self.parallax, "pos.parallax.trig;stat.mean", "mas",
              "the cluster's mean parallax" + (
                  " (Gaia zero-point not applied)" if self.parallax_zero_point is None else
                  f" (zero-point {self.parallax_zero_point:+.3f} mas subtracted)")),
            p("ocml_means_from", self.means_from, "meta.note", None,
              "how the cluster's mean proper motion and parallax were computed"),
            p("ocml_mean_parallax_se", self.parallax_se, "stat.error;pos.parallax.trig", "mas",
              "standard error of the members' mean parallax"),
            p("ocml_centre_ra", self.ra, "pos.eq.ra", "deg", "members' centre, right ascension"),
            p("ocml_centre_dec", self.dec, "pos.eq.dec", "deg", "members' centre, declination"),
            p("ocml_r50", self.r50, "phys.angSize", "deg",
              "median distance of members from the centre"),
            p("ocml_fill", self.fill, "arith.ratio", None,
              "r50 over the median distance of the table's rows from the centre; from "
              f"{FILL_WARNING:g} up {FILL_ADVICE}"),
        ] + (self._catalogue_params() if self.catalogue_checked else [])

    def _catalogue_params(self) -> list[dict[str, Any]]:
        """The catalogue counterpart's PARAMs (named as the joint run's summary table's
        ``match*`` columns, :func:`vo_ocml.analysis.clusters.cluster_table`)."""
        p, m = param, self.catalogue
        if not self.found:
            return [p("ocml_catalogued_in_table", ", ".join(self.catalogued), "meta.id", None,
                      "catalogued clusters the table holds (a row within r50 of the centre, "
                      "motion and parallax inside the table's ranges), richest first; empty: "
                      "none")]
        def value(offset: str) -> float:
            return float(getattr(m, offset)) if m is not None else np.nan
        return [
            p("ocml_match", m.entry.name if m is not None else "", "meta.id.cross", None,
              f"catalogue counterpart (empty: {NO_MATCH})"),
            p("ocml_match_catalogue", m.entry.source_of("pmra") if m is not None else "",
              "meta.ref", None, "catalogue of the counterpart's motion and parallax"),
            p("ocml_match_sep", value("separation"), "pos.angDistance", "deg",
              "separation of the members' centre from the counterpart's"),
            p("ocml_match_dpmra", value("d_pmra"), "arith.diff;pos.pm;pos.eq.ra",
              "mas/yr", "mean pmra minus the counterpart's"),
            p("ocml_match_dpmdec", value("d_pmdec"), "arith.diff;pos.pm;pos.eq.dec",
              "mas/yr", "mean pmdec minus the counterpart's"),
            p("ocml_match_dparallax", value("d_parallax"), "arith.diff;pos.parallax.trig",
              "mas", "mean parallax minus the counterpart's"),
            p("ocml_match_z_position", value("z_position"), "stat.value", None,
              "separation in units of the position scale (the counterpart's r50 with the "
              "found centre's error)"),
            p("ocml_match_z_pm", value("z_pm"), "stat.value", None,
              "proper-motion offset in combined sigma (larger axis)"),
            p("ocml_match_z_parallax", value("z_parallax"), "stat.value", None,
              "parallax offset in combined sigma"),
        ]


def _weighted_means(x: np.ndarray, err: np.ndarray | None,
                    p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means and standard errors of members' (n, 3) values, weighted P / (s² + e²).

    The intrinsic variance s² and the mean are the maximum-likelihood pair of a Gaussian
    convolved with each star's error (fixed-point iterations from the unweighted moments), so
    the best-measured members set s² and many faint ones cannot inflate it. Without errors the
    weights are the probabilities and the standard errors σ / √N_eff.
    """
    ok = np.all(np.isfinite(x), axis=1) & (p > 0)
    x, p = x[ok], p[ok]
    if len(x) < 2:
        return (x[0] if len(x) else np.full(3, np.nan)), np.full(3, np.nan)
    mean = np.average(x, axis=0, weights=p)
    s2 = np.average((x - mean) ** 2, axis=0, weights=p)
    if err is None:
        n_eff = p.sum() ** 2 / np.sum(p**2)
        return mean, np.sqrt(s2 / max(n_eff - 1.0, 1.0))
    e2 = err[ok] ** 2
    for _ in range(_ML_ITERATIONS):
        w = p[:, None] / np.maximum(s2 + e2, 1e-12)
        mean = np.sum(w * x, axis=0) / w.sum(axis=0)
        s2 = np.maximum(np.sum(w**2 * ((x - mean) ** 2 - e2), axis=0) / np.sum(w**2, axis=0), 0.0)
    w = p[:, None] / np.maximum(s2 + e2, 1e-12)
    return np.sum(w * x, axis=0) / w.sum(axis=0), 1.0 / np.sqrt(w.sum(axis=0))


#: fixed-point iterations of the members' mean and intrinsic spread
_ML_ITERATIONS = 50


def cluster_means(result: MembershipResult, astrometry: dict[str, np.ndarray],
                  threshold: float = MEMBER_THRESHOLD) -> tuple[np.ndarray, np.ndarray, str]:
    """The cluster's (pmra, pmdec, parallax) means, their standard errors, and how obtained.

    From the fitted model when the result carries its cluster mean and that mean's covariance
    (the radial mixture); otherwise from the members, weighted as in :func:`_weighted_means`.
    A named cluster whose free fit moved away and was refitted held at the named centroid
    (:func:`~vo_ocml.membership.mixture_step.refit_if_moved`) has the named means, without
    standard errors: they were not measured.
    """
    mixture = result.details.get("mixture", {}) if result.details else {}
    if mixture.get("fixed_mean") and "cluster_mean" in mixture:
        return np.asarray(mixture["cluster_mean"], float), np.full(3, np.nan), HELD.format(
            mixture.get("free_fit_offset_sigma", np.nan), mixture.get("free_fit_sky_offset", 0.0))
    if "cluster_mean" in mixture and "cluster_mean_cov" in mixture:
        cov = np.asarray(mixture["cluster_mean_cov"], float)
        return np.asarray(mixture["cluster_mean"], float), np.sqrt(np.diag(cov)), FITTED
    members = result.members(threshold)
    x = np.column_stack([astrometry[k][members] for k in ("pmra", "pmdec", "parallax")])
    keys = ("pmra_error", "pmdec_error", "parallax_error")
    err = np.column_stack([astrometry[k][members] for k in keys]) \
        if all(k in astrometry for k in keys) else None
    if err is not None:
        err = np.where(np.isfinite(err), err, np.nan)
        err = None if np.isnan(err).all() else np.where(np.isnan(err), np.nanmedian(err, 0), err)
    p = np.nan_to_num(result.probability[members])
    return (*_weighted_means(x, err, p), WEIGHTED)


def _fill(astrometry: dict[str, np.ndarray], ra: float, dec: float, r50: float) -> float:
    """r50 over the median distance of the table's rows from (ra, dec); warns from
    :data:`FILL_WARNING` up."""
    step = max(1, -(-len(astrometry["ra"]) // FILL_SAMPLE))
    sky_ra, sky_dec = astrometry["ra"][::step], astrometry["dec"][::step]
    ok = np.isfinite(sky_ra) & np.isfinite(sky_dec)
    spread = float(np.median(angular_distance(sky_ra[ok], sky_dec[ok], ra, dec))) \
        if ok.any() else 0.0
    fill = r50 / spread if spread > 0 else np.nan
    if fill >= FILL_WARNING:
        log.warning("%s (r50 = %.2f × the rows' median distance from its centre): a cone of "
                    "at least %g × r50 (an r50 the table cuts is a lower bound), e.g. vo-ocml "
                    "fetch --ra %.4f --dec %.4f --radius %.2f, or vo-ocml fetch NAME for a "
                    "catalogued cluster", FILL_ADVICE, fill, R50_FACTOR, ra, dec,
                    R50_FACTOR * r50)
    return fill


def summarize(result: MembershipResult, astrometry: dict[str, np.ndarray],
              threshold: float = MEMBER_THRESHOLD,
              parallax_zero_point: float | None = None) -> Summary:
    """Summarise a membership result.

    Parameters
    ----------
    result : MembershipResult
        The estimator's result.
    astrometry : dict of str to ndarray
        Canonical arrays ``ra``, ``dec``, ``pmra``, ``pmdec``, ``parallax`` (deg, mas/yr, mas),
        as from :meth:`vo_ocml.io.columns.ColumnMap.arrays`.
    threshold : float
        Membership threshold.
    parallax_zero_point : float, optional
        The zero-point already subtracted from the parallaxes (mas), to be stated.

    Returns
    -------
    Summary
    """
    members = result.members(threshold)
    n08 = int(np.sum(result.members(0.8)))
    (pmra, pmdec, plx), (pmra_se, pmdec_se, plx_se), how = cluster_means(
        result, astrometry, threshold)
    if not members.any():
        pmra = pmdec = plx = pmra_se = pmdec_se = plx_se = np.nan
    ra = dec = r50 = fill = np.nan
    if members.any():
        ra, dec = sky_centre(astrometry["ra"][members], astrometry["dec"][members])
        xy = tangent_plane(astrometry["ra"][members], astrometry["dec"][members], ra, dec)
        r50 = float(np.median(np.hypot(xy[:, 0], xy[:, 1])))
        fill = _fill(astrometry, ra, dec, r50)
    source = result.centroid.source if result.centroid is not None else "none (no cluster found)"
    return Summary(found=result.found, method=result.method, threshold=threshold,
                   n_members=int(members.sum()), n_p08=n08, pmra=pmra, pmra_se=pmra_se,
                   pmdec=pmdec, pmdec_se=pmdec_se, parallax=plx, parallax_se=plx_se,
                   ra=ra, dec=dec, r50=r50, centroid_source=source,
                   step_counts=dict(result.step_counts), means_from=how,
                   parallax_zero_point=parallax_zero_point, fill=fill,
                   rivals=str(result.details.get("competitors_modelled", "")))
