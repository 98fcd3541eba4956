"""King (1962) surface-density profile fitted to cluster members.

The profile is

.. math:: \\Sigma(r) = \\Sigma_{bg} + \\frac{\\Sigma_0}{1 + (r/r_c)^2}

with the core radius :math:`r_c`, the central density :math:`\\Sigma_0` above the background
and the background density :math:`\\Sigma_{bg}`. :func:`fit_king` bins the (optionally
probability-weighted) members into annuli around the centre, each holding about the same
number of stars, and fits the model with :func:`scipy.optimize.curve_fit` using the Poisson
uncertainty of each bin (``absolute_sigma=True``). Radii are handled in arcmin (densities in
stars per arcmin²); :attr:`KingFit.r_c_deg` gives the core radius in degrees.

Choices not fixed by the MST+GMM study: equal-count annuli (no empty bins), at least three
stars per bin; the fit extends to ``r_max``, by default the radius holding 98 % of the
members (the few outermost would make the last equal-count annulus huge); when the input
footprint is given (:func:`fit_members` always gives it) each annulus's area is the part
inside the footprint, mapped by the reach of the input stars in 24 position-angle sectors
(a cluster at the edge of a truncated cone or box keeps an unbiased profile); several starting
core radii, the lowest χ² wins (one start can slide into the degenerate r_c → 0 power law).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import curve_fit

from vo_ocml.analysis._annotated import run_view
from vo_ocml.membership.sky import angular_distance
from vo_ocml.errors import InputError
from vo_ocml.io.tables import param
from vo_ocml.membership.sky import sky_centre

#: fewest stars (total weight) for which a profile is fitted
MIN_STARS = 15
#: by default the profile stops at the radius holding this fraction of the members' weight
OUTER_FRACTION = 0.98
#: position-angle sectors used to map the footprint
N_SECTORS = 24
#: annuli less covered by the footprint than this are left out of the fit
MIN_COVERAGE = 0.2


def king_profile(r: np.ndarray, sigma_bg: float, sigma0: float, r_c: float) -> np.ndarray:
    """Evaluate the King (1962) surface density.

    Parameters
    ----------
    r : array_like
        Radius (any unit, the same as ``r_c``).
    sigma_bg, sigma0 : float
        Background and central (above background) surface density.
    r_c : float
        Core radius.

    Returns
    -------
    ndarray
        :math:`\\Sigma_{bg} + \\Sigma_0 / (1 + (r/r_c)^2)`.
    """
    r = np.asarray(r, dtype=float)
    return sigma_bg + sigma0 / (1.0 + (r / r_c) ** 2)


def sector_reach(ra: np.ndarray, dec: np.ndarray, centre: tuple[float, float],
                 n_sectors: int = N_SECTORS) -> np.ndarray:
    """Largest distance (deg) from ``centre`` that the positions reach in each position-angle sector.

    Parameters
    ----------
    ra, dec : array_like
        Positions of every input star (degrees).
    centre : (float, float)
        Centre (ra, dec) in degrees.
    n_sectors : int
        Number of equal position-angle sectors.

    Returns
    -------
    ndarray, shape (n_sectors,)
        Reach per sector in degrees (0 for an empty sector).
    """
    ra = np.asarray(ra, dtype=float)
    dec = np.asarray(dec, dtype=float)
    ok = np.isfinite(ra) & np.isfinite(dec)
    ra, dec = ra[ok], dec[ok]
    r = angular_distance(ra, dec, *centre)
    dra = ((ra - centre[0] + 180.0) % 360.0 - 180.0) * np.cos(np.radians(centre[1]))
    angle = np.arctan2(dec - centre[1], dra)
    sector = np.minimum(((angle + np.pi) / (2 * np.pi) * n_sectors).astype(int), n_sectors - 1)
    reach = np.zeros(n_sectors)
    np.maximum.at(reach, sector, r)
    return reach


def footprint_radius(ra: np.ndarray, dec: np.ndarray, centre: tuple[float, float],
                     n_sectors: int = N_SECTORS) -> float:
    """Radius (deg) of the circle around ``centre`` that the positions cover completely.

    The smallest :func:`sector_reach`: the cone radius for a cone centred on ``centre``, the
    half-width for a box, about 0 when ``centre`` lies at the edge of the data.
    """
    return float(sector_reach(ra, dec, centre, n_sectors).min())


def annulus_coverage(edges: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """Fraction of each annulus inside the footprint, from the reach of each sector.

    Each sector is taken as covered from the centre out to its reach, which holds for a cone or
    box that contains the centre and for a centre at the footprint's edge.

    Parameters
    ----------
    edges : ndarray
        Annulus edges (any unit, the same as ``reach``).
    reach : ndarray
        :func:`sector_reach` in that unit.

    Returns
    -------
    ndarray
        Covered fraction of each of the ``edges.size - 1`` annuli, in [0, 1].
    """
    inner, outer = edges[:-1], edges[1:]
    covered = np.clip(reach[:, None], inner, outer) ** 2 - inner ** 2
    return covered.mean(axis=0) / (outer ** 2 - inner ** 2)


def value_error(value: float, error: float) -> str:
    """Format ``value ± error`` with two significant digits of the error."""
    if not (np.isfinite(error) and error > 0) or error < 1e-6 * abs(value):
        return f"{value:.4g} ± {error:.2g}"
    digits = max(0, 1 - int(np.floor(np.log10(error))))
    return f"{value:.{digits}f} ± {error:.{digits}f}"


@dataclass(frozen=True)
class KingFit:
    """Result of :func:`fit_king`.

    Attributes
    ----------
    r_c, r_c_err : float
        Core radius and its 1σ uncertainty in arcmin.
    sigma0, sigma0_err : float
        Central surface density above the background, stars per arcmin².
    sigma_bg, sigma_bg_err : float
        Background surface density, stars per arcmin².
    centre : (float, float)
        Centre (ra, dec) in degrees used for the radii.
    r_max : float
        Outer radius of the fitted profile in arcmin.
    n_stars : float
        Number (total weight) of stars in the profile.
    radius, density, density_err : ndarray
        The binned profile: weighted mean radius (arcmin), surface density and its Poisson
        uncertainty (stars per arcmin²) of each annulus.
    edges : ndarray
        Annulus edges in arcmin.
    coverage : ndarray
        Fraction of each fitted annulus inside the footprint (1 when no footprint was given).
    covariance : ndarray, shape (3, 3)
        Covariance of (sigma_bg, sigma0, r_c).
    chi2 : float
        χ² of the fit; ``dof`` its degrees of freedom.
    dof : int
        Bins minus three.
    """

    r_c: float
    r_c_err: float
    sigma0: float
    sigma0_err: float
    sigma_bg: float
    sigma_bg_err: float
    centre: tuple[float, float]
    r_max: float
    n_stars: float
    radius: np.ndarray
    density: np.ndarray
    density_err: np.ndarray
    edges: np.ndarray
    coverage: np.ndarray
    covariance: np.ndarray
    chi2: float
    dof: int

    @property
    def r_c_deg(self) -> float:
        """Core radius in degrees."""
        return self.r_c / 60.0

    @property
    def r_c_err_deg(self) -> float:
        """Uncertainty of the core radius in degrees."""
        return self.r_c_err / 60.0

    def model(self, r: np.ndarray) -> np.ndarray:
        """Fitted surface density (stars per arcmin²) at radius ``r`` (arcmin)."""
        return king_profile(r, self.sigma_bg, self.sigma0, self.r_c)

    def as_rows(self) -> list[tuple[str, str]]:
        """Rows ``(label, value)`` for tables and text output."""
        return [
            ("King r_c", f"{value_error(self.r_c, self.r_c_err)} arcmin "
                         f"({value_error(self.r_c_deg, self.r_c_err_deg)} deg)"),
            ("King Σ0", f"{value_error(self.sigma0, self.sigma0_err)} stars/arcmin²"),
            ("King Σ_bg", f"{value_error(self.sigma_bg, self.sigma_bg_err)} stars/arcmin²"),
            ("King fit", f"{self.n_stars:.0f} stars in {self.radius.size} annuli to {self.r_max:.3g} arcmin, "
                         f"χ²/dof = {self.chi2:.1f}/{self.dof}"
                         + (f"; annuli {100 * self.coverage.min():.0f}–{100 * self.coverage.max():.0f} % "
                            "inside the footprint" if self.coverage.min() < 0.995 else "")),
        ]

    def format(self) -> str:
        """Multi-line text summary."""
        return "\n".join(f"{label:10s} {value}" for label, value in self.as_rows())

    def as_params(self) -> list[dict[str, Any]]:
        """VOTable PARAM dicts (name, value, ucd, unit, description) for the output table."""
        def p(name: str, value: float, ucd: str, unit: str | None, description: str) -> dict[str, Any]:
            return param(name, float(value), ucd, unit, description)
        return [
            p("ocml_king_rc", self.r_c_deg, "phys.angSize;src", "deg",
              "King (1962) core radius of the members"),
            p("ocml_king_rc_err", self.r_c_err_deg, "stat.error;phys.angSize;src", "deg",
              "uncertainty of the King core radius"),
            p("ocml_king_sigma0", self.sigma0, "phys.density", "arcmin-2",
              "King central surface density above the background (members)"),
            p("ocml_king_sigma0_err", self.sigma0_err, "stat.error;phys.density", "arcmin-2",
              "uncertainty of the King central surface density"),
            p("ocml_king_sigma_bg", self.sigma_bg, "phys.density", "arcmin-2",
              "King background surface density (members)"),
            p("ocml_king_sigma_bg_err", self.sigma_bg_err, "stat.error;phys.density", "arcmin-2",
              "uncertainty of the King background surface density"),
            p("ocml_king_chi2_dof", self.chi2 / self.dof if self.dof > 0 else float("nan"), "stat.fit.chi2",
              None, "reduced chi-square of the King fit"),
        ]


def _weights(n: int, weights: np.ndarray | None) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights)
    if w.shape != (n,):
        raise InputError(f"weights must have the shape of ra ({n},), not {w.shape}")
    w = w.astype(float)
    return np.where(np.isfinite(w) & (w > 0), w, 0.0)


def _best_fit(radius: np.ndarray, density: np.ndarray, density_err: np.ndarray,
              outer: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Least-squares King fit from several starting core radii; the lowest χ² wins.

    One start can slide into the degenerate power law (r_c → 0, Σ0 → ∞) when the outer
    annuli are sparse; starting from core radii spread over the profile avoids that.
    """
    inner = float(density[: max(1, density.size // 4)].mean())
    bg0 = 0.5 * float(density[-max(1, density.size // 5):].mean())
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    problem = ""
    for r_c0 in np.geomspace(max(radius[0], 1e-3), max(radius[-1] / 2, 2e-3), 6):
        try:
            popt, pcov = curve_fit(
                king_profile, radius, density, p0=(bg0, max(inner - bg0, 1e-6), r_c0), sigma=density_err,
                absolute_sigma=True, bounds=([0.0, 0.0, 1e-4], [np.inf, np.inf, 10 * outer]), maxfev=20000,
            )
        except (RuntimeError, ValueError) as exc:
            problem = str(exc)
            continue
        chi2 = float(np.sum(((density - king_profile(radius, *popt)) / density_err) ** 2))
        if np.all(np.isfinite(pcov)) and (best is None or chi2 < best[2]):
            best = (popt, pcov, chi2)
    if best is None:
        raise InputError(f"the King profile fit did not converge {problem}".strip())
    return best


def fit_king(
    ra: np.ndarray,
    dec: np.ndarray,
    centre: tuple[float, float] | None = None,
    weights: np.ndarray | None = None,
    *,
    r_max: float | None = None,
    n_bins: int | None = None,
    footprint: tuple[np.ndarray, np.ndarray] | None = None,
) -> KingFit:
    """Fit a King (1962) profile to the surface density of (weighted) stars.

    Parameters
    ----------
    ra, dec : array_like
        Positions in degrees.
    centre : (float, float), optional
        Cluster centre (ra, dec) in degrees; by default the mean direction of the stars with
        positive weight.
    weights : array_like, optional
        A boolean member mask or membership probabilities (non-finite → 0); all stars count
        once by default.
    r_max : float, optional
        Outer radius of the profile in degrees; by default the radius holding
        :data:`OUTER_FRACTION` (98 %) of the weight: a few far, sparse members would otherwise
        make the outermost equal-count annulus huge and pull the fit into the r_c → 0 power law.
    n_bins : int, optional
        Number of equal-count annuli; by default ``clip(sqrt(N), 5, 25)`` with at least three
        stars each.
    footprint : (ndarray, ndarray), optional
        (ra, dec) of every input star: each annulus's area is reduced to the part inside the
        footprint (:func:`annulus_coverage`), and annuli less than :data:`MIN_COVERAGE` covered
        are left out. Without it the annuli are taken as fully covered.

    Returns
    -------
    KingFit

    Raises
    ------
    InputError
        Fewer than :data:`MIN_STARS` stars, or the fit does not converge.
    """
    ra = np.asarray(ra, dtype=float)
    dec = np.asarray(dec, dtype=float)
    w = _weights(ra.size, weights)
    ok = np.isfinite(ra) & np.isfinite(dec) & (w > 0)
    if centre is None:
        centre = sky_centre(ra[ok], dec[ok]) if ok.any() else (np.nan, np.nan)
    r = angular_distance(ra[ok], dec[ok], *centre) * 60.0
    w = w[ok]
    if r_max is None and r.size:
        order = np.argsort(r)
        cum = np.cumsum(w[order])
        r_max = float(r[order][np.searchsorted(cum, OUTER_FRACTION * cum[-1])]) / 60.0
    if r_max is not None:
        inside = r <= r_max * 60.0
        r, w = r[inside], w[inside]
    n_stars = float(w.sum())
    if n_stars < MIN_STARS or r.size < MIN_STARS:
        raise InputError(f"a King profile needs at least {MIN_STARS} stars; got {n_stars:.0f}")
    outer = r_max * 60.0

    if n_bins is None:
        n_bins = int(np.clip(np.sqrt(r.size), 5, 25))
    n_bins = int(max(4, min(n_bins, r.size // 3)))
    order = np.argsort(r)
    r, w = r[order], w[order]
    cum = np.cumsum(w)
    cuts = np.clip(np.searchsorted(cum, cum[-1] * np.arange(1, n_bins) / n_bins), 1, r.size - 1)
    edges = np.unique(np.concatenate([[0.0], 0.5 * (r[cuts - 1] + r[cuts]), [outer]]))
    index = np.clip(np.searchsorted(edges, r, side="right") - 1, 0, edges.size - 2)
    counts = np.bincount(index, weights=w, minlength=edges.size - 1)
    sum_w2 = np.bincount(index, weights=w * w, minlength=edges.size - 1)
    mean_r = np.bincount(index, weights=w * r, minlength=edges.size - 1)
    coverage = np.ones(edges.size - 1)
    if footprint is not None:
        coverage = annulus_coverage(edges, sector_reach(*footprint, centre) * 60.0)
    area = np.pi * (edges[1:] ** 2 - edges[:-1] ** 2) * coverage
    keep = (counts > 0) & (area > 0) & (coverage >= MIN_COVERAGE)
    if keep.sum() < 4:
        raise InputError("a King profile needs at least four annuli inside the footprint; "
                         f"got {int(keep.sum())}")
    radius = mean_r[keep] / counts[keep]
    density = counts[keep] / area[keep]
    # Poisson error; a floor of one star keeps near-empty annuli from dominating
    density_err = np.sqrt(np.maximum(sum_w2[keep], 1.0)) / area[keep]

    popt, pcov, chi2 = _best_fit(radius, density, density_err, outer)
    err = np.sqrt(np.clip(np.diag(pcov), 0.0, np.inf))
    return KingFit(
        r_c=float(popt[2]), r_c_err=float(err[2]), sigma0=float(popt[1]), sigma0_err=float(err[1]),
        sigma_bg=float(popt[0]), sigma_bg_err=float(err[0]), centre=(float(centre[0]), float(centre[1])),
        r_max=outer, n_stars=n_stars, radius=radius, density=density, density_err=density_err,
        edges=edges, coverage=coverage[keep], covariance=pcov, chi2=chi2, dof=int(radius.size - 3),
    )


def fit_members(run: Any, *, threshold: float | None = None) -> KingFit:
    """Fit a King profile to the members of a run.

    The centre is the members' mean direction (as in the run's summary); the profile extends to
    the radius holding 98 % of the members, with the annuli's areas corrected for the part
    outside the table's footprint (every row's position). Members selected partly by position
    (the MST+GMM mixture includes ra and dec) thin out faster than a King profile far out.

    Parameters
    ----------
    run : vo_ocml.annotated.Annotated or astropy.table.Table
        The run, or a table annotated by vo_ocml (``ocml_prob``).
    threshold : float, optional
        Members are the rows with probability above it; by default the run's threshold.

    Returns
    -------
    KingFit

    Raises
    ------
    InputError
        Too few members, or the fit does not converge.
    """
    view = run_view(run, threshold)
    ra, dec = view.arrays["ra"], view.arrays["dec"]
    members = view.member & np.isfinite(ra) & np.isfinite(dec)
    if members.sum() < MIN_STARS:
        raise InputError(f"a King profile needs at least {MIN_STARS} members; got {int(members.sum())}")
    centre = sky_centre(ra[members], dec[members])
    return fit_king(ra, dec, centre, members, footprint=(ra, dec))
