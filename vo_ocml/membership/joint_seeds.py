"""The clusters a several-cluster run seeds: the blind detection's candidates and the known ones.

:func:`measured_seeds` measures the detection's significant candidates beside the first
cluster; :func:`known_seeds` adds the known clusters (``known_clusters`` of
:class:`~vo_ocml.membership.mstgmm.MSTGMM`: ``vo_ocml.run`` passes the catalogued clusters the
table holds) that stand out where they are known and are none of those, and
:func:`left_where_known` tells a joint fit that did not confirm one there. Used by
:mod:`vo_ocml.membership.joint` (and :mod:`vo_ocml.membership.dec_multi`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vo_ocml.errors import InputError
from vo_ocml.membership import mixture_step
from vo_ocml.membership.centroid import best_measured, measure_cluster
from vo_ocml.membership.detection import Detection
from vo_ocml.membership.detection_cells import log_p_upper, sigma_from_log_p
from vo_ocml.membership.joint_groups import moved
from vo_ocml.membership.joint_mixture import JointMixtureFit
from vo_ocml.membership.outskirts import OUTSKIRTS_LR
from vo_ocml.membership.result import Centroid
from vo_ocml.membership.scope import DEFAULT_SPREAD
from vo_ocml.membership.sky import tangent_plane
from vo_ocml.membership.sky_prior import Footprint, plummer_profile
from vo_ocml.membership.unknown_errors import stand_in

#: two seeds closer than this many combined observed spreads on every kinematic axis (and on
#: the sky within their detection windows) are one cluster
SAME_CLUSTER = 2.0
#: a neighbour's measured spread may grow to at most this many times its detection's scale:
#: the detection's kinematic scales step by this factor (detection_cells.KINEMATIC_SCALES),
#: so a cluster wider than that would have been found in the next, wider cells; a fit that
#: grows more has taken in the local field
NEIGHBOUR_GROWTH = 2.0
#: a known cluster (``known_clusters``: e.g. a catalogued one) is measured on the stars within
#: this many of its r50 of its centre, and is the same cluster as a seed within that box: the
#: catalogue match's position tolerance (:data:`vo_ocml.catalog.match.POSITION_TOLERANCE`)
KNOWN_WINDOW_R50 = 2.0
#: a known cluster's excess where it is known is measured against the stars in the ring from
#: KNOWN_WINDOW_R50 to this many r50 around it: a local field (crowded frames vary across the
#: sky) of 32 times the area of the disc tested, so the field's count is known to a few percent
KNOWN_FIELD_R50 = 6.0
#: at most this many known clusters (the first given: the catalogue's richest) are tested per
#: cluster the run may still add: each test scans the stars around it (0.1 s in a 2,000,000-
#: row cone), and a catalogue lists dozens in a plane field of a few degrees, most of them poor
#: and not seen at the table's depth (`bench/multi_cluster.py --speed`: 61 of 62)
KNOWN_TRIES_PER_SLOT = 2
#: the run's facts name at most this many known clusters that were not seeded
MAX_LISTED_KNOWN = 10
#: a known cluster's intrinsic spreads start no smaller than this (mas/yr, mas/yr, mas), as a
#: named cluster's do (:meth:`~vo_ocml.membership.seeding.CandidateSeeds._seed`)
MIN_KNOWN_SPREAD = 0.05
#: a known cluster is confirmed only if its members crowd where it is known: a Plummer profile
#: of its known r50 at its known centre (no free parameter) beats the field's sky density by
#: this likelihood ratio over them (2 Σ P Δ log ρ; P(ratio ≥ k | field) ≤ 1/k, so p ≤
#: exp(−ratio / 2)), the 3σ level of the single model's test of a field Gaussian's stars
#: (:data:`~vo_ocml.membership.outskirts.OUTSKIRTS_LR`); a blind candidate has passed the
#: detection's significance instead
KNOWN_CROWDING_LR = OUTSKIRTS_LR


@dataclass
class Seed:
    """One cluster to fit: kinematic centre, spreads, sky target, where it came from.

    ``window`` is the half-size (deg) of the sky box it was found in (inf: unknown); ``r50``
    the half-number radius (deg) a catalogue lists for a named cluster (None: unknown), which
    bounds its profile's (:func:`~vo_ocml.membership.mixture_step.max_half_radius`).
    ``known`` marks a known cluster other than the primary (:func:`known_seeds`), whose fit
    must stay where it is known (``given_spread``: its centroid's own spread, when known;
    ``window``: :data:`KNOWN_WINDOW_R50` × r50).
    """

    centre: np.ndarray
    observed: np.ndarray
    intrinsic: np.ndarray
    sky: np.ndarray
    significance: float
    source: str
    name: str | None = None
    window: float = np.inf
    detection: Detection | None = None
    details: dict[str, Any] = field(default_factory=dict)
    r50: float | None = None
    known: bool = False
    given_spread: tuple[float, float, float] | None = None


def seed_label(seed: Seed) -> str:
    """How a dropped seed is named: its name and source, else where it was found."""
    where = (f"pm ({seed.centre[0]:.2f}, {seed.centre[1]:.2f}), parallax "
             f"{seed.centre[2]:.3f}")
    return f"{seed.name} ({seed.source}, at {where})" if seed.name else f"candidate at {where}"


def same_cluster(a: Seed, b: Seed) -> bool:
    """Whether two seeds are one cluster: within :data:`SAME_CLUSTER` combined observed spreads
    on every kinematic axis and, when either has a sky window, inside the smaller one."""
    reach = SAME_CLUSTER * np.sqrt(a.observed**2 + b.observed**2)
    if not np.all(np.abs(a.centre - b.centre) <= reach):
        return False
    window = min(a.window, b.window)
    return not np.isfinite(window) or bool(np.all(np.abs(a.sky - b.sky) <= window))


def neighbours(candidates: list[Detection], min_significance: float,
               but: Detection | None = None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Kinematic centres and spreads (m, 3) of the significant candidates other than ``but``
    (the one being measured); None: none."""
    found = [d for d in candidates if d.significance >= min_significance and d is not but]
    if not found:
        return None, None
    return np.array([d.centre for d in found]), np.array([d.scale for d in found])


