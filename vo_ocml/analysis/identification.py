"""Which catalogued cluster a single-cluster run found.

The found cluster is matched to the shipped catalogue as every cluster of a joint run is
(:func:`vo_ocml.catalog.match.match_cluster`: centre within 2 × the catalogue's r50, motion and
parallax within 3 sigma of the catalogue's spreads, the found means' errors and Gaia's
systematics), so that a blind run, or one given a centroid without a name, says which known
cluster it found, or that none of the catalogue's is. A run named after a catalogued cluster
already knows its name (a fit that leaves the named cluster is refitted held there:
:func:`vo_ocml.membership.mixture_step.refit_if_moved`) and is not looked up.
"""

from __future__ import annotations

import dataclasses
import math

from vo_ocml.analysis.summary import Summary
from vo_ocml.catalog.match import match_cluster
from vo_ocml.membership.result import Centroid


def identify(summary: Summary, named: Centroid | None) -> Summary:
    """``summary`` with its catalogue counterpart (``catalogue``; ``catalogue_checked`` set).

    Parameters
    ----------
    summary : Summary
        A single-cluster run's summary; returned unchanged when no cluster was found, its
        centre or means are unknown, or the run was named after a cluster (``named.name``).
    named : Centroid or None
        The centroid the run was given.
    """
    values = (summary.ra, summary.dec, summary.pmra, summary.pmdec, summary.parallax)
    if not summary.found or (named is not None and named.name) \
            or not all(math.isfinite(v) for v in values):
        return summary
    match = match_cluster(*values, summary.r50, (summary.pmra_se, summary.pmdec_se,
                                                 summary.parallax_se),
                          n_members=summary.n_members)
    return dataclasses.replace(summary, catalogue=match, catalogue_checked=True)
