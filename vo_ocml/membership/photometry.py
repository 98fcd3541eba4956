"""The photometric term of the cluster + field mixture: the cluster's sequence in the CMD.

A cluster's members lie on one sequence in (G, BP−RP); the field's stars spread over every
colour at each magnitude. With ``photometric=True`` the mixture multiplies each star's cluster
and field terms by the densities of its colour given its G (colour assumed independent of the
kinematics and position within each population)::

    L_c(c | G) = (1 − ε) N(c; m(G), s_b²) + ε [(1 − a) B(c | G) + a U(c)]
    L_f(c | G) = f_b(c)

m(G) is a cubic in G fitted to the members (weights P, outliers beyond 3 s clipped), s_b the
members' scatter about it in the star's magnitude bin b (clipped at 3 s_b of its own, shrunk
towards the overall scatter where a bin holds few members, never below :data:`MIN_SCATTER` nor
below a brighter bin's: Gaia's colour errors grow with G), ε the members off the
sequence (:data:`OFF_SEQUENCE`): unresolved binaries, up to 0.75 mag above it, whose colour
at G is that of a single star between G and G + 0.75 -- B uniform between m(G) and
m(G + 0.75), blurred by s_b -- and, a share a (:data:`ANYWHERE`), giants and blends, U uniform
over the table's colour range; f_b is the histogram of the field's colours in bin b. The term
holds within the G range of the likely members (P_kin ≥ :data:`LIKELY_MEMBER`) only: brighter or
fainter, no member traces the sequence and a cubic extrapolated there goes anywhere (a
simulated 400-member cluster's fitted sequence reached BP−RP −1.7 at G 11, three magnitudes
above its brightest likely member; the truth there is 0.4).
The field stars that count are those whose motion and parallax resemble the cluster's (weights
(1 − P_kin) × the kinematic likelihood ratio's posterior at equal priors), shrunk towards all the
field's colours with :data:`FIELD_PRIOR_STARS`: a field star at the cluster's parallax and
motion lies at its distance, behind its extinction, so its colour is nearer the cluster's
sequence than the whole field's -- treating colour as independent of kinematics there counts
the same evidence twice and makes the probabilities over-confident. P_kin is the membership
probability without the colour term: with the full P, a field star that happens to lie on the
sequence is taken for a member because of its colour and so leaves the field's colours, which
then hold too few stars on the sequence -- the term confirmed itself (injected clusters, G
20–21: Σ P / N_true 1.07, 0.99 with P_kin; docs/injection.md). Stars without a colour get no
photometric term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from vo_ocml.membership.deconvolution import solve_or_least_squares

#: degree of the sequence m(G)
SEQUENCE_DEGREE = 3
#: members beyond this many s from the sequence do not shape it
CLIP_SIGMA = 3.0
#: smallest colour scatter of the sequence (mag): Gaia's BP−RP precision at G ≈ 17
MIN_SCATTER = 0.02
#: members that a bin's scatter is shrunk with towards the overall scatter
SHRINK_MEMBERS = 5.0
#: steps of the bins' scatter: all members, then each step clipped at the previous step's
_CLIP_STEPS = 4
#: fraction of members off the single-star sequence (binaries, giants, blends)
OFF_SEQUENCE = 0.1
#: an equal-mass unresolved binary lies this far above the single-star sequence (2.5 log 2)
BINARY_SHIFT = 2.5 * np.log10(2.0)
#: share of the off-sequence members anywhere in colour (giants, blends); the rest binaries
ANYWHERE = 0.2
#: the sequence holds between the faintest and brightest stars of at least this membership
#: probability; beyond, no member traces it (the cubic would extrapolate) and stars get no term
LIKELY_MEMBER = 0.5
#: width of the field's colour histogram bins (mag) and its pseudo-count per bin
FIELD_BIN = 0.1
FIELD_PSEUDO = 0.5
#: field stars of the whole field's colour histogram that the kinematically similar field
#: stars' histogram is shrunk with, per magnitude bin
FIELD_PRIOR_STARS = 20.0


def _per_star(x: np.ndarray, n_stars: np.ndarray) -> float:
    """How many stars of the table a star of the sample stands for, on average over weights
    ``x``: a pseudo-count of k sample stars is k times this in the weighted counts. A thinned
    field's stars stand for tens each; with pseudo-counts of plain stars, colours where no
    sampled field star lay got a field density of ~10⁻⁵ per mag, and in a simulated
    2,000,000-row cone 111 field stars of such colours became one cluster's members."""
    total = float(x.sum())
    return float(x @ n_stars) / total if total > 0 else 1.0


