"""Which catalogued cluster a single-cluster run found, or which the table holds.

The found cluster is matched to the shipped catalogue as every cluster of a joint run is
(:func:`vo_ocml.catalog.match.match_cluster`: centre within 2 × the catalogue's r50, motion and
parallax within 3 sigma of the catalogue's spreads, the found means' errors and Gaia's
systematics), so that a blind run, or one given a centroid without a name, says which known
cluster it found, or that none of the catalogue's is. A run named after a catalogued cluster
already knows its name (a fit that leaves the named cluster is refitted held there:
:func:`vo_ocml.membership.mixture_step.refit_if_moved`) and is not looked up. A run that finds
no cluster lists the catalogued clusters the table holds (:func:`catalogued_in_table`), which
the user may name to fit one.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from vo_ocml.analysis.summary import FILL_SAMPLE, Summary
from vo_ocml.catalog import ClusterEntry, clusters_near
from vo_ocml.catalog.match import SEARCH_RADIUS, match_cluster
from vo_ocml.membership.result import Centroid
from vo_ocml.membership.sky import sky_centre, tangent_plane

#: at most this many catalogued clusters are listed for a table where none was found
MAX_LISTED = 10


def catalogued_in_table(astrometry: dict[str, np.ndarray]) -> list[ClusterEntry]:
    """The catalogued clusters a table holds, richest first.

    A cluster is held when some row lies within its r50 of its centre and its proper motion
    and parallax lie inside the table's ranges (a box pre-cut in them may exclude it). The rows
    are sampled (every k-th of at most :data:`~vo_ocml.analysis.summary.FILL_SAMPLE`), so a
    cluster whose r50 holds only a few rows of a huge table may be missed. Clusters without
    r50, proper motion or parallax are left out.

    Parameters
    ----------
    astrometry : dict of str to ndarray
        Canonical arrays ``ra``, ``dec``, ``pmra``, ``pmdec``, ``parallax``.

    Returns
    -------
    list of ClusterEntry
    """
    step = max(1, -(-len(astrometry["ra"]) // FILL_SAMPLE))
    ra, dec = astrometry["ra"][::step], astrometry["dec"][::step]
    ok = np.isfinite(ra) & np.isfinite(dec)
    if not ok.any():
        return []
    ra, dec = ra[ok], dec[ok]
    ra0, dec0 = sky_centre(ra, dec)
    xy = tangent_plane(ra, dec, ra0, dec0)
    kin = np.column_stack([astrometry[k] for k in ("pmra", "pmdec", "parallax")])
    low, high = np.nanmin(kin, axis=0), np.nanmax(kin, axis=0)
    reach = float(np.max(np.hypot(*xy.T)))
    # a cluster whose centre lies off the table may still hold rows within its r50
    near = [e for e in clusters_near(ra0, dec0, reach + SEARCH_RADIUS)
            if np.isfinite(e.r50) and all(lo <= v <= hi for v, lo, hi in
                                          zip((e.pmra, e.pmdec, e.parallax), low, high))]
    if not near:
        return []
    centres = tangent_plane(np.array([e.ra for e in near]), np.array([e.dec for e in near]),
                            ra0, dec0)
    r50 = np.array([e.r50 for e in near])
    held = [e for e, c, r in zip(near, centres, r50)
            if np.hypot(*c) <= reach + r and np.any(np.hypot(*(xy - c).T) < r)]
    return sorted(held, key=lambda e: -np.nan_to_num(e.n_members))


def identify(summary: Summary, named: Centroid | None,
             astrometry: dict[str, np.ndarray]) -> Summary:
    """``summary`` with its catalogue counterpart (``catalogue``; ``catalogue_checked`` set),
    or, when no cluster was found, the catalogued clusters the table holds (``catalogued``).

    Parameters
    ----------
    summary : Summary
        A single-cluster run's summary; returned unchanged when the run was named after a
        cluster (``named.name``) or a found cluster's centre or means are unknown.
    named : Centroid or None
        The centroid the run was given.
    astrometry : dict of str to ndarray
        The table's canonical arrays (:func:`catalogued_in_table`).
    """
    if named is not None and named.name:
        return summary
    if not summary.found:
        held = catalogued_in_table(astrometry)
        return dataclasses.replace(summary, catalogue_checked=True,
                                   catalogued=tuple(e.name for e in held[:MAX_LISTED]))
    values = (summary.ra, summary.dec, summary.pmra, summary.pmdec, summary.parallax)
    if not all(math.isfinite(v) for v in values):
        return summary
    match = match_cluster(*values, summary.r50, (summary.pmra_se, summary.pmdec_se,
                                                 summary.parallax_se),
                          n_members=summary.n_members)
    return dataclasses.replace(summary, catalogue=match, catalogue_checked=True)
