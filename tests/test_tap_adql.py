"""The ADQL builder: cone text, quality cuts, validation, identifier quoting."""

from __future__ import annotations

import pytest

from vo_ocml.errors import InputError
from vo_ocml.tap.adql import BASE_COLUMNS, ConeQuery, members_query, table_identifier


def test_cone_adql_has_contains_circle_and_default_cuts() -> None:
    adql = ConeQuery(132.85, 11.8174, 0.5).adql()
    assert adql.startswith("SELECT " + ", ".join(BASE_COLUMNS) + " FROM gaiadr3.gaia_source ")
    assert "\n" not in adql
    assert "1=CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 132.85, 11.8174, 0.5))" in adql
    for cut in ("phot_g_mean_mag <= 20.0", "parallax > 0", "pmra IS NOT NULL",
                "pmdec IS NOT NULL", "bp_rp IS NOT NULL"):
        assert cut in adql


def test_base_columns_cover_the_methods_inputs_and_errors() -> None:
    for name in ("source_id", "ra", "dec", "parallax", "pmra", "pmdec", "ruwe",
                 "phot_g_mean_mag", "bp_rp"):
        assert name in BASE_COLUMNS
    for name in ("ra", "dec", "parallax", "pmra", "pmdec"):
        assert f"{name}_error" in BASE_COLUMNS


def test_options_change_the_query() -> None:
    cone = ConeQuery(359.5 + 360.0 - 360.0, -30.25, 1.25, gmax=18.5,
                     extra_columns=("radial_velocity", "ra", " phot_bp_mean_mag ",
                                    "radial_velocity", ""),
                     table="mirror.gaia_dr3_source")
    adql = cone.adql()
    assert "FROM mirror.gaia_dr3_source" in adql
    assert "CIRCLE('ICRS', 359.5, -30.25, 1.25)" in adql
    assert "phot_g_mean_mag <= 18.5" in adql
    assert cone.extra_columns == ("radial_velocity", "phot_bp_mean_mag")
    assert cone.columns[-2:] == ("radial_velocity", "phot_bp_mean_mag")


def test_full_precision_and_ra_wrap() -> None:
    cone = ConeQuery(360.0, 0.123456789012345, 0.1)
    assert cone.ra == 0.0
    assert "0.123456789012345" in cone.adql()


@pytest.mark.parametrize("kwargs, match", [
    ({"ra": 400.0}, "ra"),
    ({"dec": -91.0}, "dec"),
    ({"radius": 0.0}, "radius"),
    ({"radius": 11.0}, "radius"),
    ({"radius": float("nan")}, "radius"),
    ({"gmax": "faint"}, "gmax"),
    ({"extra_columns": ("ra; DROP TABLE x",)}, "column name"),
    ({"table": 'bad"name.x'}, "table name"),
])
def test_bad_options_raise_input_error(kwargs: dict, match: str) -> None:
    args = {"ra": 10.0, "dec": 10.0, "radius": 0.5} | kwargs
    with pytest.raises(InputError, match=match):
        ConeQuery(**args)


def test_table_identifier_quotes_vizier_names() -> None:
    assert table_identifier("gaiadr3.gaia_source") == "gaiadr3.gaia_source"
    assert table_identifier("J/A+A/673/A114/members") == '"J/A+A/673/A114/members"'
    assert table_identifier('"J/A+A/673/A114/members"') == '"J/A+A/673/A114/members"'


def test_members_query_quotes_table_and_escapes_name() -> None:
    assert members_query("NGC_2682") == (
        'SELECT * FROM "J/A+A/673/A114/members" WHERE "Name" = \'NGC_2682\'')
    assert "'O''Brien_1'" in members_query("O'Brien_1")
    with pytest.raises(InputError):
        members_query("  ")
