"""The shipped cluster catalogue and loose name matching."""

import csv
import importlib.util
from pathlib import Path

import pytest

from vo_ocml.catalog import lookup_cluster, normalize_name
from vo_ocml.errors import NotFoundError
from vo_ocml.membership.sky import angular_distance

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "vo_ocml" / "catalog" / "data" / "clusters.csv"
#: the UCC (Perren et al. 2023) position of every Dias et al. 2002 cluster the UCC also lists
UCC_OF_DIAS = ROOT / "tests" / "data" / "catalog" / "ucc_positions_of_dias2002_names.csv"


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
    assert lookup_cluster("Saurer 5").catalogue == "Dias et al. 2002"


def test_saurer_1_at_its_j2000_position():
    # Dias et al. 2002 lists Saurer 1 at its B1950 position, 39' from the UCC's (110.229, 1.811)
    entry = lookup_cluster("Saurer 1")
    assert 60 * angular_distance(entry.ra, entry.dec, 110.229, 1.81132) < 3.0


def test_no_dias_entry_far_from_the_ucc_position_of_its_name():
    tolerance = _build_tool().DIAS_UCC_TOLERANCE_ARCMIN
    ucc = {row["name"]: (float(row["ra"]), float(row["dec"]))
           for row in csv.DictReader(open(UCC_OF_DIAS, encoding="utf-8"))}
    offsets = {row["name"]: 60 * float(angular_distance(float(row["ra"]), float(row["dec"]),
                                                        *ucc[row["name"]]))
               for row in csv.DictReader(open(SHIPPED, encoding="utf-8"))
               if row["catalogue"] == "Dias et al. 2002" and row["name"] in ucc}
    assert len(offsets) > 400  # the shipped Dias entries that the UCC lists too
    far = {name: round(offset, 1) for name, offset in offsets.items() if offset > tolerance}
    assert not far, f"Dias et al. 2002 entries more than {tolerance}' from the UCC: {far}"


def test_a_dias_entry_far_from_the_ucc_takes_the_ucc_entry():
    tool = _build_tool()
    dias = [{"name": "Saurer 1", "aliases": ["Saurer 1"], "ra": "109.575", "dec": "1.886667",
             "catalogue": "Dias et al. 2002"},
            {"name": "Saurer 2", "aliases": ["Saurer 2"], "ra": "126.3666", "dec": "-39.6333",
             "catalogue": "Dias et al. 2002"}]
    ucc = [{"name": "MWSC 1184", "aliases": ["MWSC 1184", "Saurer 1"], "ra": "110.229",
            "dec": "1.81132", "catalogue": "Perren et al. 2023 (UCC)"},
           {"name": "Saurer 2", "aliases": ["Saurer 2"], "ra": "126.359", "dec": "-39.6324",
            "catalogue": "Perren et al. 2023 (UCC)"}]
    rows, replaced = tool.prefer_ucc_positions(dias, ucc)
    assert replaced == ["Saurer 1"]
    assert rows[0]["name"] == "Saurer 1" and rows[0]["ra"] == "110.229"
    assert rows[0]["catalogue"] == "Perren et al. 2023 (UCC)"
    assert rows[1] is dias[1]  # 0.4' apart: the Dias entry stays


def test_unknown_name_suggests_close_ones():
    with pytest.raises(NotFoundError, match="Did you mean: NGC 2682"):
        lookup_cluster("NGC 26822")


def test_normalize_name():
    assert normalize_name("NGC 0752") == normalize_name("ngc752") == "ngc752"
    assert normalize_name("Cr 135") == normalize_name("Collinder 135")
