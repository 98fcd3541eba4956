"""Cluster name resolution: shipped catalogue first, Sesame when online; default radius."""

from __future__ import annotations

import math

import pytest
from astropy.coordinates.name_resolve import sesame_url

from vo_ocml.catalog import lookup_cluster
from vo_ocml.errors import InputError, NotFoundError, ServiceError
from vo_ocml.tap.resolve import (
    R50_FACTOR, RADIUS_MAX, RADIUS_MIN, default_radius, resolve_target,
)


def test_catalogue_name_gives_position_radius_and_hunt_name() -> None:
    target = resolve_target("M67", offline=True)
    entry = lookup_cluster("NGC 2682")
    assert target.name == "NGC 2682" and target.hunt_name == "NGC_2682"
    assert (target.ra, target.dec) == (entry.ra, entry.dec)
    assert math.isclose(target.radius, R50_FACTOR * entry.r50)
    assert target.position_source == entry.catalogue
    assert "r50" in target.radius_source


def test_sources_name_the_catalogue_of_each_value() -> None:
    # Dias et al. 2002 gives Saurer 1's position in B1950 and no proper motion (the UCC's taken)
    target = resolve_target("Saurer 1", offline=True)
    assert target.position_source == "Dias et al. 2002 read as B1950, precessed"
    assert target.radius_source.startswith("5 × r50 of Dias et al. 2002, within")


def test_default_radius_is_clipped() -> None:
    assert default_radius(lookup_cluster("Pleiades")) == RADIUS_MAX  # r50 ~ 1.1 deg
    assert default_radius(lookup_cluster("Berkeley 29")) == RADIUS_MIN  # r50 ~ 0.013 deg


def test_explicit_values_win_and_keep_catalogue_metadata() -> None:
    target = resolve_target("NGC 2682", ra=133.0, dec=12.0, radius=0.3)
    assert (target.ra, target.dec, target.radius) == (133.0, 12.0, 0.3)
    assert target.hunt_name == "NGC_2682" and target.radius_source == "given radius"
    coords = resolve_target(ra=10.0, dec=-5.0, radius=0.2)
    assert coords.name is None and coords.position_source == "given ra/dec"


@pytest.mark.parametrize("kwargs, match", [
    ({}, "cluster name"),
    ({"ra": 10.0}, "both ra=… and dec=…"),
    ({"ra": 10.0, "dec": 10.0}, "radius="),
    ({"name": "NGC 7833"}, "radius="),  # Dias et al. 2002: no r50, no rt
])
def test_missing_information_is_an_input_error(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        resolve_target(offline=True, **kwargs)


def test_unknown_name_offline_suggests_close_names() -> None:
    with pytest.raises(NotFoundError, match=r"NGC 2628x.*offline=.*Did you mean: NGC"):
        resolve_target("NGC 2628x", offline=True)


def test_sesame_unreachable_is_a_service_error() -> None:
    with sesame_url.set(["http://127.0.0.1:9/sesame/"]):
        with pytest.raises(ServiceError, match="Sesame"):
            resolve_target("no such cluster 12345", radius=0.2)


@pytest.mark.remote_data
def test_sesame_resolves_names_missing_from_the_catalogue() -> None:
    target = resolve_target("Sirius", radius=0.2)
    assert target.position_source == "Sesame"
    assert abs(target.ra - 101.287) < 0.01 and abs(target.dec + 16.716) < 0.01