def measured_seeds(kin: np.ndarray, err: np.ndarray | None, sky: np.ndarray, primary: Seed,
                   candidates: list[Detection], *, max_clusters: int, min_significance: float,
                   sky_window: float, velocity_dispersion: float,
                   random_state: int | None) -> list[Seed]:
    """The primary seed and the other significant candidates, measured, without duplicates."""
    seeds = [primary]
    good_all = best_measured(err, len(kin))
    for det in candidates:
        if len(seeds) >= max_clusters:
            break
        if det.significance < min_significance or det is primary.detection:
            continue
        good = good_all
        window = np.inf
        if det.sky_centre is not None:
            window = sky_window * det.sky_scale
            near = np.all(np.abs(sky[good] - det.sky_centre) <= window, axis=1)
            if near.sum() >= 10:
                good = good[near]
        others = [primary.centre], [primary.observed]
        for o in candidates:
            if o is not det and o is not primary.detection and o.significance >= min_significance:
                others[0].append(o.centre)
                others[1].append(o.scale)
        fit = measure_cluster(kin[good], None if err is None else err[good], det.centre,
                              det.scale, random_state=random_state,
                              velocity_dispersion=velocity_dispersion,
                              others=np.array(others[0]), others_spread=np.array(others[1]),
                              max_growth=NEIGHBOUR_GROWTH)
        if fit is None:
            continue
        seed = Seed(fit.centre, fit.observed_spread, fit.intrinsic_spread,
                    det.sky_centre if det.sky_centre is not None else primary.sky,
                    det.significance, "data", window=window, detection=det)
        if not any(same_cluster(seed, s) for s in seeds):
            seeds.append(seed)
    return seeds


