"""pipeline.run on real Gaia data: output invariants, provenance, accuracy against a reference."""

import copy

import numpy as np
import pytest
from astropy.io.votable import parse_single_table
from astropy.table import Table

from vo_ocml.analysis.identification import catalogued_in_table
from vo_ocml.analysis.validate import validate
from vo_ocml.catalog import lookup_cluster
from vo_ocml.errors import InputError, NotFoundError
from vo_ocml.io.tables import write_table
from vo_ocml.pipeline import run
from vo_ocml.membership.sky import angular_distance
from vo_ocml.simulate import SimCluster, simulate_cone
from vo_ocml.tap.resolve import R50_FACTOR

VIZIER = {"ra": "RA_ICRS", "dec": "DE_ICRS", "parallax": "Plx", "parallax_error": "e_Plx",
          "pmra": "pmRA", "pmra_error": "e_pmRA", "pmdec": "pmDE", "pmdec_error": "e_pmDE",
          "phot_g_mean_mag": "Gmag", "bp_rp": "BP-RP", "source_id": "Source"}


@pytest.fixture(scope="module")
def m67_run(m67_table):
    before = copy.deepcopy(m67_table)
    annotated = run(m67_table)
    return before, annotated


def test_every_row_and_column_kept_in_order(m67_table, m67_run):
    before, annotated = m67_run
    out = annotated.table
    assert len(out) == len(m67_table)
    assert out.colnames[:len(m67_table.colnames)] == m67_table.colnames
    assert out.colnames[len(m67_table.colnames):] == ["ocml_prob", "ocml_member", "ocml_stage"]
    for name in m67_table.colnames:
        assert np.array_equal(np.asarray(out[name]), np.asarray(before[name]), equal_nan=True) \
            if out[name].dtype.kind == "f" else np.array_equal(out[name], before[name])


def test_input_table_is_not_modified(m67_table, m67_run):
    before, _ = m67_run
    assert m67_table.colnames == before.colnames and m67_table.meta == before.meta
    for name in m67_table.colnames:
        assert np.array_equal(np.asarray(m67_table[name]), np.asarray(before[name]),
                              equal_nan=m67_table[name].dtype.kind == "f")


def test_output_columns_and_provenance(m67_run):
    _, annotated = m67_run
    out = annotated.table
    assert out["ocml_prob"].meta["ucd"] == "stat.probability"
    assert out["ocml_member"].dtype == bool and out["ocml_stage"].meta["ucd"] == "meta.code.status"
    assert np.array_equal(out["ocml_member"], np.nan_to_num(out["ocml_prob"]) > 0.5)
    params = {p["name"]: p["value"] for p in out.meta["ocml_params"]}
    for key in ("ocml_version", "ocml_method", "ocml_date", "ocml_centroid_pmra",
                "ocml_centroid_source", "ocml_n_cone", "ocml_n_filter", "ocml_n_mst",
                "ocml_n_members", "ocml_param_filter", "ocml_errors", "ocml_mean_parallax"):
        assert key in params
    assert params["ocml_centroid_source"] == "data" and params["ocml_errors"] == "table"


def test_m67_members_match_babusiaux2018(m67_run, data_dir):
    _, annotated = m67_run
    reference = Table.read(data_dir / "core" / "babusiaux2018_ngc2682.csv", format="ascii.csv")
    reference.rename_column("source_id_dr2", "source_id")
    v = validate(annotated, reference)
    assert v.f1 > 0.85 and v.completeness > 0.85
    s = annotated.summary
    assert s.pmra == pytest.approx(-10.97, abs=0.05) and s.parallax == pytest.approx(1.15, abs=0.03)


def test_by_name_and_by_user_centroid(m67_table, m67_run):
    _, from_data = m67_run
    by_name = run(m67_table, cluster="M67")
    assert by_name.result.centroid.source == "catalogue:Hunt & Reffert 2023"
    assert by_name.result.centroid.name == "NGC 2682"
    agree = np.mean(by_name.members == from_data.members)
    assert agree > 0.95
    user = run(m67_table, centroid=(-10.97, -2.91, 1.15))
    assert user.result.centroid.source == "user" and np.mean(user.members == from_data.members) > 0.95
    assert user.summary.catalogue.entry.name == "NGC 2682"  # a centroid without a name: looked up


