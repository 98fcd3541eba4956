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

    @property
    def within(self) -> bool:
        """Whether every offset is within its tolerance (the found cluster *is* this one)."""
        return self.z_position <= POSITION_TOLERANCE and self.z_pm <= KINEMATIC_TOLERANCE \
            and self.z_parallax <= KINEMATIC_TOLERANCE

    def describe(self) -> str:
        """The offsets in words, with the catalogue that gave the entry's motion and parallax."""
        return (f"{self.entry.name} [{self.entry.source_of('pmra')}]: "
                f"{60 * self.separation:.1f}′ from its centre ({self.z_position:.1f} × its "
                f"r50), Δpm ({self.d_pmra:+.3f}, {self.d_pmdec:+.3f}) mas/yr "
                f"({self.z_pm:.1f} sigma), Δparallax {self.d_parallax:+.3f} mas "
                f"({self.z_parallax:.1f} sigma)")


def _nan0(x: float) -> float:
    return 0.0 if not math.isfinite(x) else float(x)


def offsets(entry: ClusterEntry, ra: float, dec: float, pmra: float, pmdec: float,
            parallax: float, r50: float, se: tuple[float, float, float] = (0.0, 0.0, 0.0),
            n_members: int = 0) -> CatalogueMatch | None:
    """A found cluster's offsets from one catalogued cluster, whatever their size.

    Parameters as :func:`match_cluster`'s. None when the entry or the found cluster lacks a
    proper motion, parallax or position.
    """
    if not all(math.isfinite(v) for v in (ra, dec, pmra, pmdec, parallax, entry.ra, entry.dec,
                                          entry.pmra, entry.pmdec, entry.parallax)):
        return None
    sep = float(angular_distance(ra, dec, entry.ra, entry.dec))
    centre_se = _nan0(r50) / math.sqrt(n_members) if n_members > 0 else 0.0
    size = max(math.hypot(_nan0(entry.r50), centre_se) if _nan0(entry.r50) > 0 else _nan0(r50),
               MIN_SIZE)
    s_pm = np.hypot(_nan0(entry.s_pmra), _nan0(entry.s_pmdec)) / math.sqrt(2.0)
    z_pm = max(abs(pmra - entry.pmra) / math.sqrt(s_pm**2 + _nan0(se[0]) ** 2 + PM_FLOOR**2),
               abs(pmdec - entry.pmdec) / math.sqrt(s_pm**2 + _nan0(se[1]) ** 2 + PM_FLOOR**2))
    z_plx = abs(parallax - entry.parallax) / math.sqrt(
        _nan0(entry.s_parallax) ** 2 + _nan0(se[2]) ** 2 + PARALLAX_FLOOR**2)
    return CatalogueMatch(entry, sep, pmra - entry.pmra, pmdec - entry.pmdec,
                          parallax - entry.parallax, sep / size, float(z_pm), float(z_plx))


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
        if e.name in exclude:
            continue
        m = offsets(e, ra, dec, pmra, pmdec, parallax, r50, se, n_members)
        if m is not None and m.within and (best is None or m.score < best.score):
            best = m
    return best


def column_label(name: str) -> str:
    """A name as it appears in a column name: "NGC 7790" → "NGC_7790"."""
    return re.sub(r"_+", "_", re.sub(r"[^0-9A-Za-z]", "_", name.strip())).strip("_") or "cluster"