def known_excess(kin: np.ndarray, err: np.ndarray, sky: np.ndarray, footprint: Footprint,
                 centre: np.ndarray, spread: np.ndarray, target: np.ndarray, r50: float,
                 nsigma: float, beside: np.ndarray | None = None) -> tuple[float, int]:
    """How much a known cluster stands out where it is known.

    Counts the stars within its r50 of ``target`` whose motion and parallax lie within
    ``nsigma`` × (``spread`` ⊕ their errors ``err``, (n, 3)) of ``centre``, against the same
    window's stars in the ring from :data:`KNOWN_WINDOW_R50` to :data:`KNOWN_FIELD_R50` × r50,
    scaled by the areas inside the footprint.

    ``beside``: the sky centre of another cluster whose members the window may hold (a single
    run's cluster, :func:`~vo_ocml.membership.joint.rivals`). Its members crowd towards
    its centre, not towards the known one, so the count must also stand out against the
    window's stars at the same distance from that centre: the annulus around ``beside`` one
    r50 either side of the known cluster's distance, less the disc of
    :data:`KNOWN_WINDOW_R50` × r50 around it. The lesser of the two significances is returned.

    Returns
    -------
    (float, int)
        The Poisson significance of the count (σ, one trial; NaN when the footprint holds less
        of a comparison region than of the disc: too little field to compare, e.g. a cluster
        as large as the table, or one on top of ``beside``), and the count.
    """
    to_target = np.hypot(*(sky - target).T)
    near = to_target <= KNOWN_FIELD_R50 * r50
    if beside is not None:
        distance = float(np.hypot(*(target - beside)))
        to_beside = np.abs(np.hypot(*(sky - beside).T) - distance) <= r50
        near |= to_beside
    rows = np.flatnonzero(near)
    width = nsigma * np.sqrt(spread**2 + err[rows] ** 2)
    alike = rows[np.all(np.abs(kin[rows] - centre) <= width, axis=1)]
    r = to_target[alike]
    inside = int(np.sum(r <= r50))
    inner = footprint.disc_area(target, r50)
    areas = [footprint.disc_area(target, KNOWN_FIELD_R50 * r50)
             - footprint.disc_area(target, KNOWN_WINDOW_R50 * r50)]
    counts = [np.sum((r > KNOWN_WINDOW_R50 * r50) & (r <= KNOWN_FIELD_R50 * r50))]
    if beside is not None:
        areas.append(footprint.annulus_area(beside, max(distance - r50, 0.0), distance + r50,
                                            (target, KNOWN_WINDOW_R50 * r50)))
        counts.append(np.sum(to_beside[alike] & (r > KNOWN_WINDOW_R50 * r50)))
    if inner <= 0 or min(areas) < inner:
        return np.nan, inside
    expected = np.array([c * inner / a for c, a in zip(counts, areas)])
    sigma = sigma_from_log_p(log_p_upper(np.full(len(expected), inside), expected))
    return float(np.min(sigma)), inside


def known_seeds(kin: np.ndarray, err: np.ndarray | None, sky: np.ndarray, seeds: list[Seed],
                known: tuple[Centroid, ...], origin: tuple[float, float], *, max_clusters: int,
                min_significance: float, min_members: int, nsigma: float,
                velocity_dispersion: float, random_state: int | None,
                beside: np.ndarray | None = None) -> tuple[list[Seed], list[str]]:
    """``seeds`` and the known clusters that are none of them, at most ``max_clusters`` in all;
    why the others were not seeded.

    Known clusters are tried in turn, at most :data:`KNOWN_TRIES_PER_SLOT` per cluster the run
    may still add (one that is a seed already costs no try). Each (a catalogued one the table
    holds, or any the caller knows: a centroid with a sky position and r50) must stand out where
    it is known by ``min_significance`` (:func:`known_excess`, the stars a filter of ``nsigma``
    would pass) with at least half of ``min_members`` such stars within its r50 (half a
    cluster's members lie within it). It is then seeded at its own centroid and position, its
    spreads measured (:func:`~vo_ocml.membership.centroid.measure_cluster`, beside every other
    seed) on the stars within :data:`KNOWN_WINDOW_R50` × r50 of its centre, as a named
    cluster's are. A known cluster that is the same as a seed already there
    (:func:`same_cluster`) is left out. The joint mixture then keeps it only if it confirms it
    (:func:`left_where_known`).

    ``origin`` is the tangent plane's (RA, Dec) of ``sky``; ``beside``: see
    :func:`known_excess`.
    """
    seeds, faint, notes = list(seeds), [], []
    if not known:
        return seeds, notes
    good_all = best_measured(err, len(kin))
    footprint, errors = Footprint(sky), stand_in(err, len(kin))
    tries = KNOWN_TRIES_PER_SLOT * (max_clusters - len(seeds))
    for i, c in enumerate(known):
        if len(seeds) >= max_clusters or tries <= 0:
            notes.append(f"{len(known) - i} known cluster(s) not tried: max_clusters="
                         f"{max_clusters} (raise it to try more)")
            break
        target = tangent_plane(np.array([c.ra]), np.array([c.dec]), *origin)[0]
        window = KNOWN_WINDOW_R50 * c.r50
        guess = DEFAULT_SPREAD if c.spread is None or not np.all(np.isfinite(c.spread)) \
            else np.maximum(np.asarray(c.spread, float), MIN_KNOWN_SPREAD)
        centre = c.as_array()
        seed = Seed(centre, guess, guess, target, np.nan, c.source, c.name, window=window,
                    r50=c.r50, known=True, given_spread=c.spread)
        if any(same_cluster(seed, s) for s in seeds):
            continue
        tries -= 1
        seed.significance, inside = known_excess(kin, errors, sky, footprint, centre, guess,
                                                 target, c.r50, nsigma, beside)
        if not (seed.significance >= min_significance and inside >= min_members / 2):
            faint.append(f"{c.name or 'unnamed'} ({seed.significance:.1f}, {inside})")
            continue
        good = good_all[np.all(np.abs(sky[good_all] - target) <= window, axis=1)]
        fit = None
        if len(good) >= 10:
            fit = measure_cluster(kin[good], None if err is None else err[good], centre, guess,
                                  random_state=random_state,
                                  velocity_dispersion=velocity_dispersion,
                                  others=np.array([s.centre for s in seeds]),
                                  others_spread=np.array([s.observed for s in seeds]),
                                  max_growth=NEIGHBOUR_GROWTH)
        if fit is not None:
            seed.observed, seed.intrinsic = fit.observed_spread, fit.intrinsic_spread
        seeds.append(seed)
    if faint:
        notes.insert(0, f"{len(faint)} known cluster(s) not seeded, under {min_significance:g} "
                        f"sigma or {min_members / 2:g} stars within r50 where known (σ, stars; "
                        "nan: too little field to compare them with): "
                        + ", ".join(faint[:MAX_LISTED_KNOWN])
                        + (f" and {len(faint) - MAX_LISTED_KNOWN} more"
                           if len(faint) > MAX_LISTED_KNOWN else ""))
    return seeds, notes


