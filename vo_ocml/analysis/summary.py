"""The numbers a membership run is judged by, like the source studies' tables.

Members are the stars with probability above the threshold (default 0.5). Means are plain
means over members with standard errors σ/√N; the centre is the members' mean direction and
r50 the median angular distance of members from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vo_ocml.io.tables import param
from vo_ocml.membership.base import MEMBER_THRESHOLD, MembershipResult
from vo_ocml.membership.sky import sky_centre, tangent_plane


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
    centroid_source : str
        Where the filter's centroid came from ("data", "user", "catalogue:…").
    step_counts : dict
        Star counts per step.
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

    def as_rows(self) -> list[tuple[str, str]]:
        """(label, value) rows for printing or an HTML table."""
        def pm(x, se, unit):
            return f"{x:.3f} ± {se:.3f} {unit}" if np.isfinite(x) else "—"
        rows = [
            ("method", self.method),
            ("cluster found", "yes" if self.found else "no"),
            ("centroid from", self.centroid_source),
            (f"members (P > {self.threshold:g})", str(self.n_members)),
            ("members (P > 0.8)", str(self.n_p08)),
            ("pmra", pm(self.pmra, self.pmra_se, "mas/yr")),
            ("pmdec", pm(self.pmdec, self.pmdec_se, "mas/yr")),
            ("parallax", pm(self.parallax, self.parallax_se, "mas")),
            ("centre (ra, dec)", f"{self.ra:.5f}, {self.dec:.5f} deg" if np.isfinite(self.ra) else "—"),
            ("r50", f"{self.r50 * 60:.2f} arcmin" if np.isfinite(self.r50) else "—"),
        ]
        steps = " → ".join(f"{k} {v}" for k, v in self.step_counts.items())
        rows.append(("steps", steps))
        return rows

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
              "members' mean parallax"),
            p("ocml_mean_parallax_se", self.parallax_se, "stat.error;pos.parallax.trig", "mas",
              "standard error of the members' mean parallax"),
            p("ocml_centre_ra", self.ra, "pos.eq.ra", "deg", "members' centre, right ascension"),
            p("ocml_centre_dec", self.dec, "pos.eq.dec", "deg", "members' centre, declination"),
            p("ocml_r50", self.r50, "phys.angSize", "deg",
              "median distance of members from the centre"),
        ]


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return np.nan, np.nan
    se = float(np.std(x, ddof=1) / np.sqrt(len(x))) if len(x) > 1 else np.nan
    return float(np.mean(x)), se


def summarize(result: MembershipResult, astrometry: dict[str, np.ndarray],
              threshold: float = MEMBER_THRESHOLD) -> Summary:
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

    Returns
    -------
    Summary
    """
    members = result.members(threshold)
    n08 = int(np.sum(result.members(0.8)))
    pmra, pmra_se = _mean_se(astrometry["pmra"][members])
    pmdec, pmdec_se = _mean_se(astrometry["pmdec"][members])
    plx, plx_se = _mean_se(astrometry["parallax"][members])
    ra = dec = r50 = np.nan
    if members.any():
        ra, dec = sky_centre(astrometry["ra"][members], astrometry["dec"][members])
        xy = tangent_plane(astrometry["ra"][members], astrometry["dec"][members], ra, dec)
        r50 = float(np.median(np.hypot(xy[:, 0], xy[:, 1])))
    source = result.centroid.source if result.centroid is not None else "none (no cluster found)"
    return Summary(found=result.found, method=result.method, threshold=threshold,
                   n_members=int(members.sum()), n_p08=n08, pmra=pmra, pmra_se=pmra_se,
                   pmdec=pmdec, pmdec_se=pmdec_se, parallax=plx, parallax_se=plx_se,
                   ra=ra, dec=dec, r50=r50, centroid_source=source,
                   step_counts=dict(result.step_counts))
