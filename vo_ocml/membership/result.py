"""The vocabulary every membership estimator shares: features, stages, steps, "member", results.

A member is a row whose probability is above the threshold (:func:`is_member`); the threshold
lies in [0, 1) (:func:`check_threshold`), 0.5 unless asked otherwise (:data:`MEMBER_THRESHOLD`).
Step counts are named by lower-case identifiers; a step's provenance PARAM is
``ocml_n_<step>`` (:func:`step_param_name`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vo_ocml.errors import InputError

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
    STAGE_INCOMPLETE: "missing, non-finite or physically impossible astrometry; not scored",
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
    r50 : float or None
        The cluster's half-number radius in degrees, as a catalogue lists it, when known: the
        fitted profile's is at most :data:`R50_TOLERANCE` times it
        (:func:`vo_ocml.membership.mixture_step.max_half_radius`).
    """

    pmra: float
    pmdec: float
    parallax: float
    source: str
    name: str | None = None
    ra: float | None = None
    dec: float | None = None
    spread: tuple[float, float, float] | None = None
    r50: float | None = None

    def as_array(self) -> np.ndarray:
        """Return ``[pmra, pmdec, parallax]``."""
        return np.array([self.pmra, self.pmdec, self.parallax], dtype=float)


#: a named cluster's fitted half-number radius may be at most this many times the one its
#: catalogue lists: two independent Gaia determinations of the same clusters' r50 (Hunt &
#: Reffert 2023 against Cantat-Gaudin et al. 2020, 1,873 clusters in both:
#: tools/r50_agreement.py) differ by more than this factor for 1.3 % of clusters (ratio
#: percentiles 1 / 50 / 99: 0.36 / 1.10 / 4.99). A fit above it has taken in the field or a
#: neighbour (the injection benchmark's poor named clusters in crowded fields: fitted r50
#: three to eight times theirs)
R50_TOLERANCE = 5.0
#: how well a catalogued r50 tells a cluster's: the standard deviation of the natural log of
#: the same two catalogues' ratio (tools/r50_agreement.py: 0.485 over the 1,873 clusters).
#: A named cluster's profile wider than its catalogued r50 is that much less likely, as a
#: log-normal of this width (:class:`~vo_ocml.membership.sky_prior.ProfileFitter`): a rich
#: cluster's members outweigh it, a poor cluster's dozen do not, whose profile the field's
#: small probabilities otherwise spread to the bound (docs/injection.md, thirty-ninth session)
R50_LOG_SD = 0.485
#: the default membership threshold: a member has a probability above it
MEMBER_THRESHOLD = 0.5
#: the thresholds accepted: 0 ≤ threshold < 1 (at 1 no probability could be above it)
THRESHOLD_RANGE = (0.0, 1.0)


def check_threshold(threshold: Any) -> float:
    """The membership threshold as a float, checked to lie in [0, 1).

    Raises
    ------
    InputError
        Not a number, or outside [0, 1).
    """
    try:
        value = float(threshold.strip() if isinstance(threshold, str) else threshold)
    except (TypeError, ValueError):
        raise InputError(f"threshold must be a number in [0, 1); got {str(threshold):.100}") from None
    low, high = THRESHOLD_RANGE
    if not (math.isfinite(value) and low <= value < high):
        raise InputError(f"threshold must be a number in [0, 1); got {str(threshold):.100}")
    return value


def is_member(probability: Any, threshold: float = MEMBER_THRESHOLD) -> np.ndarray:
    """The one definition of a member: probability above ``threshold`` (NaN: not a member).

    Parameters
    ----------
    probability : array-like of float
        Membership probabilities (NaN for rows that were not scored).
    threshold : float
        Membership threshold.

    Returns
    -------
    ndarray of bool
    """
    p = np.asarray(probability, dtype=np.float64)
    return (p > threshold) & np.isfinite(p)  # NaN compares False, without a warning


#: step names are lower-case identifiers; the provenance PARAM of a step is ``ocml_n_<step>``
STEP_NAME = re.compile(r"[a-z][a-z0-9_]*")
#: the first two steps of every estimator: every input row, the rows that can be scored
STEP_CONE = "cone"
STEP_COMPLETE = "complete"


def probability_step(threshold: float) -> str:
    """The name of the step "probability above ``threshold``": 0.8 → ``p_gt_08``."""
    return "p_gt_" + f"{threshold:g}".replace(".", "")


def step_param_name(step: str) -> str:
    """The provenance PARAM name of a step count: ``ocml_n_<step>``.

    Raises
    ------
    ValueError
        ``step`` is not a lower-case identifier (a programming error, not bad input).
    """
    if not STEP_NAME.fullmatch(step):
        raise ValueError(f"step name {step!r} is not a lower-case identifier")
    return f"ocml_n_{step}"


@dataclass
class ClusterFound:
    """One cluster of a joint (several-cluster) run.

    Attributes
    ----------
    label : str
        Provisional label, ``cluster_<k>`` in the estimator's order (the pipeline names it from
        the catalogue: :mod:`vo_ocml.catalog.match`).
    centroid : Centroid
        Fitted (pmra, pmdec, parallax), sky centre, intrinsic spread, seed source and name
        (the user's or catalogue's for the named cluster, else None).
    significance : float
        Blind-detection significance (global, Gaussian-equivalent σ); NaN for a named cluster.
    details : dict
        Facts worth reporting (detection, fitted intrinsic spread).
    """

    label: str
    centroid: Centroid
    significance: float
    details: dict[str, Any] = field(default_factory=dict)


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
        Ordered star counts per step (names: lower-case identifiers, see
        :func:`step_param_name`), e.g. cone → complete → filter → mst → gmm → p_gt_08.
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
    clusters : list of ClusterFound
        Joint runs (``MSTGMM(clusters="all")`` or N > 1) only: every cluster modelled, the
        named or most significant first (its probability is ``probability``); empty otherwise.
    cluster_probability : ndarray, shape (n, K + 1), or None
        Joint runs only: each row's probability of belonging to each of the K clusters (columns
        in the order of ``clusters``) and to the field (last column); rows sum to one, NaN for
        rows not scored. Column 0 equals ``probability``.
    """

    probability: np.ndarray
    stage: np.ndarray
    step_counts: dict[str, int]
    centroid: Centroid | None
    method: str
    parameters: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    extra_columns: dict[str, np.ndarray] = field(default_factory=dict)
    clusters: list[ClusterFound] = field(default_factory=list)
    cluster_probability: np.ndarray | None = None

    @property
    def found(self) -> bool:
        """Whether a cluster was found (False: every complete row has probability 0)."""
        return self.centroid is not None

    def members(self, threshold: float = MEMBER_THRESHOLD) -> np.ndarray:
        """Boolean mask of the members (:func:`is_member`)."""
        return is_member(self.probability, threshold)


