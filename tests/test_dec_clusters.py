"""DEC with several clusters (``clusters="all"``): the default method's per-cluster outputs."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io.votable import parse

import vo_ocml
from vo_ocml.catalog import lookup_cluster
from vo_ocml.cli import main
from vo_ocml.errors import InputError
from vo_ocml.io.tables import write_table
from vo_ocml.membership.base import Centroid
from vo_ocml.membership.dec import DEC
from vo_ocml.membership.sky import tangent_plane
from vo_ocml.options import RunOptions
from vo_ocml.simulate import SimCluster, simulate_cone

#: small and quick (the NumPy backend, two seeds, a few hundred batches)
FAST = dict(n_seeds=2, pretrain_steps=150, max_iter=5, batch_size=256)
NGC7790 = lookup_cluster("NGC 7790")


def _ngc7790(n: int, **kwargs) -> SimCluster:
    e = NGC7790
    return SimCluster(n, e.pmra, e.pmdec, e.parallax, sd_pm=0.06, sd_parallax=0.02,
                      plummer_radius=e.r50, **kwargs)


@pytest.fixture(scope="module")
def pair():
    """NGC 7790 as catalogued, and an uncatalogued neighbour 0.25 deg and 1.2 mas/yr away."""
    e = NGC7790
    neighbour = SimCluster(150, e.pmra + 1.0, e.pmdec - 0.6, e.parallax + 0.1, sd_pm=0.06,
                           sd_parallax=0.02, plummer_radius=0.04, offset=(0.25, 0.05))
    table = simulate_cone(5000, (_ngc7790(250), neighbour), ra=e.ra, dec=e.dec, radius=0.4,
                          seed=3)
    return table, vo_ocml.run(table, method="dec", clusters="all", **FAST)


def _f1(member: np.ndarray, truth: np.ndarray) -> float:
    return 2 * np.sum(member & truth) / (member.sum() + truth.sum())


def test_pair_is_found_named_and_separated(pair):
    table, run = pair
    truth = np.asarray(table["true_cluster"])
    assert [c.name for c in run.clusters] == ["NGC 7790", "candidate_1"]
    P = run.result.cluster_probability
    assert P.shape == (len(table), 3)
    assert np.allclose(P.sum(axis=1), 1.0) and np.all((P >= 0) & (P <= 1))
    assert np.array_equal(P[:, 0], run.result.probability)
    for k in (0, 1):
        assert _f1(P[:, k] > 0.5, truth == k + 1) > 0.85
    assert run.result.method == "dec"
    assert len(run.result.details["dec_sky_starts"]) == 2


def test_pair_columns_and_summary_table(pair, tmp_path):
    table, run = pair
    out = run.table
    assert out.colnames[:len(table.colnames)] == table.colnames
    for name in ("ocml_cluster", "ocml_prob_NGC_7790", "ocml_prob_candidate_1", "ocml_dec_group"):
        assert name in out.colnames
    members = np.asarray(out["ocml_cluster"])
    assert set(members) == {"", "NGC 7790", "candidate_1"}
    assert np.array_equal(members == "NGC 7790", np.asarray(out["ocml_prob_NGC_7790"]) > 0.5)
    vot = parse(str(write_table(out, tmp_path / "pair.vot")))
    summary = vot.get_table_by_index(1).to_table()
    assert list(summary["name"]) == ["NGC 7790", "candidate_1"]
    assert abs(summary["pmra"][0] - NGC7790.pmra) < 0.05


def test_new_stars_get_every_clusters_probability_and_predict_proba_the_firsts(pair):
    table, run = pair
    X = np.column_stack([np.asarray(table[c], float) for c in ("ra", "dec", "pmra", "pmdec",
                                                                "parallax")])
    E = np.column_stack([np.asarray(table[c], float) for c in ("pmra_error", "pmdec_error",
                                                                "parallax_error")])
    dec = DEC(clusters="all", **FAST).fit(X, errors=E)
    assert np.allclose(dec.predict_proba(X, errors=E)[:, 1], dec.result_.probability, atol=1e-9)
    P = dec.predict_cluster_proba(X, errors=E)
    assert P.shape == (len(X), len(dec.result_.clusters) + 1) == (len(X), 3)
    assert np.allclose(P, dec.result_.cluster_probability, atol=1e-9)


def test_a_single_cluster_is_not_split():
    e = NGC7790
    table = simulate_cone(4000, (_ngc7790(200),), ra=e.ra, dec=e.dec, radius=0.4, seed=4)
    run = vo_ocml.run(table, method="dec", clusters="all", **FAST)
    assert [c.name for c in run.clusters] == ["NGC 7790"]
    truth = np.asarray(table["true_cluster"]) == 1
    assert _f1(run.result.probability > 0.5, truth) > 0.85
    assert np.allclose(run.result.cluster_probability.sum(axis=1), 1.0)


def test_a_cluster_far_in_motion_does_not_change_the_firsts():
    """Clusters whose filters share no stars are fitted apart (as the default method fits them):
    the first cluster's probabilities are those of the same run without the far cluster's stars
    but for DEC's own starting points (measured: max |ΔP| 0.035, 13 stars over 0.01; in one
    joint mixture 0.34, 280 stars)."""
    clusters = (SimCluster(400, -2.0, 1.0, 0.5, sd_pm=0.06, sd_parallax=0.02, plummer_radius=0.04),
                SimCluster(120, 3.0, -3.0, 0.8, sd_pm=0.06, sd_parallax=0.02, plummer_radius=0.04,
                           offset=(0.2, -0.1)))
    table = simulate_cone(5000, clusters, radius=0.4, seed=4)
    truth = np.asarray(table["true_cluster"])
    both = vo_ocml.run(table, method="dec", clusters="all", random_state=0, **FAST)
    alone = vo_ocml.run(table[truth != 2], method="dec", clusters="all", random_state=0, **FAST)
    assert len(both.clusters) == 2 and both.result.details["n_fitted_apart"] == 1
    assert _f1(both.result.probability > 0.5, truth == 1) > 0.9
    difference = np.abs(np.nan_to_num(both.result.probability[truth != 2])
                        - np.nan_to_num(alone.result.probability))
    assert difference.max() < 0.1 and np.sum(difference > 0.01) <= 30
    P = both.result.cluster_probability
    assert np.allclose(P.sum(axis=1), 1.0) and _f1(P[:, 1] > 0.5, truth == 2) > 0.85


def test_cli_takes_clusters_for_dec(pair, tmp_path):
    table, _ = pair
    source = write_table(table, tmp_path / "pair.vot")
    out = tmp_path / "out.vot"
    flags = ["--dec-n-seeds", "2", "--dec-pretrain-steps", "150", "--dec-max-iter", "5",
             "--dec-batch-size", "256"]
    assert main(["run", str(source), "-o", str(out), "-q", "--method", "dec", "--clusters", "all",
                 *flags]) == 0
    vot = parse(str(out))
    assert "ocml_prob_candidate_1" in vot.get_table_by_index(0).to_table().colnames
    assert len(vot.resources[0].tables) == 2


def test_clusters_is_a_parameter_of_both_methods():
    assert dict(RunOptions().updated({"method": "dec", "clusters": "all"}).params) == \
        {"clusters": "all"}
    assert dict(RunOptions().updated({"clusters": "3", "max_clusters": "4"}).params) == \
        {"clusters": 3, "max_clusters": 4}
    with pytest.raises(InputError, match="features 'sky'"):
        DEC(features="thesis", clusters="all")._check_params()
    with pytest.raises(InputError, match="clusters must be 'all' or an integer"):
        DEC(clusters=0)._check_params()


def test_a_catalogued_companion_the_detection_misses_is_seeded_for_dec_too():
    """A poor NGC 7788 where the catalogue places it, 0.28 deg and 0.74 mas/yr from NGC 7790:
    DEC's blind seeds miss it; with the catalogue (the default) it is seeded where it is
    catalogued, confirmed by the joint mixture and named, as the default method does."""
    b = lookup_cluster("NGC 7788")
    offset = tangent_plane(np.array([b.ra]), np.array([b.dec]), NGC7790.ra, NGC7790.dec)[0]
    poor = SimCluster(40, b.pmra, b.pmdec, b.parallax, sd_pm=0.06, sd_parallax=0.02,
                      plummer_radius=b.r50, offset=tuple(offset))
    table = simulate_cone(5000, (_ngc7790(250), poor), ra=NGC7790.ra, dec=NGC7790.dec,
                          radius=0.4, seed=3)
    truth = np.asarray(table["true_cluster"])
    alone = vo_ocml.run(table, method="dec", clusters="all", catalogue_seeds=False, **FAST)
    assert [c.name for c in alone.clusters] == ["NGC 7790"]
    run = vo_ocml.run(table, method="dec", clusters="all", **FAST)
    assert [c.name for c in run.clusters] == ["NGC 7790", "NGC 7788"]
    P = run.result.cluster_probability
    for k in (0, 1):
        assert _f1(P[:, k] > 0.5, truth == k + 1) > 0.8
    assert run.clusters[1].found.centroid.source.startswith("catalogue:")
    params = {p["name"]: p["value"] for p in run.table.meta["ocml_params"]}
    assert "NGC 7788" in params["ocml_param_known_clusters"]
    with pytest.raises(InputError, match="known_clusters"):
        DEC(known_clusters=(Centroid(1, 2, 3, source="user"),))._check_params()