def test_a_blind_run_says_which_catalogued_cluster_it_found(m67_table, m67_run, tmp_path):
    """M67's blind run is NGC 2682 of the shipped catalogue, in the summary, its text and the
    VOTable's PARAMs; a run named after the cluster is not looked up again."""
    _, annotated = m67_run
    m = annotated.summary.catalogue
    assert annotated.summary.catalogue_checked and m.entry.name == "NGC 2682" and m.within
    assert m.separation < m.entry.r50 and abs(m.d_pmra) < 0.1 and abs(m.d_parallax) < 0.05
    assert dict(annotated.summary.as_rows())["catalogue match"].startswith(
        "NGC 2682 [Hunt & Reffert 2023]: ")
    path = tmp_path / "m67.vot"
    write_table(annotated.table, path)
    params = {p.name: p for p in parse_single_table(str(path)).params}
    assert params["ocml_match"].value == "NGC 2682" and params["ocml_match_sep"].unit == "deg"
    assert float(params["ocml_match_dpmra"].value) == pytest.approx(m.d_pmra)
    named = run(m67_table, cluster="M67").summary
    assert not named.catalogue_checked and "catalogue match" not in dict(named.as_rows())


def test_a_cluster_the_catalogue_lacks_is_said_to_match_none():
    """A simulated cluster far from every catalogued one in proper motion."""
    cluster = SimCluster(400, 25.0, -25.0, 0.7, sd_pm=0.08, plummer_radius=0.05)
    s = run(simulate_cone(6000, clusters=(cluster,), seed=3)).summary
    assert s.found and s.catalogue_checked and s.catalogue is None
    assert dict(s.as_rows())["catalogue match"].startswith("none in the shipped catalogue")


def test_a_run_that_finds_nothing_lists_the_catalogued_clusters_the_table_holds():
    """A field without a cluster, simulated over NGC 7790's position: the run lists NGC 7790
    (name it to fit it); cut to proper motions that exclude NGC 7790's, the table no longer
    holds it."""
    e = lookup_cluster("NGC 7790")
    field = simulate_cone(6000, clusters=(), ra=e.ra, dec=e.dec, radius=0.5, seed=2)
    annotated = run(field)
    s = annotated.summary
    assert not s.found and "NGC 7790" in s.catalogued
    assert dict(s.as_rows())["catalogued clusters in the table"].endswith("(name one to fit it)")
    params = {p["name"]: p["value"] for p in annotated.table.meta["ocml_params"]}
    assert "NGC 7790" in params["ocml_catalogued_in_table"].split(", ")
    box = field[np.asarray(field["pmra"]) > e.pmra + 0.5]
    assert "NGC 7790" not in catalogued_in_table(
        {k: np.asarray(box[k], float) for k in ("ra", "dec", "pmra", "pmdec", "parallax")})


def test_vizier_names_give_the_same_answer(m67_table, m67_run):
    _, annotated = m67_run
    renamed = m67_table.copy()
    for gaia, vizier in VIZIER.items():
        renamed.rename_column(gaia, vizier)
    again = run(renamed)
    np.testing.assert_allclose(again.result.probability, annotated.result.probability)


def test_incomplete_rows_are_kept(m67_table):
    t = m67_table.copy()
    t["parallax"][:25] = np.nan
    t["pmra"] = t["pmra"].astype(float)
    annotated = run(t)
    assert np.all(np.isnan(annotated.table["ocml_prob"][:25]))
    assert set(annotated.table["ocml_stage"][:25]) == {"incomplete"}
    assert annotated.result.step_counts["complete"] == len(t) - 25