def crowding(model: JointMixtureFit, seed: Seed, weights: np.ndarray, sky: np.ndarray) -> float:
    """The likelihood ratio 2 Σ w (log ρ − log ρ_field) of a known cluster's Plummer profile
    where it is known (:func:`~vo_ocml.membership.sky_prior.plummer_profile` of its r50 at its
    sky position) against the field's sky density, over the stars ``sky`` weighted by
    ``weights`` (its posteriors): how much its members crowd there."""
    profile = plummer_profile(model.footprint, seed.sky, seed.r50)
    gain = profile.log_density(sky) - model.footprint.log_field_density(sky)
    return 2.0 * float(weights @ gain)


def check_known(known: Any) -> None:
    """Refuse ``known_clusters`` that are not Centroids with a finite position, a positive r50
    and a finite motion and parallax.

    Raises
    ------
    InputError
    """
    for c in known:
        if not (isinstance(c, Centroid) and None not in (c.ra, c.dec, c.r50)
                and np.all(np.isfinite([c.ra, c.dec, c.r50, *c.as_array()])) and c.r50 > 0):
            raise InputError(f"known_clusters must be Centroids with finite ra, dec, a "
                             f"positive r50, pmra, pmdec and parallax; got {c!r}.")


def left_where_known(model: JointMixtureFit, probability: np.ndarray, k: int, seed: Seed,
                     sky: np.ndarray) -> str | None:
    """Why a known cluster (``seed``, cluster ``k`` of the joint fit ``model`` with posteriors
    ``probability`` on the stars at ``sky``) is not confirmed where it is known, or None.

    Its fit must stay within :data:`~vo_ocml.membership.mixture_step.NAMED_TOLERANCE` σ of its
    known motion and parallax (with its known spread) and its profile's centre within
    :data:`KNOWN_WINDOW_R50` × r50 of its known one, and its members must crowd there
    (:func:`crowding` above :data:`KNOWN_CROWDING_LR`).
    """
    if moved(model, probability, k, seed.centre, seed.given_spread, None) \
            or np.hypot(*(model.profiles[k].centre - seed.sky)) > seed.window:
        return (f"its fit left where it is known (more than {mixture_step.NAMED_TOLERANCE:g} "
                f"sigma in motion and parallax or {KNOWN_WINDOW_R50:g} × r50 on the sky)")
    if crowding(model, seed, probability[:, k], sky) <= KNOWN_CROWDING_LR:
        return ("its members do not crowd where it is known (a Plummer profile of its r50 "
                "there against the field)")
    return None
