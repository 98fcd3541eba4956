"""Plots: field subsampling, every plot written as a non-blank PNG, DEC groups and MST curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from matplotlib.image import imread

from vo_ocml.analysis.king import fit_members
from vo_ocml.analysis.plots import PlotData, plot_kde, plot_mst, save_plots
from vo_ocml.analysis.validate import validate

DATA = Path(__file__).parent / "data" / "analysis"


def m67_annotated() -> Table:
    """The real M67 fixture with a membership made from the proper-motion distance."""
    table = Table.read(DATA / "m67_dr3_subset.csv")
    distance = np.hypot(table["pmra"] + 10.97, table["pmdec"] + 2.91)
    table["ocml_prob"] = np.clip(1.3 - distance / 0.5, 0.0, 1.0)
    table["ocml_prob"][:3] = np.nan
    table["ocml_member"] = table["ocml_prob"] > 0.5
    stage = np.where(distance > 1.0, "filter", "gmm").astype("U10")
    stage[:3] = "incomplete"
    table["ocml_stage"] = stage
    table.meta["ocml_params"] = [
        {"name": f"ocml_centroid_{k}", "value": v, "ucd": "", "unit": "", "description": ""}
        for k, v in (("pmra", -10.97), ("pmdec", -2.91), ("parallax", 1.15))]
    return table


def assert_png_not_blank(path: Path) -> None:
    image = imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 200
    assert image[..., :3].std() > 0.05


def test_plot_data_subsamples_the_field() -> None:
    table = m67_annotated()
    data = PlotData.from_run(table, max_field=20, title="M67")
    assert data.field_rows.size == 20 and data.n_field == int((~data.member).sum())
    assert not data.member[data.field_rows].any()
    assert np.all(np.diff(data.probability[data.member_rows]) >= 0)
    assert data.centroid == (-10.97, -2.91, 1.15)
    assert "20 of" in data.field_label()
    assert data.has_photometry and data.stage is not None and data.dec_group is None


def test_save_plots_writes_every_plot(tmp_path: Path) -> None:
    table = m67_annotated()
    rng = np.random.default_rng(0)
    details = {"mst_edge_weights": rng.gamma(2.0, 0.1, 5000), "mst_threshold": 0.7}
    data = PlotData.from_run(table, details=details, title="NGC 2682")
    paths = save_plots(data, tmp_path / "plots", king=fit_members(table),
                       validation=validate(table, DATA / "babusiaux2018_ngc2682_subset.csv"))
    assert set(paths) == {"cmd", "pm", "parallax", "sky", "kde", "mst", "king", "validation"}
    for path in paths.values():
        assert_png_not_blank(path)


def test_dec_groups_and_missing_photometry(tmp_path: Path) -> None:
    table = m67_annotated()
    del table["bp_rp"]
    table["ocml_dec_group"] = np.where(table["ocml_prob"] > 0.5, 2,
                                       np.arange(len(table)) % 4 + 3)
    table["ocml_dec_group"][:3] = -1
    table["ocml_stage"] = np.where(table["ocml_prob"] > 0.5, "dec", "quantile")
    paths = save_plots(PlotData.from_run(table), tmp_path)
    assert "dec_groups" in paths and "cmd" not in paths and "mst" not in paths
    assert_png_not_blank(paths["dec_groups"])


def test_curves_downsample_and_handle_empty() -> None:
    table = m67_annotated()
    weights = np.random.default_rng(1).gamma(2.0, 0.1, 100_000)
    data = PlotData.from_run(table, details={"mst_edge_weights": weights, "mst_threshold": 0.6})
    fig = plot_mst(data)
    line = fig.axes[0].lines[0]
    assert len(line.get_xdata()) <= 4000
    assert "edges above" in fig.axes[0].get_legend().get_texts()[1].get_text()
    table["ocml_prob"] = 0.0
    fig = plot_kde(PlotData.from_run(table))
    assert len(fig.axes) == 5


def test_plots_need_an_annotated_table() -> None:
    table = m67_annotated()
    del table["ocml_prob"]
    with pytest.raises(ValueError, match="ocml_prob"):
        PlotData.from_run(table)
