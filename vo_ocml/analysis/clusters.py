"""Every cluster of a joint run: names from the catalogue, per-cluster columns and summary table.

For a run that modelled several clusters (``MembershipResult.clusters``), each cluster is
summarised like a single-cluster run (:func:`~vo_ocml.analysis.summary.summarize` on its own
probability column) and named: the user's name for the named cluster, else its catalogue
counterpart (:func:`vo_ocml.catalog.match.match_cluster`), else ``candidate_<i>`` in order of
significance. The output table gains

- ``ocml_cluster``: the cluster a member belongs to (its name; empty for field stars), and
- ``ocml_prob_<name>``: one probability column per cluster (``ocml_prob_NGC_7790``),

and the summary table (:func:`cluster_table`, one row per cluster: centre, means ± SE, N, r50,
significance, catalogue match and offsets) travels in ``table.meta["ocml_clusters"]``, written
as a second TABLE of the VOTable RESOURCE.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from astropy.table import Column, Table

from vo_ocml.analysis.summary import Summary, summarize
from vo_ocml.catalog.match import (KINEMATIC_TOLERANCE, POSITION_TOLERANCE, CatalogueMatch,
                                   column_label, match_cluster)
from vo_ocml.membership.result import ClusterFound, MembershipResult

#: the per-cluster membership column: ``ocml_cluster``
CLUSTER_COLUMN = "ocml_cluster"
#: prefix of the per-cluster probability columns
PROB_PREFIX = "ocml_prob_"


@dataclass
class ClusterSummary:
    """One cluster of a joint run, named and summarised.

    Attributes
    ----------
    name : str
        Its name: the user's, the catalogue's, or ``candidate_<i>``.
    label : str
        The name as used in column names (``NGC_7790``).
    found : ClusterFound
        What the estimator found (fitted centroid, significance).
    summary : Summary
        Its members' numbers (as a single-cluster run's summary).
    match : CatalogueMatch or None
        Its catalogue counterpart and the offsets.
    """

    name: str
    label: str
    found: ClusterFound
    summary: Summary
    match: CatalogueMatch | None

    @property
    def column(self) -> str:
        """Its probability column's name."""
        return PROB_PREFIX + self.label


def name_clusters(result: MembershipResult, astrometry: dict[str, np.ndarray],
                  threshold: float, first: Summary | None = None) -> list[ClusterSummary]:
    """Summarise and name every cluster of a joint run (empty for a single-cluster run).

    ``first``: the first cluster's summary when it is already made (the run's own, by
    :func:`~vo_ocml.analysis.summary.summarize`), so that its warnings are not logged twice.
    """
    out: list[ClusterSummary] = []
    taken: list[str] = []
    n_candidates = 0
    for k, found in enumerate(result.clusters):
        # the fitted means in ``details`` are the first cluster's (a single-model fit)
        single = dataclasses.replace(result, probability=result.cluster_probability[:, k],
                                     centroid=found.centroid, step_counts={},
                                     details=result.details if k == 0 else {})
        s = first if k == 0 and first is not None else summarize(single, astrometry, threshold)
        ra, dec = (s.ra, s.dec) if math.isfinite(s.ra) else (found.centroid.ra, found.centroid.dec)
        match = match_cluster(ra, dec, s.pmra if math.isfinite(s.pmra) else found.centroid.pmra,
                              s.pmdec if math.isfinite(s.pmdec) else found.centroid.pmdec,
                              s.parallax if math.isfinite(s.parallax)
                              else found.centroid.parallax,
                              s.r50, (s.pmra_se, s.pmdec_se, s.parallax_se), exclude=tuple(taken),
                              n_members=int(s.n_members))
        if k == 0 and found.centroid.name:
            name = found.centroid.name
        elif match is not None:
            name = match.entry.name
        else:
            n_candidates += 1
            name = f"candidate_{n_candidates}"
        taken.append(match.entry.name if match is not None else name)
        label = column_label(name)
        while label in {c.label for c in out}:
            label += "_2"
        out.append(ClusterSummary(name, label, found, s, match))
    return out


def add_cluster_columns(table: Table, result: MembershipResult, clusters: list[ClusterSummary],
                        threshold: float, unique) -> None:
    """Append ``ocml_cluster`` and the ``ocml_prob_<name>`` columns to ``table`` (in place).

    ``unique(table, name)`` gives a free column name.
    """
    P = result.cluster_probability
    K = len(clusters)
    scored = np.nan_to_num(P[:, :K], nan=-1.0)
    best = np.argmax(scored, axis=1)
    p_best = np.take_along_axis(scored, best[:, None], 1)[:, 0]
    labels = np.array([c.name for c in clusters] + [""])  # fixed-width str: no per-row objects
    which = np.where(p_best > threshold, best, K)
    col = Column(labels[which], name=unique(table, CLUSTER_COLUMN),
                 description="the cluster a member belongs to (its most probable cluster, "
                             f"when that probability is above {threshold:g}); empty: field")
    col.meta["ucd"] = "meta.id"
    table.add_column(col)
    for k, c in enumerate(clusters):
        col = Column(P[:, k], name=unique(table, c.column),
                     description=f"probability of membership of {c.name} (NaN: not scored)")
        col.meta["ucd"] = "stat.probability"
        table.add_column(col)


