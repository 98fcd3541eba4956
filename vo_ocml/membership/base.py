"""What every membership estimator shares: feature layout, stage codes and the result type.

Estimators take ``X`` as an ``(n, 5)`` float array with columns :data:`FEATURES`
(ra, dec in degrees; pmra, pmdec in mas/yr; parallax in mas) -- or an astropy Table, whose
columns are resolved by :func:`vo_ocml.io.columns.resolve_columns` -- and optionally the
``(n, 3)`` standard errors of (pmra, pmdec, parallax). Rows with a non-finite value in ``X``
are kept and marked :data:`STAGE_INCOMPLETE` with a NaN probability.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: the astrometric columns of ``X``, in order (canonical units: deg, deg, mas/yr, mas/yr, mas)
FEATURES = ("ra", "dec", "pmra", "pmdec", "parallax")
#: the error columns (standard errors of pmra, pmdec, parallax)
ERROR_FEATURES = ("pmra_error", "pmdec_error", "parallax_error")

#: missing or non-finite astrometry: never scored, probability NaN
STAGE_INCOMPLETE = "incomplete"
#: rejected by the initial filter around the centroid (probability 0)
STAGE_FILTER = "filter"
#: pruned as isolated by the minimum spanning tree (probability 0)
STAGE_MST = "mst"
#: scored by the Gaussian mixture (probability = the cluster component's posterior)
STAGE_GMM = "gmm"
#: scored by DEC (probability = soft assignment to the cluster's group)
STAGE_DEC = "dec"
#: rejected by DEC's 0.10-0.90 quantile filter (probability 0)
STAGE_QUANTILE = "quantile"
#: no cluster was found in the data: every complete row gets probability 0
STAGE_NO_CLUSTER = "no_cluster"

STAGE_DESCRIPTION = {
    STAGE_INCOMPLETE: "missing or non-finite astrometry; not scored",
    STAGE_FILTER: "rejected by the initial proper-motion/parallax filter",
    STAGE_MST: "pruned as isolated by the minimum spanning tree",
    STAGE_GMM: "scored by the Gaussian mixture",
    STAGE_DEC: "scored by Deep Embedded Clustering",
    STAGE_QUANTILE: "outside DEC's feature quantile filter",
    STAGE_NO_CLUSTER: "no cluster found in the data",
}


@dataclass(frozen=True)
class Centroid:
    """The cluster's centre in proper motion and parallax, and where it came from.

    Parameters
    ----------
    pmra, pmdec : float
        Proper motion in mas/yr (pmra includes cos(dec)).
    parallax : float
        Parallax in mas.
    source : str
        ``"user"``, ``"catalogue:<name of catalogue>"`` or ``"data"``.
    name : str or None
        The cluster's name when known.
    ra, dec : float or None
        Sky centre in degrees, when known.
    spread : tuple of float or None
        Intrinsic dispersion (pmra, pmdec, parallax) when known (catalogue or data).
    """

    pmra: float
    pmdec: float
    parallax: float
    source: str
    name: str | None = None
    ra: float | None = None
    dec: float | None = None
    spread: tuple[float, float, float] | None = None

    def as_array(self) -> np.ndarray:
        """Return ``[pmra, pmdec, parallax]``."""
        return np.array([self.pmra, self.pmdec, self.parallax], dtype=float)


@dataclass
class MembershipResult:
    """A membership estimator's outcome for every input row.

    Attributes
    ----------
    probability : ndarray of float, shape (n,)
        Membership probability in [0, 1]; NaN for incomplete rows.
    stage : ndarray of str, shape (n,)
        The stage code of each row (see the ``STAGE_*`` constants).
    step_counts : dict of str to int
        Ordered star counts per step, e.g. cone → complete → filter → MST → GMM → P>0.5 → P>0.8.
    centroid : Centroid or None
        The cluster's fitted centroid, with the source of the seed it grew from (user,
        catalogue or data); None when no cluster was found. The filter's own centre is in
        ``details["filter_centre"]``.
    method : str
        ``"mstgmm"`` or ``"dec"``.
    parameters : dict
        Every parameter the estimator used (for provenance).
    details : dict
        Method-specific facts worth reporting (which component/group is the cluster and why).
    extra_columns : dict of str to ndarray
        Method-specific per-row outputs, e.g. ``{"ocml_dec_group": ...}``.
    """

    probability: np.ndarray
    stage: np.ndarray
    step_counts: dict[str, int]
    centroid: Centroid | None
    method: str
    parameters: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    extra_columns: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        """Whether a cluster was found (False: every complete row has probability 0)."""
        return self.centroid is not None

    def members(self, threshold: float = 0.5) -> np.ndarray:
        """Boolean mask of rows with probability above ``threshold`` (NaN counts as False)."""
        with np.errstate(invalid="ignore"):
            return np.nan_to_num(self.probability, nan=0.0) > threshold


def complete_mask(X: np.ndarray) -> np.ndarray:
    """Rows of ``X`` whose every feature is finite."""
    return np.all(np.isfinite(X), axis=1)
