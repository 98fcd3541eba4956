"""Tests of the fast VOTable reader/writer against astropy's (vo_ocml.io.votable)."""

from __future__ import annotations

import io
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import votable
from astropy.table import Column, MaskedColumn, Table

from vo_ocml.errors import InputError
from vo_ocml.io.votable import reader as vio
from vo_ocml.io.votable import read_votable, write_votable

DATA = Path(__file__).parent / "data"
FORMATS = ("tabledata", "binary", "binary2")

ALL_TYPES = b"""<?xml version="1.0"?>
<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
<RESOURCE><INFO name="QUERY_STATUS" value="OK"/><TABLE name="all">
<PARAM name="p1" datatype="double" value="1.5" unit="deg" ucd="pos.eq.ra"/>
<FIELD name="b" datatype="boolean"/>
<FIELD name="ub" datatype="unsignedByte"><VALUES null="255"/></FIELD>
<FIELD name="s" datatype="short"><VALUES null="-1"/></FIELD>
<FIELD name="i" datatype="int"><VALUES null="-1"/></FIELD>
<FIELD name="l" datatype="long" ucd="meta.id"><DESCRIPTION>an id</DESCRIPTION><VALUES null="-1"/>
</FIELD>
<FIELD name="f" datatype="float" unit="mas"/>
<FIELD name="d" datatype="double" unit="mas.yr**-1" ucd="pos.pm;pos.eq.ra"/>
<FIELD name="c" datatype="char" arraysize="5"/>
<FIELD name="cv" datatype="char" arraysize="*"/>
<FIELD name="u" datatype="unicodeChar" arraysize="4"/>
<FIELD name="uv" datatype="unicodeChar" arraysize="*"/>
<FIELD name="fa" datatype="float" arraysize="3"/>
<FIELD name="ia" datatype="int" arraysize="2"><VALUES null="-1"/></FIELD>
<FIELD name="c1" datatype="char"/>
<FIELD name="dup" datatype="double"/>
<FIELD name="dup" datatype="double"/>
<FIELD name="cb" datatype="char" arraysize="3*"/>
<DATA><TABLEDATA>
<TR><TD>T</TD><TD>1</TD><TD>2</TD><TD>3</TD><TD>4</TD><TD>1.5</TD><TD>2.5</TD><TD>ab</TD>
<TD>hello</TD><TD>h&#233;</TD><TD>wo</TD><TD>1 2 3</TD><TD>4 5</TD><TD>x</TD><TD>1</TD><TD>2</TD>
<TD>abc</TD></TR>
<TR><TD></TD><TD></TD><TD></TD><TD></TD><TD></TD><TD></TD><TD></TD><TD></TD><TD></TD><TD></TD>
<TD></TD><TD></TD><TD></TD><TD></TD><TD/><TD/><TD/></TR>
<TR><TD>F</TD><TD>255</TD><TD>-1</TD><TD>-1</TD><TD>-1</TD><TD>NaN</TD><TD>+Inf</TD>
<TD>a&amp;b</TD><TD/><TD>z</TD><TD></TD><TD>1 NaN 3</TD><TD>4 -1</TD><TD> </TD><TD>-0</TD>
<TD>1e300</TD><TD>a</TD></TR>
<TR><TD> true </TD><TD>0</TD><TD>-32768</TD><TD>2147483647</TD><TD>-9223372036854775808</TD>
<TD>-1.25e-3</TD><TD>-Inf</TD><TD>  ab c </TD><TD>&lt;tag&gt;</TD><TD>\xe2\x82\xac1</TD>
<TD>\xce\xb1\xce\xb2</TD><TD>7 8 9</TD><TD>0 0</TD><TD>y</TD><TD>3</TD><TD>4</TD>
<TD>xy</TD></TR>
</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>"""


def astropy_read(source) -> Table:
    """The reference: astropy's own reader."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return votable.parse(source).get_first_table().to_table(use_names_over_ids=True)


def convert(document: bytes, fmt: str) -> bytes:
    """Re-serialise a VOTable document with astropy in the given format."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vot = votable.parse(io.BytesIO(document))
        vot.get_first_table().format = fmt
        out = io.BytesIO()
        vot.to_xml(out)
    return out.getvalue()