def cluster_table(clusters: list[ClusterSummary]) -> Table:
    """The summary table: one row per cluster, with units, UCDs and descriptions."""
    def f(x):
        return float(x) if x is not None and math.isfinite(x) else np.nan

    rows = []
    for c in clusters:
        s, m = c.summary, c.match
        rows.append((
            c.name, c.column, f(s.ra), f(s.dec), f(s.pmra), f(s.pmra_se), f(s.pmdec),
            f(s.pmdec_se), f(s.parallax), f(s.parallax_se), int(s.n_members), int(s.n_p08),
            f(s.r50), f(c.found.significance), c.found.centroid.source, f(c.found.centroid.pmra),
            f(c.found.centroid.pmdec), f(c.found.centroid.parallax),
            m.entry.name if m else "", m.entry.catalogue if m else "",
            f(m.separation) if m else np.nan, f(m.d_pmra) if m else np.nan,
            f(m.d_pmdec) if m else np.nan, f(m.d_parallax) if m else np.nan,
            f(m.z_position) if m else np.nan, f(m.z_pm) if m else np.nan,
            f(m.z_parallax) if m else np.nan))
    spec = [
        ("name", None, "meta.id;meta.main", "cluster name (catalogue, user, or candidate_<i>)"),
        ("prob_column", None, "meta.id", "its probability column in the main table"),
        ("ra", "deg", "pos.eq.ra", "members' centre"), ("dec", "deg", "pos.eq.dec", "members' centre"),
        ("pmra", "mas/yr", "pos.pm;pos.eq.ra;stat.mean", "members' mean"),
        ("pmra_se", "mas/yr", "stat.error;pos.pm;pos.eq.ra", "its standard error"),
        ("pmdec", "mas/yr", "pos.pm;pos.eq.dec;stat.mean", "members' mean"),
        ("pmdec_se", "mas/yr", "stat.error;pos.pm;pos.eq.dec", "its standard error"),
        ("parallax", "mas", "pos.parallax.trig;stat.mean", "members' mean"),
        ("parallax_se", "mas", "stat.error;pos.parallax.trig", "its standard error"),
        ("n_members", None, "meta.number", "stars with probability above the threshold"),
        ("n_p08", None, "meta.number", "stars with probability above 0.8"),
        ("r50", "deg", "phys.angSize", "median distance of members from the centre"),
        ("significance", None, "stat.value", "sigma: the blind detection's (global) for a "
         "cluster found in the data, the local excess where catalogued (one trial) for one "
         "seeded from the catalogue; NaN for the named cluster"),
        ("seeded_from", None, "meta.ref", "where its fit started: data (the blind "
         "detection), user (a given centroid), catalogue:<catalogue> (the named cluster, or a "
         "catalogued one the table holds)"),
        ("fit_pmra", "mas/yr", "pos.pm;pos.eq.ra", "the mixture's fitted mean at the centre"),
        ("fit_pmdec", "mas/yr", "pos.pm;pos.eq.dec", "the mixture's fitted mean at the centre"),
        ("fit_parallax", "mas", "pos.parallax.trig", "the mixture's fitted mean"),
        ("match", None, "meta.id.cross", "catalogue counterpart (empty: none within "
         f"{POSITION_TOLERANCE:g} x the catalogue r50 (with the found centre's error) and "
         f"{KINEMATIC_TOLERANCE:g} sigma)"),
        ("match_catalogue", None, "meta.ref", "catalogue of the counterpart"),
        ("match_sep", "deg", "pos.angDistance", "separation from the counterpart's centre"),
        ("match_dpmra", "mas/yr", "arith.diff;pos.pm;pos.eq.ra", "pmra minus the counterpart's"),
        ("match_dpmdec", "mas/yr", "arith.diff;pos.pm;pos.eq.dec",
         "pmdec minus the counterpart's"),
        ("match_dparallax", "mas", "arith.diff;pos.parallax.trig",
         "parallax minus the counterpart's"),
        ("match_z_position", None, "stat.value", "separation in units of the position scale "
         "(the catalogue r50 with the found centre's error)"),
        ("match_z_pm", None, "stat.value", "pm offset in combined sigma (larger axis)"),
        ("match_z_parallax", None, "stat.value", "parallax offset in combined sigma"),
    ]
    names = [s[0] for s in spec]
    table = Table(rows=rows, names=names) if rows else Table(names=names, dtype=[
        str, str, *[float] * 8, int, int, *[float] * 2, str, *[float] * 3, str, str,
        *[float] * 7])
    for name, unit, ucd, description in spec:
        table[name].unit = unit
        table[name].description = description
        table[name].meta["ucd"] = ucd
    table.meta["name"] = "ocml_clusters"
    table.meta["description"] = "every cluster of the joint membership run, with its catalogue match"
    return table


def format_clusters(clusters: list[ClusterSummary]) -> str:
    """One line per cluster for the terminal: name, N, means, r50, significance, match."""
    lines = [f"{'cluster':<16} {'N':>5} {'pmra':>7} {'pmdec':>7} {'plx':>6} {'r50′':>5} "
             f"{'sigma':>5}  catalogue match (offsets)"]
    for c in clusters:
        s, m = c.summary, c.match
        match = "—" if m is None else (
            f"{m.entry.name}: {60 * m.separation:.1f}′, Δpm ({m.d_pmra:+.2f}, {m.d_pmdec:+.2f}) "
            f"mas/yr, Δplx {m.d_parallax:+.3f} mas")
        lines.append(f"{c.name:<16} {s.n_members:>5} {s.pmra:>7.3f} {s.pmdec:>7.3f} "
                     f"{s.parallax:>6.3f} {60 * s.r50:>5.1f} {c.found.significance:>5.1f}  "
                     f"{match}")
    return "\n".join(lines)
