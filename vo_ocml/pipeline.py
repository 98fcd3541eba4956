"""The one core every shell calls: a table and options in, an annotated table and summary out.

``run`` resolves the table's columns (:mod:`vo_ocml.io.columns`), picks the centroid (user,
catalogue by name, or the data), fits the chosen estimator, and returns the input table --
every row and column unchanged and in order -- plus ``ocml_prob``, ``ocml_member``,
``ocml_stage`` (and method extras) and ``meta["ocml_params"]`` provenance. The input table
itself is never modified.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from typing import Any

import numpy as np
from astropy.table import Column, Table

from vo_ocml import __version__
from vo_ocml.analysis.clusters import (add_cluster_columns, cluster_table,
                                       name_clusters)
from vo_ocml.analysis.identification import catalogued_in_table, identify
from vo_ocml.analysis.summary import summarize
from vo_ocml.annotated import Annotated
from vo_ocml.catalog import ClusterEntry, lookup_cluster
from vo_ocml.errors import InputError
from vo_ocml.io.columns import CORRELATIONS, ColumnMap, resolve_columns
from vo_ocml.io.limits import screen
from vo_ocml.io.tables import param
from vo_ocml.membership import gaia_precision as precision
from vo_ocml.membership import estimator_class
from vo_ocml.membership.base import (ERROR_FEATURES, FEATURES, MEMBER_THRESHOLD, Centroid,
                                     MembershipResult, probability_step,
                                     step_param_name)
from vo_ocml.options import OPTIONS, RunOptions, method_defaults
from vo_ocml.membership.gaia_precision import GLOBAL_ZERO_POINT, nominal_errors
from vo_ocml.membership.result import R50_TOLERANCE
from vo_ocml.membership.sky import angular_distance, sky_extent

log = logging.getLogger(__name__)


OUTPUT_COLUMNS = {
    "prob": ("ocml_prob", "stat.probability", "membership probability (NaN: not scored)"),
    "member": ("ocml_member", "meta.code", "member: probability above the threshold"),
    "stage": ("ocml_stage", "meta.code.status",
              "processing stage reached or rejected at: incomplete, filter, mst, gmm, dec, "
              "quantile, no_cluster"),
}


def resolve_centroid(cluster: str | None = None,
                     centroid: tuple[float, float, float] | None = None,
                     position: tuple[float, float] | None = None,
                     r50: float | None = None) -> Centroid | None:
    """The centroid to filter around: the user's, else the catalogue's for ``cluster``.

    ``position`` (RA, Dec in deg) and ``r50`` (the half-number radius, deg) win over the
    catalogue's. Returns None when neither gives proper motion and parallax (the data decide).

    Raises
    ------
    NotFoundError
        ``cluster`` is not in the shipped catalogue (with suggestions).
    InputError
        ``centroid`` is not three finite numbers, or ``position`` or ``r50`` is given without
        a centroid or a catalogued one.
    """
    entry = lookup_cluster(cluster) if cluster else None
    known = {"ra": entry.ra, "dec": entry.dec} if entry is not None and \
        math.isfinite(entry.ra) and math.isfinite(entry.dec) else {}
    if position is not None:
        ra, dec = OPTIONS["position"].parse("position", position)
        known = {"ra": ra, "dec": dec}
    if entry is not None and math.isfinite(entry.r50) and entry.r50 > 0:
        known["r50"] = entry.r50
    if r50 is not None:
        known["r50"] = OPTIONS["r50"].parse("r50", r50)
    if centroid is not None:
        values = OPTIONS["centroid"].parse("centroid", centroid)
        return Centroid(*values, source="user", name=entry.name if entry else cluster, **known)
    values = (entry.pmra, entry.pmdec, entry.parallax) if entry is not None else (math.nan,)
    for given, what in ((position, "position"), (r50, "r50")):
        if given is not None and not all(math.isfinite(v) for v in values):
            raise InputError(f"{what} needs a centroid (pmra, pmdec, parallax) or a cluster with "
                             f"a catalogued one: a blind search finds the cluster's {what} "
                             "itself.")
    if entry is None:
        return None
    if not all(math.isfinite(v) for v in values):
        log.warning("%s (%s) has no catalogued proper motion and parallax; the cluster is "
                    "found in the data", entry.name, entry.catalogue)
        return None
    return catalogue_centroid(entry, **known)


def catalogue_centroid(entry: ClusterEntry, **known: float) -> Centroid:
    """A catalogued cluster's centroid (its spreads when all three are known); ``known``:
    ``ra``, ``dec``, ``r50`` to set."""
    spread = (entry.s_pmra, entry.s_pmdec, entry.s_parallax)
    return Centroid(entry.pmra, entry.pmdec, entry.parallax,
                    source=f"catalogue:{entry.catalogue}", name=entry.name,
                    spread=spread if all(math.isfinite(s) for s in spread) else None, **known)


def catalogued_seeds(arrays: dict[str, np.ndarray], named: Centroid | None
                    ) -> tuple[Centroid, ...]:
    """The catalogued clusters the table holds
    (:func:`~vo_ocml.analysis.identification.catalogued_in_table`), richest first, but the
    named one, as the known clusters of a run of several
    (:func:`~vo_ocml.membership.joint_seeds.known_seeds`)."""
    return tuple(catalogue_centroid(e, ra=e.ra, dec=e.dec, r50=e.r50)
                 for e in catalogued_in_table(arrays)
                 if named is None or e.name != named.name)


#: a named cluster whose centre lies this many half-member radii (r50) beyond the table's edge
#: is not in the table (a cluster's members thin out well within 3 r50)
OUTSIDE_R50 = 3.0
#: the margin beyond the table's edge, in degrees, when the catalogue gives no r50
OUTSIDE_MARGIN_DEG = 1.0


def check_cluster_on_table(cluster: str | None, ra: np.ndarray, dec: np.ndarray,
                           position: tuple[float, float] | None = None) -> None:
    """Refuse a named cluster whose position (``position``, else the catalogue's) lies outside
    the table's sky.

    Raises
    ------
    InputError
        The cluster's centre is more than :data:`OUTSIDE_R50` × r50 (the catalogue's, else
        :data:`OUTSIDE_MARGIN_DEG`) beyond the edge of the cone holding the table's positions;
        the message gives the angular distance.
    """
    entry = lookup_cluster(cluster) if cluster else None
    name, centre = (entry.name, (entry.ra, entry.dec)) if entry is not None else (cluster, None)
    if position is not None:
        name, centre = name or "The given position", tuple(position)
    if centre is None or not all(math.isfinite(v) for v in centre):
        return
    ra0, dec0, radius = sky_extent(ra, dec)
    if not math.isfinite(radius):
        return
    margin = OUTSIDE_R50 * entry.r50 if entry is not None and math.isfinite(entry.r50) \
        else OUTSIDE_MARGIN_DEG
    distance = float(angular_distance(ra0, dec0, *centre))
    if distance > radius + margin:
        raise InputError(
            f"{name} (ra {centre[0]:.2f}°, dec {centre[1]:.2f}°) is {distance:.1f}° from the "
            f"table's centre (ra {ra0:.2f}°, dec {dec0:.2f}°); the table covers {radius:.2g}° "
            "around it, so the cluster is not in this table. Check the cluster name, position "
            "or the table, or leave them out to find the cluster in the data.")


def _unique(table: Table, name: str) -> str:
    if name not in table.colnames:
        return name
    i = 2
    while f"{name}_{i}" in table.colnames:
        i += 1
    log.warning("the input already has a column %s; the new one is %s_%d", name, name, i)
    return f"{name}_{i}"


#: steps that count stars above a probability: the summary's ocml_n_members (threshold) and
#: ocml_n_p08 report them, so they get no ocml_n_<step> PARAM of their own
SUMMARY_STEPS = frozenset({"gmm", probability_step(0.5), probability_step(0.8)})


def _provenance(method: str, threshold: float, result: MembershipResult,
                cmap: ColumnMap) -> list[dict[str, Any]]:
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    params = [
        param("ocml_version", __version__, "meta.version", None, "vo_ocml version"),
        param("ocml_method", method, "meta.code", None, "membership method"),
        param("ocml_date", now, "time.creation", None, "when the membership was computed (UTC)"),
        param("ocml_threshold", float(threshold), "stat.probability", None,
               "probability above which ocml_member is true"),
        param("ocml_columns", cmap.describe(), "meta.ref", None,
               "input columns used (canonical=column (how found))"),
    ]
    for key, value in result.parameters.items():
        params.append(param(f"ocml_param_{key}", value, "meta.code", None,
                             f"{method} parameter {key}"))
    c = result.centroid
    if c is not None:
        params += [
            param("ocml_centroid_pmra", c.pmra, "pos.pm;pos.eq.ra", "mas/yr",
                   "the cluster's fitted centroid, pmra"),
            param("ocml_centroid_pmdec", c.pmdec, "pos.pm;pos.eq.dec", "mas/yr",
                   "the cluster's fitted centroid, pmdec"),
            param("ocml_centroid_parallax", c.parallax, "pos.parallax.trig", "mas",
                   "the cluster's fitted centroid, parallax"),
            param("ocml_centroid_source", c.source, "meta.ref", None,
                   "where the seed centroid came from: user, catalogue:<name> or data"),
            param("ocml_cluster_name", c.name or "", "meta.id", None, "cluster name, if known"),
        ]
    for key in ("seed", "filter_centre"):
        if key in result.details:
            params.append(param(f"ocml_{key}", [round(v, 5) for v in result.details[key]],
                                 "meta.note", None, f"{key.replace('_', ' ')} "
                                 "(pmra, pmdec in mas/yr; parallax in mas)"))
    for step, count in result.step_counts.items():
        if step not in SUMMARY_STEPS:
            params.append(param(step_param_name(step), int(count),
                                 "meta.number", None, f"stars after step {step}"))
    for key, value in result.details.items():
        if isinstance(value, str):
            params.append(param(f"ocml_{key}", value, "meta.note", None, key.replace("_", " ")))
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            params.append(param(f"ocml_{key}", int(value), "meta.number", None,
                                 key.replace("_", " ")))
        elif isinstance(value, (float, np.floating)):
            params.append(param(f"ocml_{key}", float(value), "meta.number", None,
                                 key.replace("_", " ")))
    return params


def annotate(table: Table, result: MembershipResult, threshold: float) -> tuple[Table, dict[str, str]]:
    """Copy ``table`` (no data copied) and append the output columns of ``result``."""
    out = table.copy(copy_data=False)
    names = {}
    members = result.members(threshold)
    values = {"prob": result.probability.astype(np.float64), "member": members,
              "stage": np.asarray(result.stage, dtype=str)}
    for key, (name, ucd, description) in OUTPUT_COLUMNS.items():
        names[key] = _unique(out, name)
        col = Column(values[key], name=names[key], description=description)
        col.meta["ucd"] = ucd
        out.add_column(col)
    for name, data in result.extra_columns.items():
        col = Column(data, name=_unique(out, name), description=f"{result.method} output {name}")
        col.meta["ucd"] = "meta.code"
        out.add_column(col)
    return out, names


def _photometry_and_correlations(cmap: ColumnMap, arrays: dict[str, np.ndarray],
                                 errors: np.ndarray | None) -> dict[str, np.ndarray]:
    """G, BP−RP, and Gaia's error correlations when the errors are the table's."""
    extra = {}
    if cmap.has("phot_g_mean_mag"):
        extra["magnitude"] = arrays["phot_g_mean_mag"]
    if cmap.has("bp_rp"):
        extra["colour"] = arrays["bp_rp"]
    if errors is not None and all(cmap.has(c) for c in CORRELATIONS):
        extra["correlations"] = np.column_stack([arrays[c] for c in CORRELATIONS])
    return extra


def _zero_point(value: float | str | None) -> float | None:
    """The parallax zero-point to subtract (mas), or None ("global": Lindegren et al. 2021)."""
    return GLOBAL_ZERO_POINT if value == "global" else value


def run(table: Table, *, method: str = "mstgmm", cluster: str | None = None,
        centroid: tuple[float, float, float] | None = None,
        position: tuple[float, float] | None = None, r50: float | None = None,
        threshold: float = MEMBER_THRESHOLD,
        columns: dict[str, str] | None = None, random_state: int | None = 0,
        parallax_zero_point: float | str | None = None, error_scale: float = 1.0,
        catalogue_seeds: bool = True, **method_params: Any) -> Annotated:
    """Annotate a table of stars with membership probabilities.

    Parameters
    ----------
    table : astropy.table.Table
        Any table with positions, proper motions and parallaxes (Gaia archive or VizieR
        names, or UCDs); never modified.
    method : {"mstgmm", "dec"}
        Membership method.
    cluster : str, optional
        Cluster name, looked up in the shipped catalogue for the centroid.
    centroid : (pmra, pmdec, parallax), optional
        Explicit centroid in mas/yr and mas; wins over ``cluster``.
    position : (ra, dec), optional
        The cluster's sky position (ICRS, deg), with ``centroid`` or ``cluster``; wins over
        the catalogue's. A fit that moves away from a named position (beyond its own
        half-number radius) or centroid is refitted held there.
    r50 : float, optional
        The cluster's half-number radius (deg) as a catalogue lists it, with ``centroid`` or
        ``cluster``; wins over the catalogue's. The fitted profile's half-number radius is kept
        below :data:`~vo_ocml.membership.result.R50_TOLERANCE` times it (``mstgmm``).
    threshold : float
        Probability above which a star is a member (0 ≤ threshold < 1; see
        :func:`vo_ocml.membership.base.is_member`).
    columns : dict, optional
        Canonical quantity → column name overrides (e.g. ``{"parallax": "plx_corr"}``).
    random_state : int or None
        Seed for every random step.
    parallax_zero_point : float or "global", optional
        Subtract this Gaia parallax zero-point (mas) from every parallax before anything else
        (the table itself is untouched); "global" is Lindegren et al. (2021)'s −0.017 mas.
        Default: not applied (the provenance and summary say so).
    error_scale : float
        Multiply every pmra, pmdec and parallax error (the table's, or the nominal ones from
        G) by this factor before fitting (the table itself is untouched): Gaia EDR3's
        parallax uncertainties are up to ~30 % too small brighter than G ≈ 18 and about right
        fainter (El-Badry, Rix & Heintz 2021, MNRAS 506, 2269). Default 1: as stated.
    catalogue_seeds : bool
        Pass the catalogued clusters the table holds to the estimator (its
        ``known_clusters``): a single-cluster run of ``mstgmm`` fits beside its cluster those
        whose stars its own fit took (:func:`~vo_ocml.membership.joint.rivals`) and reports its
        cluster alone; a run of several (``clusters`` "all" or N > 1; ``mstgmm`` and ``dec``)
        adds those its blind detection did not find. The joint mixture keeps only those it
        confirms.
    **method_params
        Passed to the estimator (see :class:`~vo_ocml.membership.mstgmm.MSTGMM`,
        :class:`~vo_ocml.membership.dec.DEC`). When the table has no pm/parallax error columns
        but has G, nominal Gaia EDR3 errors for each star's G are used
        (:mod:`vo_ocml.membership.gaia_precision`) and the provenance says so.

    Returns
    -------
    Annotated

    Raises
    ------
    InputError, NotFoundError
        Bad table, columns, options or cluster name, with a message saying what to change.
        Options are checked by :class:`vo_ocml.options.RunOptions`, as in every shell.
    """
    options = RunOptions().updated({
        "method": method, "cluster": cluster, "centroid": centroid, "position": position,
        "r50": r50, "threshold": threshold,
        "columns": columns, "random_state": random_state,
        "parallax_zero_point": parallax_zero_point, "error_scale": error_scale,
        "catalogue_seeds": catalogue_seeds, **method_params})
    method, cluster, centroid = options.method, options.cluster, options.centroid
    threshold, columns, random_state = options.threshold, options.columns, options.random_state
    if len(table) == 0:
        raise InputError("The table has no rows: there are no stars to classify.")
    cls = estimator_class(method)
    cmap = resolve_columns(table, columns)
    arrays, implausible = screen(cmap.arrays(table), len(table))
    if implausible.count:
        log.warning("%d row(s) hold physically impossible values (%s); they are treated as "
                    "incomplete", implausible.count, implausible.describe())
    check_cluster_on_table(cluster, arrays["ra"], arrays["dec"], options.position)
    zero_point = _zero_point(options.parallax_zero_point)
    if zero_point is not None:
        arrays["parallax"] = arrays["parallax"] - zero_point
    if options.error_scale != 1.0:
        for e in ERROR_FEATURES:
            if e in arrays:
                arrays[e] = arrays[e] * options.error_scale
    X = np.column_stack([arrays[f] for f in FEATURES])
    errors, error_source = None, "none (no error columns, no G magnitude)"
    if all(cmap.has(e) for e in ERROR_FEATURES):
        errors, error_source = np.column_stack([arrays[e] for e in ERROR_FEATURES]), "table"
    elif cmap.has("phot_g_mean_mag"):
        errors = options.error_scale * nominal_errors(arrays["phot_g_mean_mag"])
        error_source = precision.CITATION
    else:
        log.warning("the table has no error columns (%s) and no G magnitude to estimate them "
                    "from: each member's error is taken as unknown, one of Gaia's levels from "
                    "none to G 21's (vo_ocml.membership.unknown_errors), and the probabilities "
                    "are less sharp than the errors would make them; add the error columns or "
                    "phot_g_mean_mag", ", ".join(ERROR_FEATURES))
    named = resolve_centroid(cluster, centroid, options.position, options.r50)
    params = dict(options.params)
    if options.catalogue_seeds and "known_clusters" in method_defaults(method):
        params["known_clusters"] = catalogued_seeds(arrays, named)
    estimator = cls(centroid=named, random_state=random_state, **params)
    estimator.fit(X, errors=errors, **_photometry_and_correlations(
        cmap, arrays, errors if error_source == "table" else None))
    result: MembershipResult = estimator.result_
    out, names = annotate(table, result, threshold)
    summary = summarize(result, arrays, threshold, parallax_zero_point=zero_point)
    clusters = name_clusters(result, arrays, threshold, summary) if result.clusters else []
    if clusters:
        add_cluster_columns(out, result, clusters, threshold, _unique)
        out.meta["ocml_clusters"] = cluster_table(clusters)
    else:  # a joint run's clusters are named in its summary table
        summary = identify(summary, named, arrays)
    out.meta["ocml_params"] = [
        *_provenance(method, threshold, result, cmap),
        param("ocml_parallax_zero_point", "not applied" if zero_point is None else zero_point,
              "pos.parallax.trig;arith.zp", None if zero_point is None else "mas",
              "Gaia parallax zero-point subtracted before fitting (Lindegren et al. 2021, "
              f"A&A 649, A4; global {GLOBAL_ZERO_POINT} mas; the full recipe needs "
              "nu_eff_used_in_astrometry, pseudocolour, ecl_lat, astrometric_params_solved)"),
        param("ocml_errors", error_source, "meta.note", None,
               "where the pmra, pmdec, parallax errors used came from"),
        param("ocml_error_scale", options.error_scale, "arith.factor", None,
              "factor applied to those errors before fitting"),
        param("ocml_named_position", "none" if named is None or named.ra is None else
              [named.ra, named.dec], "pos.eq", None if named is None or named.ra is None
              else "deg", "the sky position (ra, dec) the cluster was named at (--position or "
              "the catalogue's); a fit that leaves it is refitted held there"),
        param("ocml_named_r50", "none" if named is None or named.r50 is None else named.r50,
              "phys.angSize", None if named is None or named.r50 is None else "deg",
              "the half-number radius the cluster was named with (--r50 or the catalogue's); "
              f"the fitted profile's is kept below {R50_TOLERANCE:g} times it (mstgmm)"),
        param("ocml_n_implausible", implausible.count, "meta.number", None,
               "rows with a physically impossible value (vo_ocml.io.limits), kept as incomplete"),
        *summary.as_params()]
    return Annotated(table=out, result=result, summary=summary, columns=cmap, names=names,
                     threshold=float(threshold), clusters=clusters)
