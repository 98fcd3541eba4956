"""The shipped cluster catalogue and loose name matching."""

import csv
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import FK4, SkyCoord

from vo_ocml.catalog import lookup_cluster, normalize_name
from vo_ocml.errors import NotFoundError
from vo_ocml.membership.sky import angular_distance

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "vo_ocml" / "catalog" / "data" / "clusters.csv"
#: the Dias et al. 2002 and the UCC (Perren et al. 2023) position of every Dias cluster the UCC
#: also lists under the same name
DIAS_UCC = ROOT / "tests" / "data" / "catalog" / "dias2002_ucc_positions.csv"
DIAS, UCC = "Dias et al. 2002", "Perren et al. 2023 (UCC)"


def _build_tool():
    spec = importlib.util.spec_from_file_location("build_catalogue",
                                                  ROOT / "tools" / "build_catalogue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["NGC 2682", "NGC_2682", "ngc2682", "M67", "M 67", "Messier 67",
                                  "Melotte 94"])
def test_m67_by_any_name(name):
    entry = lookup_cluster(name)
    assert entry.name == "NGC 2682" and entry.catalogue == "Hunt & Reffert 2023"
    assert entry.pmra == pytest.approx(-10.97, abs=0.05) and entry.hunt_name == "NGC_2682"


@pytest.mark.parametrize("name", ["Melotte 22", "Pleiades", "M45", "Mel 22"])
def test_pleiades(name):
    assert lookup_cluster(name).name == "Melotte 22"


def test_aliases_prefer_primary_names_and_rich_clusters():
    assert lookup_cluster("NGC 7789").name == "NGC 7789"  # also an alias of OCSN 40
    assert lookup_cluster("Hyades").name == "Melotte 25"  # also an alias of CWNU 1242


def test_later_catalogues_fill_in():
    assert lookup_cluster("Saurer 5").catalogue == DIAS


def test_saurer_1_at_its_j2000_position():
    # Dias et al. 2002 lists Saurer 1 at its B1950 position, 39' from the UCC's (110.229, 1.811)
    entry = lookup_cluster("Saurer 1")
    assert 60 * angular_distance(entry.ra, entry.dec, 110.229, 1.81132) < 3.0


def test_b1950_dias_positions_are_precessed_and_the_others_kept():
    tolerance = _build_tool().B1950_TOLERANCE_ARCMIN
    pairs = list(csv.DictReader(open(DIAS_UCC, encoding="utf-8")))
    shipped = {row["name"]: row for row in csv.DictReader(open(SHIPPED, encoding="utf-8"))
               if row["catalogue"].startswith("Dias et al. 2002")}
    col = {k: np.array([float(row[k]) for row in pairs])
           for k in ("dias_ra", "dias_dec", "ucc_ra", "ucc_dec")}
    ucc = SkyCoord(col["ucc_ra"], col["ucc_dec"], unit="deg")
    j2000 = SkyCoord(col["dias_ra"], col["dias_dec"], unit="deg")
    b1950 = SkyCoord(col["dias_ra"], col["dias_dec"], unit="deg",
                     frame=FK4(equinox="B1950", obstime="B1950")).transform_to("icrs")
    is_b1950 = ((b1950.separation(ucc).arcmin <= tolerance)
                & (j2000.separation(ucc).arcmin > tolerance))
    checked, precessed = 0, []
    for row, b1950_reading, expected in zip(pairs, is_b1950, np.where(is_b1950, b1950, j2000)):
        entry = shipped.get(row["name"])
        if entry is None:  # the cluster comes from Hunt & Reffert 2023 or Cantat-Gaudin 2020
            continue
        checked += 1
        offset = expected.separation(SkyCoord(float(entry["ra"]), float(entry["dec"]),
                                              unit="deg")).arcsec
        assert offset < 0.1, (row["name"], offset)
        assert ("ra, dec: Dias et al. 2002 read as B1950" in entry["catalogue"]) == b1950_reading
        if b1950_reading:
            precessed.append(row["name"])
    assert checked > 400  # the shipped Dias entries that the UCC lists too
    assert sorted(precessed) == ["Saurer 1", "Saurer 6"]


def test_a_dias_position_far_from_its_ucc_namesake_is_kept():
    # the UCC's "NGC 1981" is a grouping 100' away (r50 1.7 deg); Dias has the classical cluster
    entry = lookup_cluster("NGC 1981")
    assert entry.catalogue == "Dias et al. 2002"
    assert (entry.ra, entry.dec) == pytest.approx((83.7875, -4.431667), abs=1e-5)