def test_existing_output_column_names_are_not_overwritten(m67_table):
    t = m67_table[:400].copy()
    t["ocml_prob"] = np.full(len(t), 7.0)
    annotated = run(t)
    assert np.all(annotated.table["ocml_prob"] == 7.0)
    assert annotated.names["prob"] == "ocml_prob_2" and "ocml_prob_2" in annotated.table.colnames


def test_no_cluster_in_a_field_keeps_every_row_with_probability_zero():
    annotated = run(simulate_cone(6000, clusters=(), seed=2))
    assert not annotated.result.found and not annotated.summary.found
    assert np.all(annotated.table["ocml_prob"] == 0) and not annotated.members.any()
    params = {p["name"]: p["value"] for p in annotated.table.meta["ocml_params"]}
    assert params["ocml_found"] is False and "ocml_no_cluster_reason" in params


def test_a_cluster_that_fills_its_table_is_flagged(caplog):
    """r50 over the table's median radius (``fill``): a Plummer cluster of radius a (its
    projected half-number radius) in a cone of radius R has fill ≈ a / (R / √2); cut the
    same table to a disc of 1.5 a and the cluster fills it."""
    a, R = 0.04, 0.4
    table = simulate_cone(8000, (SimCluster(400, -2.5, 1.0, 0.7, plummer_radius=a),),
                          radius=R, seed=1)
    wide = run(table)
    assert wide.summary.fill == pytest.approx(a / (R / np.sqrt(2)), rel=0.25)
    assert not wide.summary.fills_table and "fills the table" not in caplog.text
    disc = angular_distance(table["ra"], table["dec"], 120.0, -30.0) < 1.5 * a
    narrow = run(table[disc])
    assert narrow.summary.fills_table and "fills the table" in caplog.text
    # and says where a wider table would come from: the default cone around the fitted centre
    c = narrow.summary
    assert (f"vo-ocml fetch --ra {c.ra:.4f} --dec {c.dec:.4f} --radius {R50_FACTOR * c.r50:.2f}"
            in caplog.text)
    rows = dict(narrow.summary.as_rows())
    assert "fills the table" in rows["r50 / table's median radius"]
    params = {p["name"]: p["value"] for p in narrow.table.meta["ocml_params"]}
    assert params["ocml_fill"] == pytest.approx(narrow.summary.fill)


def test_errors_estimated_from_g_when_missing(m67_table):
    t = m67_table.copy()
    t.remove_columns(["pmra_error", "pmdec_error", "parallax_error"])
    params = {p["name"]: p["value"] for p in run(t).table.meta["ocml_params"]}
    assert params["ocml_errors"].startswith("estimated from G")


def test_a_table_without_errors_or_g_is_warned_about(m67_table, caplog):
    t = m67_table.copy()
    t.remove_columns(["pmra_error", "pmdec_error", "parallax_error"])
    run(t)
    assert "no error columns" not in caplog.text  # G gives the errors
    t.remove_column("phot_g_mean_mag")
    params = {p["name"]: p["value"] for p in run(t).table.meta["ocml_params"]}
    assert params["ocml_errors"].startswith("none")
    assert "no error columns (pmra_error, pmdec_error, parallax_error)" in caplog.text


@pytest.mark.parametrize("kwargs, error, message", [
    ({"method": "kmeans"}, InputError, "method must be one of mstgmm, dec; got kmeans"),
    ({"threshold": 1.5}, InputError, "threshold"),
    ({"filter_width": 3}, InputError, "unknown parameter"),
    ({"cluster": "NGC 99999"}, NotFoundError, "Unknown cluster name"),
    ({"centroid": (1.0, float("nan"), 1.0)}, InputError, "centroid must be 3 comma-separated values, each a number"),
])
def test_bad_options(m67_table, kwargs, error, message):
    with pytest.raises(error, match=message):
        run(m67_table[:100], **kwargs)


def test_empty_table():
    with pytest.raises(InputError, match="no rows"):
        run(Table({"ra": [], "dec": [], "pmra": [], "pmdec": [], "parallax": []}))
