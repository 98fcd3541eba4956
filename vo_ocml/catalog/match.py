"""Which catalogued cluster is this? A found cluster matched to the shipped catalogue.

A catalogued cluster matches when all three offsets are within tolerance:

- position: separation ≤ :data:`POSITION_TOLERANCE` × sqrt(r50_cat² + SE_centre²), with
  r50_cat the catalogue's half-number radius (two determinations of a cluster's centre differ
  by a fraction of its size, which the catalogue measures) and SE_centre = found r50 / √N the
  found centre's standard error. The found r50 enters only through that error: a found
  cluster swollen by field stars (r50 of 20–40′ against a catalogued 5–13′) must not take the
  name of a catalogued cluster 20–50′ away. A catalogued cluster without r50 is given the
  found r50 instead;
- proper motion: |Δpm| ≤ :data:`KINEMATIC_TOLERANCE` × sqrt(s_pm² + SE² + :data:`PM_FLOOR`²)
  per axis, with s_pm the catalogue's intrinsic spread of the members, SE the found members'
  standard error of the mean, and the floor Gaia's proper-motion systematics on cluster scales;
- parallax: likewise with s_parallax, the parallax SE and :data:`PARALLAX_FLOOR`.

Among the matches the one with the smallest sum of squared offsets (in those units) wins.
Catalogued clusters without proper motion or parallax are never matched.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from vo_ocml.catalog import ClusterEntry, clusters_near
from vo_ocml.membership.sky import angular_distance

#: position tolerance, in units of sqrt(catalogue r50² + found centre's SE²)
POSITION_TOLERANCE = 2.0
#: smallest position scale (deg): no centre is known better than ~4″
MIN_SIZE = 1e-3
#: proper-motion and parallax tolerance, in combined standard deviations
KINEMATIC_TOLERANCE = 3.0
#: systematic floors (Lindegren et al. 2021: ~0.02-0.03 mas, ~0.02-0.03 mas/yr on cluster
#: scales), doubled for the spread between catalogue versions (DR2 / EDR3 / DR3)
PM_FLOOR, PARALLAX_FLOOR = 0.05, 0.05
#: the catalogue is searched within this radius (deg) of the found centre
SEARCH_RADIUS = 5.0


@dataclass(frozen=True)
class CatalogueMatch:
    """A found cluster's catalogue counterpart and the offsets (found − catalogue).

    ``z_*`` are the offsets in units of their tolerances' scales (see the module docstring).
    """

    entry: ClusterEntry
    separation: float
    d_pmra: float
    d_pmdec: float
    d_parallax: float
    z_position: float
    z_pm: float
    z_parallax: float

    @property
    def score(self) -> float:
        """Sum of the squared scaled offsets (smaller is better)."""
        return self.z_position**2 + self.z_pm**2 + self.z_parallax**2


def _nan0(x: float) -> float:
    return 0.0 if not math.isfinite(x) else float(x)


def match_cluster(ra: float, dec: float, pmra: float, pmdec: float, parallax: float,
                  r50: float, se: tuple[float, float, float] = (0.0, 0.0, 0.0),
                  exclude: tuple[str, ...] = (), n_members: int = 0) -> CatalogueMatch | None:
    """The best-matching catalogued cluster within the tolerances, or None.

    Parameters
    ----------
    ra, dec : float
        Found centre (deg).
    pmra, pmdec, parallax : float
        Found means (mas/yr, mas).
    r50 : float
        Found half-number radius (deg).
    se : tuple of 3 floats
        Standard errors of the found means (NaN counts as 0).
    exclude : tuple of str
        Catalogue names already given to other clusters.
    n_members : int
        Found members (for the centre's standard error, r50 / √N; 0: unknown, taken as 0).
    """
    if not all(math.isfinite(v) for v in (ra, dec, pmra, pmdec, parallax)):
        return None
    best = None
    for e in clusters_near(ra, dec, SEARCH_RADIUS):
        if e.name in exclude or not all(math.isfinite(v) for v in (e.pmra, e.pmdec, e.parallax)):
            continue
        sep = float(angular_distance(ra, dec, e.ra, e.dec))
        centre_se = _nan0(r50) / math.sqrt(n_members) if n_members > 0 else 0.0
        size = max(math.hypot(_nan0(e.r50), centre_se) if _nan0(e.r50) > 0 else _nan0(r50),
                   MIN_SIZE)
        s_pm = np.hypot(_nan0(e.s_pmra), _nan0(e.s_pmdec)) / math.sqrt(2.0)
        z_pm = max(abs(pmra - e.pmra) / math.sqrt(s_pm**2 + _nan0(se[0]) ** 2 + PM_FLOOR**2),
                   abs(pmdec - e.pmdec) / math.sqrt(s_pm**2 + _nan0(se[1]) ** 2 + PM_FLOOR**2))
        z_plx = abs(parallax - e.parallax) / math.sqrt(
            _nan0(e.s_parallax) ** 2 + _nan0(se[2]) ** 2 + PARALLAX_FLOOR**2)
        m = CatalogueMatch(e, sep, pmra - e.pmra, pmdec - e.pmdec, parallax - e.parallax,
                           sep / size, float(z_pm), float(z_plx))
        if m.z_position <= POSITION_TOLERANCE and m.z_pm <= KINEMATIC_TOLERANCE \
                and m.z_parallax <= KINEMATIC_TOLERANCE and (best is None or m.score < best.score):
            best = m
    return best


def column_label(name: str) -> str:
    """A name as it appears in a column name: "NGC 7790" → "NGC_7790"."""
    return re.sub(r"_+", "_", re.sub(r"[^0-9A-Za-z]", "_", name.strip())).strip("_") or "cluster"
