"""The shipped cluster catalogue and loose name matching."""

import pytest

from vo_ocml.catalog import lookup_cluster, normalize_name
from vo_ocml.errors import NotFoundError


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
    assert lookup_cluster("Saurer 1").catalogue == "Dias et al. 2002"


def test_unknown_name_suggests_close_ones():
    with pytest.raises(NotFoundError, match="Did you mean: NGC 2682"):
        lookup_cluster("NGC 26822")


def test_normalize_name():
    assert normalize_name("NGC 0752") == normalize_name("ngc752") == "ngc752"
    assert normalize_name("Cr 135") == normalize_name("Collinder 135")
