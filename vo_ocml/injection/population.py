"""The stars of a simulated open cluster: masses, magnitudes, colours, positions and motions.

Everything here is physical and field-independent; :mod:`vo_ocml.injection.field` places the
result into a real table and observes it with that table's errors.

- Masses: Kroupa (2001) IMF (slope 1.3 below 0.5 M☉, 2.3 above) between ``MASS_MIN`` and the
  main-sequence turn-off of the cluster's age, ``M_to ≈ (age / 10 Gyr)^(-1/2.5)`` M☉ (the
  main-sequence lifetime scaling t ∝ M^-2.5). Evolved stars (giants, white dwarfs) are not
  simulated: a cluster of ``n`` members has ``n`` main-sequence stars above ``MASS_MIN``.
- Absolute G and intrinsic BP−RP from mass: a dwarf sequence interpolated in ``MAIN_SEQUENCE``
  (rounded from Pecaut & Mamajek 2013, ApJS 208, 9, table version 2022: mass, M_V, BP−RP,
  with G − V from the colour); a fraction ``BINARY_FRACTION`` of stars are unresolved binaries
  with a uniform mass ratio (fluxes added in G, BP and RP).
- Extinction: ``A_0`` from a cosecant law in Galactic latitude (``DUST_MAG_PER_KPC`` in the
  plane, dust scale height ``DUST_SCALE_HEIGHT_KPC``), times a log-normal patchiness factor,
  and a small star-to-star differential term; A_G and E(BP−RP) from ``A_0`` with the mean
  Gaia coefficients at BP−RP ≈ 1 (Gaia Collaboration, Babusiaux et al. 2018, A&A 616, A10).
- Positions: a King (1962) surface-density profile between core radius ``r_c`` and tidal
  radius ``r_t`` (in parsecs); the line-of-sight depth is drawn from the same profile.
- Velocities: an isotropic Gaussian internal dispersion ``sigma_v`` (km/s), i.e.
  ``sigma_v / (4.74047 d[kpc])`` mas/yr in each proper-motion component.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: lowest stellar mass simulated (M☉); the sequence below ends at M_G ≈ 13.8
MASS_MIN = 0.1
#: highest main-sequence mass in ``MAIN_SEQUENCE`` (M☉)
MASS_MAX = 7.3
#: Kroupa (2001) IMF: break mass (M☉) and slopes below / above it (dN/dM ∝ M^-alpha)
KROUPA_BREAK, KROUPA_LOW, KROUPA_HIGH = 0.5, 1.3, 2.3
#: main-sequence lifetime of a 1 M☉ star (yr) and the exponent of t ∝ M^-2.5
SUN_LIFETIME_YR, LIFETIME_EXPONENT = 1.0e10, 2.5
#: dwarf sequence: mass (M☉), absolute G (mag), intrinsic BP−RP (mag); after Pecaut & Mamajek 2013
MAIN_SEQUENCE = np.array([
    (0.10, 13.8, 3.80), (0.16, 12.3, 3.20), (0.23, 11.2, 2.85), (0.44, 9.4, 2.25),
    (0.57, 8.2, 1.84), (0.70, 6.9, 1.42), (0.88, 5.6, 0.98), (0.96, 4.95, 0.86),
    (1.10, 4.2, 0.72), (1.33, 3.3, 0.55), (1.61, 2.45, 0.37), (1.90, 1.9, 0.20),
    (2.30, 1.1, 0.00), (3.00, 0.2, -0.08), (4.40, -0.9, -0.15), (7.30, -1.9, -0.25)])
#: G − RP as a function of BP−RP (mag), for splitting G into BP and RP fluxes (dwarfs)
G_MINUS_RP = np.array([(-0.3, -0.15), (0.0, 0.0), (0.5, 0.32), (0.82, 0.48), (1.5, 0.80),
                       (2.0, 0.98), (2.5, 1.12), (3.0, 1.25), (4.0, 1.45)])
#: colour scatter of single stars about the sequence (mag): metallicity, rotation, photometry
SEQUENCE_SCATTER = 0.02
#: unresolved binaries: fraction of systems, and the lowest companion mass ratio
BINARY_FRACTION, BINARY_Q_MIN = 0.3, 0.1
#: A_G / A_0 and E(BP−RP) / A_0 at BP−RP ≈ 1, A_0 ≈ 1 (Babusiaux et al. 2018, Table 1)
AG_PER_A0, EBPRP_PER_A0 = 0.79, 0.45
#: visual extinction per kpc in the Galactic plane, and the dust layer's scale height (kpc)
DUST_MAG_PER_KPC, DUST_SCALE_HEIGHT_KPC = 0.8, 0.11
#: log-normal patchiness of the line-of-sight extinction (natural-log sigma) and the
#: star-to-star differential extinction across a cluster (fraction of A_0)
DUST_PATCHINESS, DIFFERENTIAL_EXTINCTION = 0.4, 0.05
#: km/s per (mas/yr · kpc)
KMS_PER_MASYR_KPC = 4.74047


@dataclass(frozen=True)
class Population:
    """Intrinsic properties of ``n`` simulated cluster stars.

    Attributes
    ----------
    mass : ndarray
        Primary masses (M☉).
    abs_g, colour : ndarray
        Absolute G and intrinsic BP−RP of the system (binaries combined), mag.
    x, y, z : ndarray
        Offsets from the cluster centre in parsecs: x, y on the sky, z along the line of sight
        (positive away from us).
    """

    mass: np.ndarray
    abs_g: np.ndarray
    colour: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray


def turnoff_mass(age_yr: float) -> float:
    """Main-sequence turn-off mass (M☉) at ``age_yr``, capped at ``MASS_MAX``."""
    return float(min(MASS_MAX, (age_yr / SUN_LIFETIME_YR) ** (-1.0 / LIFETIME_EXPONENT)))


def kroupa_masses(rng: np.random.Generator, n: int, m_min: float, m_max: float) -> np.ndarray:
    """``n`` masses from the Kroupa (2001) IMF between ``m_min`` and ``m_max`` (M☉)."""
    def integral(a: float, b: float, alpha: float) -> float:
        return (b ** (1 - alpha) - a ** (1 - alpha)) / (1 - alpha)

    lo_hi = [(m_min, min(m_max, KROUPA_BREAK), KROUPA_LOW), (max(m_min, KROUPA_BREAK), m_max, KROUPA_HIGH)]
    # continuity at the break: the upper segment's normalisation is KROUPA_BREAK^(high − low)
    scale = [1.0, KROUPA_BREAK ** (KROUPA_HIGH - KROUPA_LOW)]
    weights = np.array([s * integral(a, b, al) if b > a else 0.0 for (a, b, al), s in zip(lo_hi, scale)])
    segment = rng.choice(2, size=n, p=weights / weights.sum())
    u = rng.random(n)
    masses = np.empty(n)
    for k, (a, b, alpha) in enumerate(lo_hi):
        sel = segment == k
        if not sel.any():
            continue
        ea, eb = a ** (1 - alpha), b ** (1 - alpha)
        masses[sel] = (ea + u[sel] * (eb - ea)) ** (1.0 / (1 - alpha))
    return masses


def _sequence(mass: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = np.log(MAIN_SEQUENCE[:, 0])
    return (np.interp(np.log(mass), m, MAIN_SEQUENCE[:, 1]),
            np.interp(np.log(mass), m, MAIN_SEQUENCE[:, 2]))


def bp_rp_fluxes(g: np.ndarray, colour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BP and RP magnitudes of stars with G magnitude ``g`` and colour BP−RP ``colour``."""
    rp = g - np.interp(colour, G_MINUS_RP[:, 0], G_MINUS_RP[:, 1])
    return rp + colour, rp


