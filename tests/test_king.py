"""King (1962) profile fit: recovery of a known synthetic profile and the geometry helpers."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from vo_ocml.analysis.king import (
    annulus_coverage, fit_king, fit_members, footprint_radius, king_profile,
    sector_reach, value_error,
)
from vo_ocml.errors import InputError
from vo_ocml.membership.sky import angular_distance

RA0, DEC0 = 150.0, 30.0


def synthetic_cluster(n_cluster: int, r_c: float, radius: float, n_background: int, seed: int,
                      ra0: float = RA0, dec0: float = DEC0) -> tuple[np.ndarray, np.ndarray]:
    """Stars drawn from Σ ∝ 1/(1 + (r/r_c)²) inside ``radius`` (deg) plus a uniform background."""
    rng = np.random.default_rng(seed)
    u = rng.random(n_cluster)
    r = r_c * np.sqrt(np.expm1(u * np.log1p((radius / r_c) ** 2)))
    r = np.concatenate([r, radius * np.sqrt(rng.random(n_background))])
    theta = rng.random(r.size) * 2 * np.pi
    dec = dec0 + r * np.sin(theta)
    ra = ra0 + r * np.cos(theta) / np.cos(np.radians(dec0))
    return ra, dec


def expected_sigma0(n_cluster: int, r_c: float, radius: float) -> float:
    """Σ0 (per arcmin²) of ``n_cluster`` stars in a King profile truncated at ``radius`` (deg)."""
    r_c, radius = 60 * r_c, 60 * radius
    return n_cluster / (np.pi * r_c ** 2 * np.log1p((radius / r_c) ** 2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_known_profile_within_errors(seed: int) -> None:
    r_c, radius, n_c, n_bg = 0.05, 0.5, 800, 400
    ra, dec = synthetic_cluster(n_c, r_c, radius, n_bg, seed)
    fit = fit_king(ra, dec, (RA0, DEC0), r_max=radius)
    assert abs(fit.r_c - 60 * r_c) < 3 * fit.r_c_err
    assert fit.r_c_err < 0.2 * fit.r_c
    assert abs(fit.r_c_deg - r_c) < 3 * fit.r_c_err_deg
    assert abs(fit.sigma0 - expected_sigma0(n_c, r_c, radius)) < 3 * fit.sigma0_err
    background = n_bg / (np.pi * (60 * radius) ** 2)
    assert abs(fit.sigma_bg - background) < 3 * fit.sigma_bg_err
    assert fit.dof == fit.radius.size - 3
    assert fit.chi2 / fit.dof < 3


def test_weights_mask_and_default_centre() -> None:
    ra, dec = synthetic_cluster(600, 0.04, 0.4, 0, seed=3)
    junk_ra = np.concatenate([ra, [np.nan, 10.0, 11.0]])
    junk_dec = np.concatenate([dec, [1.0, np.nan, -80.0]])
    mask = np.r_[np.ones(ra.size, bool), False, False, False]
    a = fit_king(ra, dec, (RA0, DEC0))
    b = fit_king(junk_ra, junk_dec, (RA0, DEC0), mask)
    assert b.r_c == pytest.approx(a.r_c)
    c = fit_king(ra, dec)  # centre = mean position
    assert angular_distance(np.array([c.centre[0]]), np.array([c.centre[1]]), RA0, DEC0)[0] < 0.01
    assert abs(c.r_c - 2.4) < 3 * c.r_c_err
    probability = np.full(ra.size, 0.5)
    d = fit_king(ra, dec, (RA0, DEC0), probability)
    assert d.r_c == pytest.approx(a.r_c, rel=1e-6)
    assert d.n_stars == pytest.approx(0.5 * a.n_stars)
    assert a.n_stars == pytest.approx(0.98 * ra.size, abs=2)  # the outermost 2 % left out


def test_too_few_stars_and_bad_weights() -> None:
    ra, dec = synthetic_cluster(10, 0.05, 0.5, 0, seed=0)
    with pytest.raises(InputError, match="at least"):
        fit_king(ra, dec, (RA0, DEC0))
    with pytest.raises(InputError, match="shape"):
        fit_king(ra, dec, (RA0, DEC0), np.ones(3))


def test_profile_and_formatting() -> None:
    assert king_profile(np.array([0.0, 1.0]), 1.0, 4.0, 1.0) == pytest.approx([5.0, 3.0])
    assert value_error(2.5234, 0.234) == "2.52 ± 0.23"
    assert value_error(153.2, 12.3) == "153 ± 12"
    ra, dec = synthetic_cluster(500, 0.05, 0.5, 100, seed=4)
    fit = fit_king(ra, dec, (RA0, DEC0), r_max=0.5)
    text = fit.format()
    assert "r_c" in text and "arcmin" in text and "deg" in text
    assert fit.model(np.array([0.0]))[0] == pytest.approx(fit.sigma_bg + fit.sigma0)
    params = {p["name"]: p for p in fit.as_params()}
    assert params["ocml_king_rc"]["value"] == pytest.approx(fit.r_c_deg)
    assert params["ocml_king_rc"]["unit"] == "deg"


def test_geometry_helpers() -> None:
    assert angular_distance(np.array([10.0]), np.array([0.0]), 11.0, 0.0)[0] == pytest.approx(1.0)
    assert angular_distance(np.array([0.0]), np.array([89.0]), 180.0, 89.0)[0] == pytest.approx(2.0)
    rng = np.random.default_rng(0)
    r = 0.5 * np.sqrt(rng.random(20000))
    theta = rng.random(r.size) * 2 * np.pi
    cone_dec = DEC0 + r * np.sin(theta)
    cone_ra = RA0 + r * np.cos(theta) / np.cos(np.radians(DEC0))
    assert footprint_radius(cone_ra, cone_dec, (RA0, DEC0)) == pytest.approx(0.5, rel=0.03)
    box_dec = DEC0 + rng.uniform(-0.3, 0.3, 20000)
    box_ra = RA0 + rng.uniform(-0.3, 0.3, 20000) / np.cos(np.radians(DEC0))
    assert footprint_radius(box_ra, box_dec, (RA0, DEC0)) == pytest.approx(0.3 * np.sqrt(1 + 0.04), rel=0.08)


def test_truncated_footprint_is_corrected() -> None:
    """A cluster at the edge of the data (like a row-capped cone): half of it is missing."""
    r_c, radius = 0.05, 0.5
    ra, dec = synthetic_cluster(1600, r_c, radius, 800, seed=6)
    field_ra, field_dec = synthetic_cluster(0, r_c, radius, 20000, seed=7)
    keep, keep_field = dec < DEC0 + 0.01, field_dec < DEC0 + 0.01
    ra, dec = ra[keep], dec[keep]
    fit = fit_king(ra, dec, (RA0, DEC0), r_max=0.45,
                   footprint=(np.r_[ra, field_ra[keep_field]], np.r_[dec, field_dec[keep_field]]))
    assert abs(fit.r_c - 60 * r_c) < 3 * fit.r_c_err
    assert abs(fit.sigma0 - expected_sigma0(1600, r_c, radius)) < 3 * fit.sigma0_err
    assert 0.45 < fit.coverage.min() < 0.6 and "footprint" in fit.format()
    naive = fit_king(ra, dec, (RA0, DEC0), r_max=0.45)
    assert naive.sigma0 < 0.75 * fit.sigma0  # without the footprint the density is halved


def test_coverage_of_annuli() -> None:
    reach = np.array([1.0, 1.0, 0.5, 0.0])
    assert annulus_coverage(np.array([0.0, 0.5, 1.0, 2.0]), reach) == pytest.approx([0.75, 0.5, 0.0])
    ra, dec = synthetic_cluster(0, 0.05, 0.5, 5000, seed=8)
    assert sector_reach(ra, dec, (RA0, DEC0)).shape == (24,)


def test_fit_members_uses_the_footprint() -> None:
    ra, dec = synthetic_cluster(700, 0.05, 0.5, 3000, seed=5)
    member = np.arange(ra.size) < 700
    table = Table({"ra": ra, "dec": dec, "pmra": np.zeros(ra.size), "pmdec": np.zeros(ra.size),
                   "parallax": np.ones(ra.size), "ocml_prob": np.where(member, 0.9, 0.1)})
    fit = fit_members(table)
    assert fit.n_stars == 686  # 98 % of the members
    assert 25.0 < fit.r_max < 30.0
    assert abs(fit.r_c - 3.0) < 3 * fit.r_c_err
    table["ocml_prob"] = 0.0
    with pytest.raises(InputError, match="members"):
        fit_members(table)
