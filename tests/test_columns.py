"""Column resolution: Gaia names, VizieR names, UCDs, overrides, unit conversion, errors."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Column, Table

from vo_ocml.errors import InputError
from vo_ocml.io.columns import resolve_columns


def _vizier() -> Table:
    t = Table({"RA_ICRS": [10.0, 11.0], "DE_ICRS": [-5.0, -4.0], "Plx": [1.0, 2.0],
               "e_Plx": [0.1, 0.2], "pmRA": [3.0, 4.0], "pmDE": [5.0, 6.0], "Gmag": [15.0, 16.0],
               "BP-RP": [1.0, 1.2]})
    return t


def test_gaia_archive_names(m67_table):
    cmap = resolve_columns(m67_table)
    assert cmap.columns["parallax"] == "parallax" and cmap.how["parallax"] == "name"
    arrays = cmap.arrays(m67_table)
    np.testing.assert_allclose(arrays["pmra"], np.asarray(m67_table["pmra"], float))
    assert arrays["source_id"].dtype == np.int64


def test_vizier_names():
    cmap = resolve_columns(_vizier())
    assert cmap.columns["ra"] == "RA_ICRS" and cmap.columns["parallax_error"] == "e_Plx"
    assert cmap.columns["bp_rp"] == "BP-RP" and cmap.columns["phot_g_mean_mag"] == "Gmag"


def test_ucds_when_names_are_unknown():
    t = Table({"a": [1.0], "b": [2.0], "c": [0.5], "d": [1.0], "e": [2.0]})
    for name, ucd in zip("abcde", ("pos.eq.ra;meta.main", "pos.eq.dec;meta.main",
                                   "pos.parallax.trig", "pos.pm;pos.eq.ra", "pos.pm;pos.eq.dec")):
        t[name].meta["ucd"] = ucd
    cmap = resolve_columns(t)
    assert [cmap.columns[q] for q in ("ra", "dec", "parallax", "pmra", "pmdec")] == list("abcde")
    assert set(cmap.how.values()) == {"ucd"}


def test_units_are_converted_not_misread():
    t = _vizier()
    t["Plx"] = Column([0.001, 0.002], unit=u.arcsec)
    t["pmRA"] = Column([1 / 3.6e6, 2 / 3.6e6], unit=u.deg / u.yr)
    arrays = resolve_columns(t).arrays(t)
    np.testing.assert_allclose(arrays["parallax"], [1.0, 2.0])
    np.testing.assert_allclose(arrays["pmra"], [1.0, 2.0])


def test_incompatible_unit_is_an_error():
    t = _vizier()
    t["Plx"].unit = u.km
    with pytest.raises(InputError, match="Plx.*cannot be converted"):
        resolve_columns(t).arrays(t)


def test_override_wins_and_bad_override_is_explained():
    t = _vizier()
    t["my_plx"] = [3.0, 4.0]
    assert resolve_columns(t, {"parallax": "my_plx"}).columns["parallax"] == "my_plx"
    with pytest.raises(InputError, match="does not have"):
        resolve_columns(t, {"parallax": "nope"})
    with pytest.raises(InputError, match="Unknown quantity"):
        resolve_columns(t, {"distance": "my_plx"})


def test_missing_columns_are_listed_with_what_is_accepted():
    with pytest.raises(InputError) as err:
        resolve_columns(Table({"ra": [1.0], "dec": [2.0]}))
    message = str(err.value)
    assert "pmra, pmdec, parallax" in message and "pos.parallax.trig" in message and "Plx" in message


def test_text_column_is_rejected():
    t = _vizier()
    t["Plx"] = ["a", "b"]
    with pytest.raises(InputError, match="'Plx' holds text, not numbers") as info:
        resolve_columns(t).arrays(t)
    assert "<U" not in str(info.value)  # plain words, not numpy's dtype


def test_boolean_column_is_rejected():
    t = _vizier()
    t["Plx"] = [True, False]
    with pytest.raises(InputError, match="'Plx' holds true/false values, not numbers"):
        resolve_columns(t).arrays(t)


def test_colour_derived_from_bp_and_rp():
    t = Table({"ra": [1.0], "dec": [1.0], "parallax": [1.0], "pmra": [1.0], "pmdec": [1.0],
               "phot_bp_mean_mag": [15.0], "phot_rp_mean_mag": [14.2]})
    np.testing.assert_allclose(resolve_columns(t).arrays(t)["bp_rp"], [0.8])
