"""Reading every supported format, refusing bad files, writing with provenance."""

import numpy as np
import pytest

from vo_ocml.errors import InputError
from vo_ocml.io.tables import read_table, write_table


@pytest.mark.parametrize("name", ["m67_dr3_300_td.vot", "m67_dr3_300_binary.vot",
                                  "m67_dr3_300_binary2.vot"])
def test_votable_serialisations(data_dir, name):
    table = read_table(data_dir / name)
    assert len(table) == 300 and "parallax" in table.colnames


@pytest.mark.parametrize("suffix", [".fits", ".csv", ".ecsv", ".vot"])
def test_round_trip_with_provenance(tmp_path, m67_table, suffix):
    t = m67_table[:50].copy()
    t.meta["ocml_params"] = [{"name": "ocml_method", "value": "mstgmm", "ucd": "meta.code",
                              "unit": None, "description": "method"}]
    path = write_table(t, tmp_path / f"out{suffix}")
    back = read_table(path)
    assert len(back) == 50
    np.testing.assert_allclose(np.asarray(back["pmra"], float), np.asarray(t["pmra"], float))
    if suffix == ".fits":
        assert back.meta["OCML_METHOD"] == "mstgmm"
    elif suffix == ".vot":
        assert any(p["name"] == "ocml_method" for p in back.meta["votable_params"])
    elif suffix == ".ecsv":
        assert back.meta["ocml_params"][0]["value"] == "mstgmm"


def test_content_sniffing_without_a_suffix(tmp_path, m67_table):
    path = write_table(m67_table[:10], tmp_path / "table.vot")
    renamed = path.rename(tmp_path / "table.dat")
    assert len(read_table(renamed)) == 10


def test_no_overwrite_without_permission(tmp_path, m67_table):
    path = write_table(m67_table[:5], tmp_path / "a.vot")
    with pytest.raises(InputError, match="exists already"):
        write_table(m67_table[:5], path)
    write_table(m67_table[:6], path, overwrite=True)
    assert len(read_table(path)) == 6


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b" \n\t\r\n\x0b\x0c", "empty"),  # whitespace only: empty too
    (b"<?xml version='1.0'?><VOTABLE><RESOURCE><TABLE>", "VOTable"),
    (b"\x00\x01\x02garbage\xff\xfe", "Could not read"),
])
def test_unreadable_files(tmp_path, content, message):
    path = tmp_path / "bad.vot"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_table(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="No such file"):
        read_table(tmp_path / "nope.vot")
    with pytest.raises(InputError, match="directory"):
        read_table(tmp_path)