def test_b1950_reading_corrects_only_what_it_brings_within_tolerance():
    tool = _build_tool()
    dias = [{"name": "Saurer 1", "ra": "109.575", "dec": "1.886667", "catalogue": DIAS},
            {"name": "Saurer 2", "ra": "126.3666", "dec": "-39.6333", "catalogue": DIAS},
            {"name": "NGC 1981", "ra": "83.7875", "dec": "-4.431667", "catalogue": DIAS}]
    ucc = tool.ucc_by_name([
        {"name": "MWSC 1184", "aliases": ["MWSC 1184", "Saurer 1"], "ra": "110.229",
         "dec": "1.81132"},
        {"name": "Saurer 2", "aliases": ["Saurer 2"], "ra": "126.359", "dec": "-39.6324"},
        {"name": "NGC 1981", "aliases": ["NGC 1981"], "ra": "82.1628", "dec": "-4.83183"}])
    rows, corrected = tool.correct_b1950_positions(dias, ucc)
    assert corrected == ["Saurer 1"]
    assert 60 * angular_distance(float(rows[0]["ra"]), float(rows[0]["dec"]),
                                 110.229, 1.81132) < 1.5
    assert rows[0]["catalogue"] == ("Dias et al. 2002; ra, dec: Dias et al. 2002 read as B1950, "
                                    "precessed")
    assert dias[0]["ra"] == "109.575"  # the input is not modified
    assert rows[1] is dias[1]  # 0.4' apart as J2000: kept
    assert rows[2] is dias[2]  # 100' apart either way: kept


def test_berkeley_26_takes_its_missing_pm_and_parallax_from_the_ucc():
    entry = lookup_cluster("Berkeley 26")  # Dias et al. 2002 gives neither; UCC's is 1.2' away
    assert (entry.pmra, entry.pmdec, entry.parallax) == pytest.approx((0.0638, 0.4055, 0.1713))
    assert entry.catalogue == "Dias et al. 2002; pmra, pmdec, parallax: Perren et al. 2023 (UCC)"
    assert [entry.source_of(k) for k in ("ra", "r50", "pmdec", "parallax")] == [
        DIAS, DIAS, UCC, UCC]
    saurer_1 = lookup_cluster("Saurer 1")  # Dias gives a parallax (from its distance), no pm
    assert saurer_1.source_of("pmra") == UCC and saurer_1.source_of("parallax") == DIAS


def test_a_ucc_namesake_that_is_another_cluster_fills_nothing():
    ngc_1981 = lookup_cluster("NGC 1981")  # UCC's namesake 100' away has parallax 3.02 mas
    assert math.isnan(ngc_1981.parallax) and ngc_1981.pmra == pytest.approx(-0.58)
    platais_4 = lookup_cluster("Platais 4")  # UCC's: 11' away, r50 7.6' (Dias: 102'), 0.09 mas
    assert math.isnan(platais_4.pmra) and platais_4.parallax == pytest.approx(3.62319)


def test_fill_from_the_ucc_needs_the_same_cluster():
    tool = _build_tool()
    blank = {"pmra": "", "pmdec": "", "parallax": "", "catalogue": DIAS}
    dias = [{**blank, "name": "Near", "ra": "10.0", "dec": "0.0", "r50": "0.03"},
            {**blank, "name": "Far", "ra": "10.0", "dec": "0.0", "r50": "0.03"},
            {**blank, "name": "Big", "ra": "10.0", "dec": "0.0", "r50": "0.5"},
            {**blank, "name": "Nearer", "ra": "10.0", "dec": "0.0", "r50": "0.03",
             "parallax": "3.6"}]
    ucc_entry = {"ra": "10.0", "dec": "0.02", "r50": "0.04", "pmra": "1.5", "pmdec": "-2.0",
                 "parallax": "0.1"}  # 1.2' from the Dias positions
    ucc = tool.ucc_by_name([
        {**ucc_entry, "name": "Near", "aliases": ["Near"]},
        {**ucc_entry, "name": "Far", "aliases": ["Far"], "dec": "0.04"},  # 2.4' > r50 1.8'
        {**ucc_entry, "name": "Big", "aliases": ["Big"]},  # r50 12.5 times smaller
        {**ucc_entry, "name": "Nearer", "aliases": ["Nearer"]}])  # parallax 36 times smaller
    rows, filled = tool.fill_astrometry_from_ucc(dias, ucc)
    assert filled == {"Near": ["pmra", "pmdec", "parallax"]}
    assert (rows[0]["pmra"], rows[0]["pmdec"], rows[0]["parallax"]) == ("1.5", "-2.0", "0.1")
    assert rows[0]["catalogue"] == f"{DIAS}; pmra, pmdec, parallax: {UCC}"
    assert dias[0]["pmra"] == ""  # the input is not modified
    assert rows[1:] == dias[1:]


def test_unknown_name_suggests_close_ones():
    with pytest.raises(NotFoundError, match="Did you mean: NGC 2682"):
        lookup_cluster("NGC 26822")


def test_normalize_name():
    assert normalize_name("NGC 0752") == normalize_name("ngc752") == "ngc752"
    assert normalize_name("Cr 135") == normalize_name("Collinder 135")
