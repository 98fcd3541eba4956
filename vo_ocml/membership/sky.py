"""Sky geometry, in one place: mean direction, gnomonic projection, angular distance, extent."""

from __future__ import annotations

from typing import Any

import numpy as np


def sky_centre(ra: np.ndarray, dec: np.ndarray) -> tuple[float, float]:
    """Mean direction of a set of positions (degrees), robust to the RA wrap at 0/360."""
    r, d = np.radians(ra), np.radians(dec)
    v = np.array([np.mean(np.cos(d) * np.cos(r)), np.mean(np.cos(d) * np.sin(r)), np.mean(np.sin(d))])
    return float(np.degrees(np.arctan2(v[1], v[0])) % 360.0), float(np.degrees(np.arcsin(v[2] / np.linalg.norm(v))))


def tangent_plane(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float) -> np.ndarray:
    """Gnomonic projection about (ra0, dec0): returns (ξ, η) in degrees, shape (n, 2)."""
    d, dr = np.radians(dec), np.radians(ra) - np.radians(ra0)
    d0 = np.radians(dec0)
    sin_d, cos_d, cos_dr = np.sin(d), np.cos(d), np.cos(dr)  # each once: millions of rows
    cosc = np.sin(d0) * sin_d + np.cos(d0) * cos_d * cos_dr
    xi = cos_d * np.sin(dr) / cosc
    eta = (np.cos(d0) * sin_d - np.sin(d0) * cos_d * cos_dr) / cosc
    return np.degrees(np.column_stack([xi, eta]))


def from_tangent_plane(xi: float, eta: float, ra0: float, dec0: float) -> tuple[float, float]:
    """Inverse gnomonic projection of (ξ, η) degrees about (ra0, dec0) → (ra, dec) degrees."""
    x, y = np.radians(xi), np.radians(eta)
    d0 = np.radians(dec0)
    rho = np.hypot(x, y)
    c = np.arctan(rho)
    if rho == 0:
        return ra0, dec0
    dec = np.arcsin(np.cos(c) * np.sin(d0) + y * np.sin(c) * np.cos(d0) / rho)
    ra = np.radians(ra0) + np.arctan2(x * np.sin(c), rho * np.cos(d0) * np.cos(c) - y * np.sin(d0) * np.sin(c))
    return float(np.degrees(ra) % 360.0), float(np.degrees(dec))


def angular_distance(ra1: Any, dec1: Any, ra2: Any, dec2: Any) -> np.ndarray:
    """Great-circle distance in degrees between positions in degrees (haversine; broadcasts).

    The one angular distance of vo_ocml (the pipeline's sky check, King profiles, validation).
    """
    r1, d1, r2, d2 = (np.radians(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2))
    h = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def sky_extent(ra: np.ndarray, dec: np.ndarray) -> tuple[float, float, float]:
    """Centre (ra, dec) and radius in degrees of the smallest cone about the mean direction
    that holds every finite position; NaNs when there is none."""
    ok = np.isfinite(ra) & np.isfinite(dec)
    if not ok.any():
        return np.nan, np.nan, np.nan
    ra0, dec0 = sky_centre(ra[ok], dec[ok])
    return ra0, dec0, float(np.max(angular_distance(ra0, dec0, ra[ok], dec[ok])))


def sky_target(sky: np.ndarray, kin: np.ndarray, centre: np.ndarray,
               spread: np.ndarray) -> np.ndarray:
    """A cluster's sky position: the median of the 10 % of stars kinematically nearest it.

    ``sky`` (n, 2) tangent-plane positions, ``kin`` (n, 3) (pmra, pmdec, parallax), ``centre``
    the cluster's centroid and ``spread`` its spread per axis; at least the stars within 1σ.
    """
    d2 = np.sum(((kin - centre) / spread) ** 2, axis=1)
    near = d2 <= max(np.quantile(d2, 0.1), 1.0)
    return np.median(sky[near], axis=0)
