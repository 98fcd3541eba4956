"""What users read: one PARAM per number (integers as integers), one warning per event, the
angular distance for a named cluster outside the table, the stage codes documented."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest

from vo_ocml import run
from vo_ocml.cli import main
from vo_ocml.errors import InputError
from vo_ocml.io.tables import read_table, write_table
from vo_ocml.membership.result import STAGE_DESCRIPTION
from vo_ocml.membership.sky import angular_distance
from vo_ocml.simulate import SimCluster, simulate_cone

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def m67_params(m67_table):
    annotated = run(m67_table)
    return annotated, annotated.table.meta["ocml_params"]


def test_no_param_repeats_another(m67_params):
    annotated, params = m67_params
    names = [p["name"] for p in params]
    assert len(names) == len(set(names))
    by_name = {p["name"]: p["value"] for p in params}
    # the members above the threshold and above 0.8 are reported once each
    assert {"ocml_n_members", "ocml_n_p08"} <= set(by_name)
    assert not {"ocml_n_gmm", "ocml_n_members_p05", "ocml_n_p_gt_08", "ocml_n_p_gt_05"} & set(names)
    assert by_name["ocml_n_members"] == int(annotated.members.sum())
    assert by_name["ocml_n_mst"] >= by_name["ocml_n_members"]  # the chain's earlier steps stay


def test_counts_are_integers(m67_params):
    _, params = m67_params
    for p in params:
        if p["name"].startswith("ocml_n_"):
            assert isinstance(p["value"], (int, np.integer)) and not isinstance(p["value"], bool), p


def test_no_cluster_is_warned_once(tmp_path, capsys, caplog):
    caplog.set_level(logging.WARNING)
    source = write_table(simulate_cone(3000, clusters=(), seed=4), tmp_path / "field.vot")
    assert main(["run", str(source), "-o", str(tmp_path / "o.vot")]) == 0
    err = capsys.readouterr().err + caplog.text
    assert len(re.findall("no cluster found", err, flags=re.IGNORECASE)) == 1, err


def test_fill_advice_is_logged_once_per_cluster(caplog):
    """A several-cluster run whose first cluster fills its table (a disc of 1.5 Plummer radii)
    advises a wider cone once for it (before: twice, from the run's summary and again from
    the clusters' table)."""
    caplog.set_level(logging.WARNING)
    a = 0.04
    table = simulate_cone(8000, (SimCluster(400, -2.5, 1.0, 0.7, plummer_radius=a),),
                          radius=0.4, seed=1)
    disc = angular_distance(table["ra"], table["dec"], 120.0, -30.0) < 1.5 * a
    annotated = run(table[disc], clusters="all")
    assert annotated.clusters and annotated.clusters[0].summary.fills_table
    filling = sum(c.summary.fills_table for c in annotated.clusters)
    assert caplog.text.count("fills the table") == filling, caplog.text


def test_named_cluster_off_the_table_gives_the_angular_distance(data_dir):
    table = read_table(data_dir / "m67_dr3_300_binary2.vot")
    with pytest.raises(InputError) as info:
        run(table, cluster="NGC 2477")  # M67's table; NGC 2477 is 52° away
    message = " ".join(str(info.value).split())
    distance, radius = re.search(r"NGC 2477 \(ra [\d.]+°, dec -?[\d.]+°\) is ([\d.]+)° from the table's centre .*covers "
                                 r"([\d.]+)°", message).groups()
    assert 50 < float(distance) < 54 and float(radius) < 3


def test_a_position_needs_a_centroid_and_must_be_on_the_table(m67_table):
    with pytest.raises(InputError, match="position needs a centroid"):
        run(m67_table, position=(132.85, 11.81))
    with pytest.raises(InputError, match=r"The given position \(ra 10.00°, dec 11.80°\) is "):
        run(m67_table, centroid=(-11.0, -2.9, 1.15), position=(10.0, 11.8))


def test_an_r50_needs_a_centroid(m67_table):
    with pytest.raises(InputError, match="r50 needs a centroid"):
        run(m67_table, r50=0.1)


def test_named_cluster_on_the_table_is_accepted(m67_table):
    assert run(m67_table, cluster="NGC 2682").result.found


def test_every_stage_code_is_defined_in_the_readme():
    text = README.read_text()
    for stage in STAGE_DESCRIPTION:
        assert re.search(rf"`{stage}`\s*\|", text), f"ocml_stage value {stage!r} not in README"
