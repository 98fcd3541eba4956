"""Where and how bright: the prior of the cluster + field mixture.

A star's prior odds of membership are the ratio of the cluster's and the field's expected
numbers of stars at its position ``x`` and in its magnitude bin ``b``::

    odds(x, b) = W_c(b) ρ_c(x) / (W_f(b) / A)

``W_c(b)`` and ``W_f(b)`` are the expected numbers of members and of field stars in magnitude
bin ``b`` (the two luminosity functions, estimated within the EM from the probabilities, the
members' share of each bin smooth in G: :meth:`MagnitudeBins.member_counts`), ``A``
is the area of the table's footprint, over which the field is uniform (or, given the stars
outside the cluster's filter, follows their smoothed density:
:mod:`~vo_ocml.membership.field_density`), and ``ρ_c`` is the
cluster's surface-density profile, normalised to one over the footprint. The profile is that of
Elson, Fall & Freeman (1987, ApJ 323, 54), ρ ∝ (1 + r²/a²)^(−γ/2): a Plummer sphere for γ = 4,
a King-like core with a power-law halo otherwise.

The footprint is the convex hull of the table's stars; the part of each circle around the
cluster's centre that lies inside it is measured on a grid of radii and angles, so clusters
near the edge of a cone or a box are normalised correctly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull

from vo_ocml.membership.field_density import MIN_STARS, FieldDensity
from vo_ocml.membership.result import R50_LOG_SD

#: radii of the normalisation grid (log-spaced, from this fraction of the footprint's size)
_N_RADII = 256
_R_MIN_FRACTION = 1e-4
#: angles per radius for the footprint coverage
_N_ANGLES = 72
#: profile scale radii (fractions of the footprint's size) and slopes the M-step chooses from
_SCALES = np.logspace(np.log10(3e-3), np.log10(1.5), 48)
_SLOPES = np.array([2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0])
#: stars per magnitude bin aimed at, and the bounds on the number of bins
_STARS_PER_BIN = 150
_MAX_BINS = 16
#: pseudo-count (stars) added to every bin of both luminosity functions
PSEUDO_COUNT = 0.5
#: degree of the polynomial in G of the log-ratio of the cluster's and the field's luminosity
#: functions: over the few magnitudes a table spans both are smooth, the field's rising faster
#: to the faint end (a slope) and the cluster's sequence turning over below its limit (a bend)
LF_RATIO_DEGREE = 2
#: Newton steps (at most) and the step size (in log-odds) at which the fit of that ratio stops
_NEWTON_STEPS = 25
_NEWTON_TOL = 1e-8
#: the profile normalisations are recomputed when the centre moves by this fraction of the size
_RECENTRE = 2e-3
#: rings over which :meth:`Footprint.annulus_area` integrates an annulus's (or disc's) coverage
_DISC_RINGS = 32
#: most stars used to build the footprint's hull
_HULL_STARS = 50_000
#: points tested against the hull's edges at a time: the field density's 65,536 grid points
#: against a 121-edge hull in 0.03 s instead of 0.05 s at once (the same answers), and a
#: million points without a (10⁶, edges) array
_CONTAINS_CHUNK = 4096


class Footprint:
    """The table's footprint on the tangent plane: the convex hull of its stars.

    Parameters
    ----------
    sky : ndarray, shape (n, 2)
        Tangent-plane positions (deg) of the table's stars.
    field_sky : ndarray, shape (m, 2), optional
        Positions of stars that trace the field (outside the cluster's kinematic filter):
        with at least :data:`~vo_ocml.membership.field_density.MIN_STARS` of them the field's
        sky density follows theirs (:class:`~vo_ocml.membership.field_density.FieldDensity`),
        otherwise it is uniform over the footprint.
    """

    def __init__(self, sky: np.ndarray, field_sky: np.ndarray | None = None) -> None:
        sky = np.asarray(sky, float)
        if len(sky) > _HULL_STARS:  # the hull of an even sample; its vertices are kept below
            sky = sky[:: int(np.ceil(len(sky) / _HULL_STARS))]
        hull = ConvexHull(sky)
        self.vertices = sky[hull.vertices]
        self.area = float(hull.volume)
        self._equations = hull.equations
        self.size = float(np.sqrt(self.area / np.pi))  # radius of a disc of the same area
        self.field = FieldDensity(self, field_sky) if field_sky is not None and \
            len(field_sky) >= MIN_STARS else None

    def log_field_density(self, points: np.ndarray) -> np.ndarray:
        """log of the field's surface density (per deg², one over the footprint) at ``points``."""
        if self.field is None:
            return np.full(len(points), -np.log(self.area))
        return self.field.log_density(points)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Whether each point (m, 2) is inside the footprint."""
        inside = np.empty(len(points), dtype=bool)
        for start in range(0, len(points), _CONTAINS_CHUNK):
            chunk = points[start:start + _CONTAINS_CHUNK]
            side = chunk @ self._equations[:, :2].T + self._equations[:, 2]
            inside[start:start + _CONTAINS_CHUNK] = np.all(side <= 1e-12, axis=1)
        return inside

    def disc_area(self, centre: np.ndarray, radius: float) -> float:
        """Area (deg²) of the disc of ``radius`` around ``centre`` inside the footprint."""
        return self.annulus_area(centre, 0.0, radius)

    def annulus_area(self, centre: np.ndarray, inner: float, outer: float,
                     without: tuple[np.ndarray, float] | None = None) -> float:
        """Area (deg²) of the annulus from ``inner`` to ``outer`` around ``centre`` inside the
        footprint, less the disc ``without`` = (its centre, its radius) when given."""
        edges = np.linspace(inner, outer, _DISC_RINGS + 1)
        mid = 0.5 * (edges[1:] + edges[:-1])
        return float(np.sum(np.pi * np.diff(edges**2)
                            * self.coverage(np.asarray(centre), mid, without)))

    def coverage(self, centre: np.ndarray, radii: np.ndarray,
                 without: tuple[np.ndarray, float] | None = None) -> np.ndarray:
        """Fraction of each circle of radius ``radii`` around ``centre`` inside the footprint
        (and outside the disc ``without`` = (its centre, its radius), when given)."""
        phi = np.linspace(0.0, 2 * np.pi, _N_ANGLES, endpoint=False)
        ring = np.stack([np.cos(phi), np.sin(phi)], axis=1)
        pts = (centre + radii[:, None, None] * ring[None]).reshape(-1, 2)
        kept = self.contains(pts)
        if without is not None:
            kept &= np.hypot(*(pts - without[0]).T) > without[1]
        return kept.reshape(len(radii), _N_ANGLES).mean(axis=1)


def eff_log_profile(r: np.ndarray, scale: float, slope: float) -> np.ndarray:
    """Unnormalised log EFF surface density, −(γ/2) log(1 + r²/a²)."""
    return -0.5 * slope * np.log1p((r / scale) ** 2)


#: fixed-point steps of :func:`eff_centre` per M-step
_CENTRE_STEPS = 3


def eff_centre(sky: np.ndarray, weights: np.ndarray, centre: np.ndarray,
               scale: float) -> np.ndarray:
    """The M-step of an EFF profile's centre: weighted mean with weights w_i / (a² + r_i²).

    Setting the derivative of Σ w_i log ρ(x_i; c) with respect to c to zero gives
    c = Σ w_i x_i / (a² + r_i²) / Σ w_i / (a² + r_i²) (whatever the slope; the footprint's
    normalisation is taken as locally constant), solved by :data:`_CENTRE_STEPS` fixed-point
    steps from ``centre``. Unlike the plain weighted mean, stars far from the cluster -- the
    small probabilities the field's stars keep all over the footprint -- barely pull it.
    """
    c = np.asarray(centre, float)
    if weights.sum() <= 0:
        return c
    x, y = sky[:, 0], sky[:, 1]
    for _ in range(_CENTRE_STEPS):
        w = weights / (scale**2 + (x - c[0]) ** 2 + (y - c[1]) ** 2)
        c = w @ sky / w.sum()
    return c


def eff_half_radius(scale, slope):
    """Half-number radius of untruncated EFF profiles, a √(2^(2/(γ−2)) − 1) (deg; inf for
    γ ≤ 2, whose number within r grows without bound); broadcasts."""
    slope = np.asarray(slope, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = scale * np.sqrt(2.0 ** (2.0 / (slope - 2.0)) - 1.0)
    return np.where(slope <= 2.0, np.inf, half)


@dataclass
class ClusterProfile:
    """A fitted EFF profile: centre (deg), scale a (deg), slope γ and log normalisation."""

    centre: np.ndarray
    scale: float
    slope: float
    log_norm: float

    def log_density(self, sky: np.ndarray) -> np.ndarray:
        """log ρ_c at tangent-plane positions (normalised to one over the footprint)."""
        r = np.hypot(*(sky - self.centre).T)
        return eff_log_profile(r, self.scale, self.slope) - self.log_norm

    @property
    def r50_infinite(self) -> float:
        """Half-number radius of the untruncated profile (deg; inf for γ ≤ 2)."""
        return float(eff_half_radius(self.scale, self.slope))


class ProfileFitter:
    """Maximum-likelihood EFF profiles of stars weighted by their membership probabilities.

    The scale and slope are chosen on a fixed grid (:data:`_SCALES` × the footprint's size,
    :data:`_SLOPES`); the weighted likelihood is evaluated on a fine log-spaced radial
    histogram, and each profile is normalised over the footprint (the normalisations are
    recomputed only when the centre moves by more than :data:`_RECENTRE` of the size).

    Parameters
    ----------
    footprint : Footprint
        The table's footprint.
    max_scale : float, optional
        Largest scale radius a allowed (deg): a cluster is a concentrated overdensity, and a
        profile as flat as the footprint would let the cluster's Gaussian take over a
        kinematic feature of the field.
    max_half_radius : float, optional
        Largest half-number radius (deg) of the untruncated profile,
        :attr:`ClusterProfile.r50_infinite`: profiles beyond it (every slope-2 profile, an r⁻²
        halo of unbounded half-number radius) are not chosen.
    r50 : float, optional
        A named cluster's catalogued half-number radius (deg): a profile whose
        :attr:`~ClusterProfile.r50_infinite` exceeds it has the prior
        −½ (ln(r50_infinite / r50) / :data:`~vo_ocml.membership.result.R50_LOG_SD`)² added to
        its weighted log-likelihood in :meth:`fit` (a one-sided log-normal: a narrower profile
        is not pulled out to the catalogue's; with a two-sided one, Saurer 1's named fit took
        in field stars until it was hotter than a bound cluster).
    """

    def __init__(self, footprint: Footprint, max_scale: float | None = None,
                 max_half_radius: float | None = None, r50: float | None = None) -> None:
        self.footprint = footprint
        size = footprint.size
        span = float(np.max(np.hypot(*(footprint.vertices - footprint.vertices.mean(0)).T)))
        self.scales = _SCALES * size
        if max_scale is not None:
            self.scales = self.scales[self.scales <= max(max_scale, self.scales[0])]
        self._radii(2.0 * span)
        half = eff_half_radius(self.scales[:, None], _SLOPES[None, :])
        self.allowed = np.ones(half.shape, bool) if max_half_radius is None else \
            half <= max(max_half_radius, float(np.min(half)))
        self.log_prior = np.zeros(half.shape)
        if r50 is not None and np.isfinite(r50) and r50 > 0:
            with np.errstate(divide="ignore", invalid="ignore"):
                self.log_prior = -0.5 * (np.maximum(np.log(half / r50), 0.0) / R50_LOG_SD) ** 2
            self.allowed &= np.isfinite(self.log_prior)  # no slope-2 halo beside a known r50
        self._centre: np.ndarray | None = None
        self._norm = np.empty(0)

    def _radii(self, outer: float) -> None:
        """The radial grid, out to ``outer`` (deg), and the profiles' log densities on it."""
        self.edges = np.geomspace(self.footprint.size * _R_MIN_FRACTION, outer, _N_RADII + 1)
        self.mid = np.sqrt(self.edges[1:] * self.edges[:-1])
        self.logp = eff_log_profile(self.mid[None, None, :], self.scales[:, None, None],
                                    _SLOPES[None, :, None])

    def _normalisation(self, centre: np.ndarray) -> np.ndarray:
        reach = float(np.max(np.hypot(*(self.footprint.vertices - centre).T)))
        if reach > self.edges[-1]:  # a centre far off the footprint (a named position outside
            # the table): the grid must reach the far side, or no ring covers any of it and the
            # profile, normalised over the first radius alone, outweighs every field star
            self._radii(reach)
            self._centre = None
        if self._centre is None or np.hypot(*(centre - self._centre)) > \
                _RECENTRE * self.footprint.size:
            self._norm = _log_norm(self.footprint, centre, self.edges, self.logp)
            self._centre = np.array(centre, float)
        return self._norm

    def fit(self, sky: np.ndarray, weights: np.ndarray, centre: np.ndarray) -> ClusterProfile:
        """The best profile around ``centre`` for stars at ``sky`` with ``weights``."""
        norm = self._normalisation(centre)
        r = np.hypot(*(sky - centre).T)
        hist = np.bincount(np.clip(np.searchsorted(self.edges, r) - 1, 0, _N_RADII - 1),
                           weights, minlength=_N_RADII)
        score = np.where(self.allowed,
                         self.logp @ hist - weights.sum() * norm + self.log_prior, -np.inf)
        i, j = np.unravel_index(np.argmax(score), score.shape)
        return ClusterProfile(np.asarray(centre, float), float(self.scales[i]),
                              float(_SLOPES[j]), float(norm[i, j]))


def _log_norm(footprint: Footprint, centre: np.ndarray, edges: np.ndarray,
              logp: np.ndarray) -> np.ndarray:
    """log of the integrals over the footprint of the profiles whose log densities on the
    radial grid ``edges`` (its rings' geometric middles) are ``logp`` (..., rings)."""
    mid = np.sqrt(edges[1:] * edges[:-1])
    ring_area = np.pi * np.diff(edges**2) * footprint.coverage(centre, mid)
    inner = np.pi * edges[0] ** 2  # the disc inside the first radius
    return np.log(inner + np.sum(ring_area * np.exp(logp), axis=-1))


#: a Plummer sphere's surface density is an EFF profile of this slope, whose scale is then its
#: half-number radius (:func:`eff_half_radius`)
PLUMMER_SLOPE = 4.0


def plummer_profile(footprint: Footprint, centre: np.ndarray, r50: float) -> ClusterProfile:
    """The Plummer profile of half-number radius ``r50`` (deg) at ``centre`` (tangent plane),
    normalised over ``footprint``: a cluster as a catalogue places it, with no free
    parameter."""
    reach = float(np.max(np.hypot(*(footprint.vertices - centre).T)))
    edges = np.geomspace(footprint.size * _R_MIN_FRACTION, 2.0 * max(reach, r50),
                         _N_RADII + 1)
    logp = eff_log_profile(np.sqrt(edges[1:] * edges[:-1]), r50, PLUMMER_SLOPE)
    return ClusterProfile(np.asarray(centre, float), float(r50), PLUMMER_SLOPE,
                          float(_log_norm(footprint, centre, edges, logp)))


class MagnitudeBins:
    """Equal-count magnitude bins, plus one bin for stars without a magnitude.

    Parameters
    ----------
    mag : ndarray, shape (n,) or None
        G magnitudes of the stars the mixture is fitted on (NaN: unknown).
    """

    def __init__(self, mag: np.ndarray | None) -> None:
        finite = np.asarray(mag, float)[np.isfinite(mag)] if mag is not None else np.empty(0)
        n_bins = int(np.clip(len(finite) // _STARS_PER_BIN, 1, _MAX_BINS)) if len(finite) else 1
        if len(finite) >= 2 * _STARS_PER_BIN:
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1))[1:-1])
        else:
            edges = np.empty(0)
        self.edges = edges
        self.n_bins = len(edges) + 2  # the last bin: no magnitude
        b = self.index(finite, len(finite))
        centres = np.array([np.median(finite[b == k]) for k in range(self.n_bins - 1)
                            if np.any(b == k)])
        #: each bin's offset in G from the bins' mean (mag; 0 for the bin without magnitude)
        self.offsets = np.append(centres - centres.mean(), 0.0) \
            if 0 < len(centres) == self.n_bins - 1 else np.zeros(self.n_bins)
        degree = min(LF_RATIO_DEGREE, len(centres) - 1)
        if len(centres) == self.n_bins - 1 and degree >= 1:
            x = (centres - centres.mean()) / centres.std()
            self._design = np.vander(x, degree + 1, increasing=True)
            self._theta = np.zeros((1, degree + 1))  # log-odds coefficients per cluster
        else:  # too few bins for a curve: the luminosity functions stay free per bin
            self._design = None

    def index(self, mag: np.ndarray | None, n: int) -> np.ndarray:
        """Bin of each star (``n`` stars; the last bin for unknown magnitudes)."""
        if mag is None:
            return np.full(n, self.n_bins - 1)
        mag = np.asarray(mag, float)
        b = np.searchsorted(self.edges, np.where(np.isfinite(mag), mag, 0.0), side="right")
        return np.where(np.isfinite(mag), b, self.n_bins - 1)

    def counts(self, b: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Expected numbers per bin (weighted counts plus :data:`PSEUDO_COUNT`)."""
        return np.bincount(b, weights, minlength=self.n_bins) + PSEUDO_COUNT

    def member_counts(self, b: np.ndarray, members: np.ndarray, field: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Expected numbers of members and of field stars per bin.

        Parameters
        ----------
        b : ndarray, shape (n,)
            Each star's bin (:meth:`index`).
        members : ndarray, shape (n,) or (n, K)
            Each star's expected share of the cluster (of each of K clusters).
        field : ndarray, shape (n,)
            Each star's expected share of the field.

        Returns
        -------
        n_c : ndarray, shape (n_bins,) or (K, n_bins)
            Expected members per bin (of each cluster).
        n_f : ndarray, shape (n_bins,)
            Expected field stars per bin.

        Notes
        -----
        Each bin keeps its expected number of stars; the clusters' shares of it follow
        polynomials in G of degree :data:`LF_RATIO_DEGREE` in log-odds against the field,
        fitted to the bins' expected counts by maximum (multinomial) likelihood. Free per bin,
        a poor cluster's share of a faint bin is set by the few dozen field stars its motion
        cannot tell apart, jumps from bin to bin, and feeds back through the next E-step. The
        stars without a magnitude keep their own free bin.
        """
        single = np.ndim(members) == 1
        members = np.reshape(members, (len(b), -1))
        n_c = np.array([self.counts(b, m) for m in members.T])
        n_f = self.counts(b, field)
        if self._design is not None:
            k = len(self._design)
            total = n_c[:, :k].sum(axis=0) + n_f[:k]
            if self._theta.shape[0] != len(n_c):
                self._theta = np.zeros((len(n_c), self._design.shape[1]))
            # the previous fit starts the next: EM moves the counts little per iteration
            self._theta = _fit_shares(self._design, n_c[:, :k], total, self._theta)
            # the field's share from its own log-share: 1 − Σ shares is 0 where a cluster
            # holds nearly all of a bin, and log 0 would make every star there a member
            shares = np.exp(_log_shares(self._design, self._theta))
            n_c[:, :k] = total * shares[1:]
            n_f[:k] = total * shares[0]
        return (n_c[0] if single else n_c), n_f

    @property
    def n_parameters(self) -> int:
        """Free numbers in the two luminosity functions :meth:`member_counts` fits."""
        if self._design is None:
            return 2 * self.n_bins - 1
        return self.n_bins - 1 + self._design.shape[1] + 1  # totals, the ratio, no magnitude


def _log_shares(X: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """log shares of each bin (K + 1, bins): the field's first, then each cluster's, whose
    log-odds against the field are ``theta @ X.T``."""
    logits = np.vstack([np.zeros(len(X)), theta @ X.T])
    # (scipy.special.logsumexp here took the injection bench's median run from 0.57 to 0.87 s)
    return logits - np.logaddexp.reduce(logits, axis=0)


def _shares(X: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Each cluster's share of each bin (K, bins) (:func:`_log_shares`)."""
    return np.exp(_log_shares(X, theta)[1:])


def _fit_shares(X: np.ndarray, counts: np.ndarray, total: np.ndarray,
                theta: np.ndarray) -> np.ndarray:
    """Maximum-likelihood ``theta`` (K, d) of the clusters' ``counts`` (K, bins) among the
    bins' ``total`` stars: Newton's method with step halving (the likelihood is concave)."""
    K, d = theta.shape
    all_counts = np.vstack([total - counts.sum(axis=0), counts])  # the field's, the clusters'

    def log_likelihood(t: np.ndarray) -> float:
        return float(np.sum(all_counts * _log_shares(X, t)))

    current = log_likelihood(theta)
    for _ in range(_NEWTON_STEPS):
        pi = _shares(X, theta)
        grad = ((counts - total * pi) @ X).ravel()
        w = total * (np.eye(K)[:, :, None] * pi[None] - pi[:, None] * pi[None])  # (K, K, bins)
        hessian = np.einsum("klb,bi,bj->kilj", w, X, X).reshape(K * d, K * d)
        step = np.linalg.lstsq(hessian, grad, rcond=None)[0].reshape(K, d)
        while (trial := log_likelihood(theta + step)) < current \
                and np.max(np.abs(step)) > _NEWTON_TOL:
            step = step / 2
        theta, current = theta + step, trial
        if np.max(np.abs(step)) < _NEWTON_TOL:
            break
    return theta