def photometry(rng: np.random.Generator, mass: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absolute G and intrinsic BP−RP of systems with primary masses ``mass``."""
    g, colour = _sequence(mass)
    colour = colour + rng.normal(0.0, SEQUENCE_SCATTER, len(mass))
    binary = rng.random(len(mass)) < BINARY_FRACTION
    q = rng.uniform(BINARY_Q_MIN, 1.0, len(mass))
    g2, c2 = _sequence(np.maximum(mass * q, MASS_MIN))
    bp1, rp1 = bp_rp_fluxes(g, colour)
    bp2, rp2 = bp_rp_fluxes(g2, c2)

    def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return -2.5 * np.log10(10 ** (-0.4 * a) + 10 ** (-0.4 * b))

    g_sys = np.where(binary, add(g, g2), g)
    colour_sys = np.where(binary, add(bp1, bp2) - add(rp1, rp2), colour)
    return g_sys, colour_sys


def king_radii(rng: np.random.Generator, n: int, r_core: float, r_tidal: float) -> np.ndarray:
    """Projected radii of ``n`` stars following a King (1962) surface density (same units)."""
    r = np.linspace(0.0, r_tidal, 2049)
    density = (1 / np.sqrt(1 + (r / r_core) ** 2) - 1 / np.sqrt(1 + (r_tidal / r_core) ** 2)) ** 2
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] * r[1:] + density[:-1] * r[:-1]))])
    return np.interp(rng.random(n), cdf / cdf[-1], r)


def positions(rng: np.random.Generator, n: int, r_core: float,
              r_tidal: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sky offsets x, y and line-of-sight depth z (pc) of ``n`` King-profile members."""
    radius = king_radii(rng, n, r_core, r_tidal)
    phi = rng.uniform(0.0, 2 * np.pi, n)
    depth = king_radii(rng, n, r_core, r_tidal) * np.cos(rng.uniform(0.0, 2 * np.pi, n))
    return radius * np.cos(phi), radius * np.sin(phi), depth


def simulate_population(rng: np.random.Generator, n: int, *, age_yr: float, r_core: float,
                        r_tidal: float) -> Population:
    """``n`` main-sequence members of a cluster of age ``age_yr`` (King radii in pc)."""
    mass = kroupa_masses(rng, n, MASS_MIN, max(turnoff_mass(age_yr), MASS_MIN * 1.01))
    abs_g, colour = photometry(rng, mass)
    x, y, z = positions(rng, n, r_core, r_tidal)
    return Population(mass, abs_g, colour, x, y, z)


def line_of_sight_a0(distance_kpc: float, b_deg: float) -> float:
    """Mean A_0 (mag) to ``distance_kpc`` at Galactic latitude ``b_deg`` (cosecant law)."""
    sin_b = max(abs(np.sin(np.radians(b_deg))), 1e-3)
    h = DUST_SCALE_HEIGHT_KPC / sin_b
    return float(DUST_MAG_PER_KPC * h * (1 - np.exp(-distance_kpc / h)))


def pm_dispersion(sigma_v_kms: float, distance_kpc: float) -> float:
    """Proper-motion dispersion (mas/yr) of an internal velocity dispersion at a distance."""
    return sigma_v_kms / (KMS_PER_MASYR_KPC * distance_kpc)