def fast_only(data: bytes) -> Table:
    """Read with the fast path, failing if it falls back to astropy."""
    return vio._fast_read(data)


def assert_same_tables(got: Table, want: Table, *, check_meta: bool = True) -> None:
    """Column-for-column equality: names, dtypes, shapes, masks, values, metadata."""
    assert got.colnames == want.colnames
    assert len(got) == len(want)
    for name in want.colnames:
        a, b = got[name], want[name]
        assert a.dtype == b.dtype, name
        assert a.shape == b.shape, name
        mask_a, mask_b = np.ma.getmaskarray(a), np.ma.getmaskarray(b)
        np.testing.assert_array_equal(mask_a, mask_b, err_msg=name)
        if a.dtype.kind == "O":
            assert list(a) == list(b), name
        else:
            np.testing.assert_array_equal(np.asarray(a.data)[~mask_a], np.asarray(b.data)[~mask_b],
                                          err_msg=name)
        assert a.unit == b.unit, name
        assert a.description == b.description, name
        if check_meta:
            assert a.meta == b.meta, name
            assert type(a) is type(b), name


# --- reading: fast path equals astropy --------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_all_datatypes_match_astropy(fmt):
    document = convert(ALL_TYPES, fmt)
    want = astropy_read(io.BytesIO(document))
    got = fast_only(document)
    assert_same_tables(got, want)
    assert got.meta["name"] == "all"
    assert got["l"].meta["ucd"] == "meta.id"
    assert got["l"].description == "an id"
    assert got.meta["votable_params"] == [
        {"name": "p1", "datatype": "double", "ucd": "pos.eq.ra", "unit": "deg", "value": "1.5"}]
    assert got.meta["votable_infos"] == [{"name": "QUERY_STATUS", "value": "OK"}]


def test_all_datatypes_values():
    got = fast_only(ALL_TYPES)
    assert got["b"].tolist() == [True, None, False, True]
    assert got["l"].tolist() == [4, None, None, -9223372036854775808]
    assert got["c"].tolist() == ["ab", "", "a&b", "ab c"]
    assert got["cv"].tolist() == ["hello", "", "", "<tag>"]
    assert got["u"].tolist() == ["hé", "", "z", "€1"]
    assert got["uv"].tolist() == ["wo", "", "", "αβ"]
    assert np.isposinf(got["d"][2]) and np.isneginf(got["d"][3])
    assert got["fa"].mask.tolist()[2] == [False, True, False]
    assert got.colnames[-3:] == ["dup", "dup2", "cb"]
    assert got["cb"].dtype == np.dtype("U3") and got["cb"].tolist() == ["abc", "", "a", "xy"]


@pytest.mark.parametrize("name", [f"m67_dr3_300_{k}.vot" for k in ("td", "binary", "binary2")])
def test_real_gaia_file_matches_astropy(name):
    path = DATA / name
    want = astropy_read(str(path))
    got = fast_only(path.read_bytes())
    assert_same_tables(got, want)
    assert len(got) == 300
    assert got["radial_velocity"].mask.sum() == 242
    assert got["pmra"].unit == "mas / yr"
    assert got["ra"].meta["ucd"] == "pos.eq.ra;meta.main"
    assert got["designation"][0].startswith("Gaia DR3 ")
    assert got.meta["votable_params"][0]["name"] == "epoch"


@pytest.mark.parametrize("kind", ["path", "str", "bytes", "file"])
def test_sources(kind):
    path = DATA / "m67_dr3_300_binary2.vot"
    source = {"path": path, "str": str(path), "bytes": path.read_bytes(),
              "file": io.BytesIO(path.read_bytes())}[kind]
    assert len(read_votable(source)) == 300