def _sequence_fit(g: np.ndarray, c: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The weighted least-squares polynomial of degree :data:`SEQUENCE_DEGREE` of colour ``c``
    in G ``g`` (weights ``w`` on the squared residuals), highest power first as
    ``np.polyfit(g, c, SEQUENCE_DEGREE, w=np.sqrt(w))`` returns it (and ``np.polyval`` reads
    it). Solved by its normal equations in G centred and scaled, then expanded in G: EM refits
    the sequence every iteration, and ``np.polyfit`` took 1.2 ms a call on 13,000 stars against
    0.7 ms here."""
    centre = float(np.mean(g))
    scale = float(np.std(g)) or 1.0
    design = np.vander((g - centre) / scale, SEQUENCE_DEGREE + 1, increasing=True)
    weighted = design * w[:, None]
    a = solve_or_least_squares(weighted.T @ design, weighted.T @ c)
    coef = a[-1:]  # Horner's rule on x = (G − centre) / scale, in powers of G
    for a_k in a[-2::-1]:
        coef = np.convolve(coef, [1.0 / scale, -centre / scale])
        coef[-1] += a_k
    return coef


def _bin_scatter(r: np.ndarray, w: np.ndarray, b: np.ndarray, n_bins: int,
                 overall: float) -> np.ndarray:
    """Each magnitude bin's scatter about the sequence, clipped at :data:`CLIP_SIGMA` of its own.

    Members with weights ``w`` and residuals ``r`` in bins ``b``; shrunk towards ``overall``
    with :data:`SHRINK_MEMBERS`, then never smaller than a brighter bin's (Gaia DR3's BP−RP
    errors grow with G: about 0.01 mag at G 17, 0.1 at G 20, 0.3 at G 21; Riello et al. 2021).
    Clipped at the overall scatter -- the bright members' -- a faint bin kept only the members
    nearest the sequence: in a simulated 420-member cluster at 1.6 kpc the bins fainter than
    G 20.1 got 0.08–0.09 mag where their members scatter by 0.19–0.23, and on the injection
    bench the candidates at G 20–21 had Σ P / N_true 0.95–0.96 (docs/injection.md).
    """
    scatter = np.full(n_bins, np.inf)  # the first step: every member
    for _ in range(_CLIP_STEPS):
        wk = w * (np.abs(r) < CLIP_SIGMA * np.maximum(scatter[b], MIN_SCATTER))
        n_b = np.bincount(b, wk, minlength=n_bins)
        ss_b = np.bincount(b, wk * r**2, minlength=n_bins)
        scatter = np.sqrt((ss_b + SHRINK_MEMBERS * overall**2) / (n_b + SHRINK_MEMBERS))
        scatter[:-1] = np.maximum.accumulate(scatter[:-1])  # the last bin: no magnitude
    return scatter


@dataclass
class ColourTerm:
    """A fitted photometric term: the cluster's sequence and the field's colours per G bin."""

    coef: np.ndarray
    scatter: np.ndarray
    edges: np.ndarray
    field_density: np.ndarray
    colour_range: tuple[float, float]
    #: the G range of the likely members (P_kin ≥ LIKELY_MEMBER): where the sequence holds
    mag_range: tuple[float, float]

    @classmethod
    def fit(cls, mag: np.ndarray, colour: np.ndarray, b: np.ndarray, n_bins: int,
            p: np.ndarray, similar: np.ndarray | None = None,
            field_p: np.ndarray | None = None, own_p: np.ndarray | None = None,
            weights: np.ndarray | None = None,
            mag_range: tuple[float, float] | None = None) -> "ColourTerm | None":
        """The term for stars in magnitude bins ``b`` with membership probabilities ``p``.

        ``similar`` (0–1 per star) is how much a star's kinematics resemble the cluster's: the
        field's colours are those of the similar field stars (all field stars without it).
        ``field_p``, the membership probabilities without the colour term, weight the field's
        colours (1 − ``field_p``; default ``p``), so that a star's colour does not take it
        out of the field it is compared with. ``own_p``: this cluster's membership without the
        colour term (default ``field_p``, the same with one cluster): its likely members give
        the G range where the term holds (with ``p``, whose likely members change with the
        term itself, EM did not converge in 1,000 iterations on a two-cluster test case).
        ``weights``: how many stars of the table each star stands for (a thinned sample's;
        default one each). ``mag_range``: the G range where the term holds, kept from the
        previous fit (EM refits the term every iteration; a range that moved with it made EM
        oscillate on a 20,000-star fit); default: the likely members'.
        None when too few members have a colour to fit a sequence.
        """
        ok = np.isfinite(mag) & np.isfinite(colour)
        n_stars = np.ones(len(p)) if weights is None else np.asarray(weights, float)
        own = own_p if own_p is not None else field_p if field_p is not None else p
        likely = mag[ok][own[ok] >= LIKELY_MEMBER]
        if p[ok] @ n_stars[ok] < 3 * (SEQUENCE_DEGREE + 1) or len(likely) < 2:
            return None
        g, c, w, bb, n_ok = mag[ok], colour[ok], p[ok] * n_stars[ok], b[ok], n_stars[ok]
        wf = p[ok] if field_p is None else field_p[ok]
        field_w = (1.0 - wf) * n_ok
        keep = np.ones(len(g), bool)
        for _ in range(2):
            coef = _sequence_fit(g[keep], c[keep], w[keep])
            r = c - np.polyval(coef, g)
            overall = np.sqrt(np.sum(w[keep] * r[keep] ** 2) / w[keep].sum())
            keep = np.abs(r) < CLIP_SIGMA * max(overall, MIN_SCATTER)
        scatter = _bin_scatter(r, w, bb, n_bins, overall)
        lo, hi = float(np.min(c)), float(np.max(c))
        edges = np.arange(lo, hi + FIELD_BIN, FIELD_BIN)
        k = np.clip(np.searchsorted(edges, c, side="right") - 1, 0, len(edges) - 2)
        cell, shape = bb * (len(edges) - 1) + k, (n_bins, len(edges) - 1)
        hist = np.bincount(cell, field_w, minlength=shape[0] * shape[1]).reshape(shape)
        # the field's pseudo-counts are in stars of the sample, weighted as they are
        hist += FIELD_PSEUDO * _per_star(1.0 - wf, n_ok)
        density = hist / hist.sum(axis=1, keepdims=True)
        if similar is not None:
            near = np.bincount(cell, field_w * similar[ok],
                               minlength=shape[0] * shape[1]).reshape(shape)
            prior = FIELD_PRIOR_STARS * _per_star((1.0 - wf) * similar[ok], n_ok)
            density = (near + prior * density) / (near.sum(axis=1, keepdims=True) + prior)
        density = density / FIELD_BIN
        return cls(coef, np.maximum(scatter, MIN_SCATTER), edges, density, (lo, hi),
                   mag_range or (float(np.min(likely)), float(np.max(likely))))

    def log_terms(self, mag: np.ndarray | None, colour: np.ndarray | None,
                  b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log L_c and log L_f per star (zeros where the star has no colour or lies outside
        ``mag_range``)."""
        n = len(b)
        lc, lf = np.zeros(n), np.zeros(n)
        if mag is None or colour is None:
            return lc, lf
        ok = np.isfinite(colour) & (mag >= self.mag_range[0]) & (mag <= self.mag_range[1])
        g, c, bb = mag[ok], colour[ok], b[ok]
        s = self.scatter[bb]
        m = np.polyval(self.coef, g)
        gauss = np.exp(-0.5 * ((c - m) / s) ** 2) / (np.sqrt(2 * np.pi) * s)
        width = max(self.colour_range[1] - self.colour_range[0], FIELD_BIN)
        # the binaries' band: the sequence's colours from G to G + 0.75 (within the fitted G)
        shifted = np.polyval(self.coef, np.clip(g + BINARY_SHIFT, *self.mag_range))
        mid, half = 0.5 * (m + shifted), 0.5 * np.maximum(np.abs(shifted - m), s)
        band = (ndtr((c - mid + half) / s) - ndtr((c - mid - half) / s)) / (2 * half)
        off = (1 - ANYWHERE) * band + ANYWHERE / width
        lc[ok] = np.log((1 - OFF_SEQUENCE) * gauss + OFF_SEQUENCE * off)
        k = np.clip(np.searchsorted(self.edges, c, side="right") - 1, 0, len(self.edges) - 2)
        inside = (c >= self.edges[0]) & (c <= self.edges[-1])
        lf[ok] = np.log(np.where(inside, self.field_density[bb, k], FIELD_PSEUDO / width))
        return lc, lf