@pytest.mark.parametrize("fmt", ["binary", "binary2"])
def test_variable_strings_short_and_very_long(fmt):
    strings = np.empty(600, dtype=object)
    strings[:] = [f"s{i}" * (i % 4) for i in range(600)]
    strings[7] = "long " * 1000
    table = Table({"v": strings, "x": np.arange(600.0), "w": strings[::-1].copy()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vot = votable.from_table(table)
    vot.get_first_table().format = fmt
    out = io.BytesIO()
    vot.to_xml(out)
    assert b'arraysize="*"' in out.getvalue()
    got = fast_only(out.getvalue())
    assert_same_tables(got, astropy_read(io.BytesIO(out.getvalue())))
    assert got["v"][7] == strings[7] and got["w"][0] == strings[-1]


def test_latin1_tabledata_falls_back():
    document = ('<?xml version="1.0" encoding="ISO-8859-1"?><VOTABLE version="1.4"><RESOURCE>'
                '<TABLE><FIELD name="s" datatype="char" arraysize="*"/><DATA><TABLEDATA>'
                "<TR><TD>caf\u00e9</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>"
                ).encode("latin-1")
    with pytest.raises(vio._Unsupported):
        vio._fast_read(document)
    assert read_votable(document)["s"][0] == astropy_read(io.BytesIO(document))["s"][0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_random_table_with_nulls(fmt):
    table = random_table(500, seed=3)
    table.remove_column("b")  # astropy writes bool columns as "bit", which falls back
    if fmt == "binary":
        table.remove_column("i_nonull")  # BINARY cannot hold a null without a VALUES null
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vot = votable.from_table(table)
    vot.get_first_table().format = fmt
    out = io.BytesIO()
    vot.to_xml(out)
    assert_same_tables(fast_only(out.getvalue()), astropy_read(io.BytesIO(out.getvalue())))


EMPTY_TABLEDATA = (ALL_TYPES.split(b"<TR>")[0]
                   + b"</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>")


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_table(fmt):
    document = convert(EMPTY_TABLEDATA, fmt)  # astropy writes no DATA at all for 0 rows
    got = read_votable(document)
    assert len(got) == 0
    assert_same_tables(got, astropy_read(io.BytesIO(document)))


@pytest.mark.parametrize("data", [
    b"<TABLEDATA></TABLEDATA>", b"<TABLEDATA/>", b'<BINARY2><STREAM encoding="base64">\n'
    b"</STREAM></BINARY2>", b'<BINARY><STREAM encoding="base64"></STREAM></BINARY>'])
def test_empty_data_fast_path(data):
    document = EMPTY_TABLEDATA.replace(b"<TABLEDATA>\n</TABLEDATA>", data)
    assert data in document
    got = fast_only(document)
    assert len(got) == 0
    assert_same_tables(got, astropy_read(io.BytesIO(document)))


@pytest.mark.parametrize("document", [
    # bit datatype, complex, comments in TABLEDATA, two tables, namespace prefixes
    b'<VOTABLE version="1.4"><RESOURCE><TABLE><FIELD name="x" datatype="bit"/><DATA><TABLEDATA>'
    b"<TR><TD>1</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>",
    b'<VOTABLE version="1.4"><RESOURCE><TABLE><FIELD name="x" datatype="doubleComplex"/><DATA>'
    b"<TABLEDATA><TR><TD>1 2</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>",
    b'<VOTABLE version="1.4"><RESOURCE><TABLE><FIELD name="x" datatype="int"/><DATA><TABLEDATA>'
    b"<TR><!-- c --><TD>1</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>",
    b'<VOTABLE version="1.4"><RESOURCE><TABLE><FIELD name="x" datatype="int"/><DATA><TABLEDATA>'
    b'<TR><TD>1</TD></TR></TABLEDATA></DATA></TABLE><TABLE><FIELD name="y" datatype="int"/>'
    b"<DATA><TABLEDATA><TR><TD>2</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>",
    b'<v:VOTABLE version="1.4" xmlns:v="http://www.ivoa.net/xml/VOTable/v1.3"><v:RESOURCE>'
    b'<v:TABLE><v:FIELD name="x" datatype="int"/><v:DATA><v:TABLEDATA><v:TR><v:TD>1</v:TD>'
    b"</v:TR></v:TABLEDATA></v:DATA></v:TABLE></v:RESOURCE></v:VOTABLE>",
    b'<VOTABLE version="1.4"><RESOURCE><TABLE><FIELD name="x" datatype="int"/><DATA><TABLEDATA>'
    b"<TR><TD>0x1F</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>",
], ids=["bit", "complex", "comment", "two-tables", "prefix", "hex"])
def test_unusual_documents_fall_back_to_astropy(document):
    with pytest.raises(vio._Unsupported):
        vio._fast_read(document)
    assert_same_tables(read_votable(document), astropy_read(io.BytesIO(document)))


@pytest.mark.parametrize(("document", "message"), [
    (b"<VOTABLE><RESOURCE><TABLE><FIELD name='x' datatype='int'/><DATA><TABLEDATA><TR><TD>1"
     b"</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE>",
     "malformed XML at line 1, column 113: no element found"),
    (b"<VOTABLE><RESOURCE><TABLE><FIELD name='x' datatype='int'></TABLE></RESOURCE></VOTABLE>",
     "malformed XML at line 1, column 59: mismatched tag"),
    (b"ra,dec\n1,2\n", "malformed XML at line 1, column 0: syntax error"),
    (b"<html><body>hi</body></html>", "does not appear to be a VOTABLE"),
    (b"<VOTABLE><RESOURCE><TABLE><FIELD name='x' datatype='int'/><DATA><TABLEDATA><TR><TD>1",
     "TABLEDATA element is never closed"),
    (b"<VOTABLE><RESOURCE><TABLE><FIELD name='x' datatype='int'/><DATA><TABLEDATA><TR><TD>abc"
     b"</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>", "invalid literal.*'abc'"),
    (b"<VOTABLE version='1.4'><RESOURCE/></VOTABLE>", "holds no readable table"),
    (b"", "malformed XML at line 1, column 0: no element found"),
], ids=["unclosed-root", "mismatched-tag", "csv", "html", "truncated", "bad-int", "no-table",
        "empty"])
def test_malformed_input_raises_input_error(document, message):
    with pytest.raises(InputError, match=message):
        read_votable(document)


def test_missing_file_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read VOTable file"):
        read_votable(tmp_path / "nope.vot")


# --- writing ------------------------------------------------------------------------------


def random_table(nrows: int, seed: int) -> Table:
    """A table with every writable dtype and random masks (strings unmasked, like astropy)."""
    rng = np.random.default_rng(seed)
    table = Table(meta={"name": "rand"})

    def masked(data, fraction=0.1):
        mask = rng.random(data.shape) < fraction
        return MaskedColumn(data, mask=mask)

    table["b"] = masked(rng.random(nrows) < 0.5)
    for dtype in ("u1", "i2", "i4", "i8"):
        info = np.iinfo(dtype)
        null = info.max if dtype == "u1" else info.min
        low, high = (info.min, info.max - 1) if dtype == "u1" else (info.min + 1, info.max)
        table[f"i_{dtype}"] = masked(rng.integers(low, high, nrows, dtype=dtype, endpoint=True))
        table[f"i_{dtype}"].meta["values"] = {"null": null}
    table["i_nonull"] = masked(rng.integers(-100, 100, nrows, dtype="i4"))
    table["f4"] = masked(rng.normal(size=nrows).astype("f4"))
    table["f8"] = masked(rng.normal(size=nrows) * 1e10)
    table["f8"].unit = "mas / yr"
    table["f8"].meta["ucd"] = "pos.pm;pos.eq.ra"
    table["f8"].description = "a <described> & escaped column"
    table["s"] = Column(np.array([f"s{i % 97}" for i in range(nrows)], dtype="U3"))
    table["farr"] = masked(rng.normal(size=(nrows, 3)))
    table["iarr"] = Column(rng.integers(-5, 5, (nrows, 2), dtype="i4"))
    return table


def roundtrip(table: Table, tabledata: bool) -> bytes:
    """Write with the fast writer and return the document."""
    out = io.BytesIO()
    write_votable(table, out, tabledata=tabledata)
    return out.getvalue()


@pytest.mark.parametrize("tabledata", [False, True], ids=["binary2", "tabledata"])
def test_write_roundtrip(tabledata):
    table = random_table(2000, seed=7)
    document = roundtrip(table, tabledata)
    assert (b"<TABLEDATA>" in document) == tabledata
    for got in (astropy_read(io.BytesIO(document)), fast_only(document)):
        assert_same_tables(got, table, check_meta=False)
        assert got["f8"].meta["ucd"] == "pos.pm;pos.eq.ra"
        assert got["f8"].description == "a <described> & escaped column"
    assert_same_tables(fast_only(document), astropy_read(io.BytesIO(document)))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("tabledata", [False, True], ids=["binary2", "tabledata"])
def test_rewrite_of_read_table_is_lossless(fmt, tabledata):
    original = fast_only(convert(ALL_TYPES, fmt))
    document = roundtrip(original, tabledata)
    assert b'name="cv" datatype="char" arraysize="*"' in document
    assert b'name="uv" datatype="unicodeChar" arraysize="*"' in document
    again = fast_only(document)
    assert_same_tables(again, original, check_meta=False)
    assert_same_tables(again, astropy_read(io.BytesIO(document)))
    assert again.meta["votable_params"][0]["name"] == "p1"
    assert again.meta["votable_infos"][0]["name"] == "QUERY_STATUS"


@pytest.mark.parametrize("tabledata", [False, True], ids=["binary2", "tabledata"])
def test_write_params(tabledata):
    table = Table({"x": [1.0, 2.0]})
    table.meta["votable_params"] = [{"name": "kept", "datatype": "int", "value": "3"},
                                    {"name": "ocml_method", "datatype": "char",
                                     "arraysize": "*", "value": "old"}]
    table.meta["ocml_params"] = [
        {"name": "ocml_method", "value": "mstgmm", "ucd": "meta.code", "unit": None,
         "description": "membership method"},
        {"name": "ocml_n_gmm", "value": 42, "ucd": None, "unit": None, "description": None},
        {"name": "ocml_centroid_pmra", "value": -10.97, "ucd": "pos.pm;pos.eq.ra",
         "unit": "mas / yr", "description": "centroid <pmra>"},
        {"name": "ocml_missing", "value": float("nan"), "ucd": None, "unit": None,
         "description": None},
        {"name": "ocml_found", "value": True, "ucd": None, "unit": None, "description": None},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vot = votable.parse(io.BytesIO(roundtrip(table, tabledata)))
    params = {p.name: p for p in vot.get_first_table().params}
    assert list(params) == ["kept", "ocml_method", "ocml_n_gmm", "ocml_centroid_pmra",
                            "ocml_missing", "ocml_found"]
    assert params["kept"].value == 3
    assert params["ocml_method"].value == "mstgmm"
    assert params["ocml_method"].ucd == "meta.code"
    assert params["ocml_method"].description == "membership method"
    assert params["ocml_n_gmm"].datatype == "long" and params["ocml_n_gmm"].value == 42
    assert params["ocml_centroid_pmra"].value == -10.97
    assert str(params["ocml_centroid_pmra"].unit) == "mas / yr"
    assert params["ocml_centroid_pmra"].description == "centroid <pmra>"
    assert np.isnan(params["ocml_missing"].value)
    assert params["ocml_found"].datatype == "boolean" and params["ocml_found"].value


@pytest.mark.parametrize("tabledata", [False, True], ids=["binary2", "tabledata"])
def test_write_variable_strings(tabledata):
    rng = np.random.default_rng(5)
    first = np.empty(300, dtype=object)
    first[:] = ["x" * int(k) for k in rng.integers(0, 12, 300)]
    first[10] = " ".join(["a <long> & odd string"] * 400)
    second = np.empty(300, dtype=object)
    second[:] = [f"\u00e9t\u00e9 {i}" if i % 3 else "" for i in range(300)]
    table = Table({"a": first, "n": MaskedColumn(np.arange(300), mask=np.arange(300) % 7 == 0),
                   "b": second, "f": np.linspace(0, 1, 300, dtype="f4")})
    document = roundtrip(table, tabledata)
    assert b'name="a" datatype="char" arraysize="*"' in document
    assert b'name="b" datatype="unicodeChar" arraysize="*"' in document
    for got in (fast_only(document), astropy_read(io.BytesIO(document))):
        assert got["a"].tolist() == first.tolist()
        assert got["b"].tolist() == second.tolist()
        assert got["n"].mask.tolist() == (np.arange(300) % 7 == 0).tolist()
        np.testing.assert_array_equal(got["f"], table["f"])


def test_write_empty_table():
    table = random_table(0, seed=1)
    for tabledata in (False, True):
        got = fast_only(roundtrip(table, tabledata))
        assert len(got) == 0
        assert got.colnames == table.colnames


def test_write_unicode_and_masked_strings():
    table = Table({"name": MaskedColumn(["αβ", "plain", "x"], mask=[False, False, True]),
                   "ascii": np.array([b"a", b"bc", b""])})
    for tabledata in (False, True):
        document = roundtrip(table, tabledata)
        assert b'name="name" datatype="unicodeChar"' in document
        assert b'name="ascii" datatype="char"' in document
        got = astropy_read(io.BytesIO(document))
        assert got["name"].tolist() == ["αβ", "plain", ""]
        assert got["ascii"].tolist() == ["a", "bc", ""]


def test_write_path_and_fallback_for_unsupported_columns(tmp_path):
    table = Table({"z": np.array([1 + 2j, 3 - 4j]), "x": [1.0, 2.0]})
    table.meta["ocml_params"] = [{"name": "ocml_version", "value": "0.1", "ucd": None,
                                  "unit": None, "description": None}]
    table.meta["votable_infos"] = [{"name": "QUERY_STATUS", "value": "OK", "content": "fine"}]
    path = tmp_path / "complex.vot"
    write_votable(table, path)
    got = read_votable(path)
    np.testing.assert_array_equal(got["z"], table["z"])
    assert got.meta["votable_params"][0]["value"] == "0.1"
    assert got.meta["votable_infos"] == [{"name": "QUERY_STATUS", "value": "OK",
                                          "content": "fine"}]


def test_write_rejects_unrepresentable_columns(tmp_path):
    table = Table({"u": np.array([1, 2], dtype=np.uint64)})
    with pytest.raises(InputError, match="cannot write this table as VOTable"):
        write_votable(table, tmp_path / "u.vot")


@pytest.mark.skipif(shutil.which("stilts") is None, reason="STILTS is not installed")
@pytest.mark.parametrize("tabledata", [False, True], ids=["binary2", "tabledata"])
def test_stilts_reads_our_output(tmp_path, tabledata):
    table = random_table(50, seed=11)
    table.meta["ocml_params"] = [{"name": "ocml_method", "value": "mstgmm", "ucd": None,
                                  "unit": None, "description": "method"}]
    path = tmp_path / "out.vot"
    write_votable(table, path, tabledata=tabledata)
    result = subprocess.run(["stilts", "tpipe", f"in={path}", "ifmt=votable", "ofmt=csv"],
                            capture_output=True, text=True, timeout=120, check=True)
    lines = result.stdout.strip().splitlines()
    assert lines[0].split(",")[:3] == ["b", "i_u1", "i_i2"]
    assert len(lines) == 51
    f8_col = lines[0].split(",").index("f8")
    for line, value, masked in zip(lines[1:], table["f8"].data, table["f8"].mask):
        cell = line.split(",")[f8_col]
        assert (cell == "") if masked else float(cell) == pytest.approx(value, rel=1e-15)
    meta = subprocess.run(["stilts", "tpipe", f"in={path}", "omode=meta"], capture_output=True,
                          text=True, timeout=120, check=True).stdout
    assert "ocml_method" in meta and "mstgmm" in meta
