"""vo-ocml batch on a real Dask LocalCluster (2 worker processes), no mocks.

Sources: cone files (dir:), a HATS catalogue built here with hats-import from the real Gaia DR3
rows of tests/data/tap/gaia_source.csv (M67 and Pleiades fields) plus simulated fields
(vo_ocml.simulate). Every cluster's members must equal those of a single ``vo_ocml.run`` on the
same cone. Fault tolerance: a corrupt table and an empty cone (failed, the rest done), an
interrupted batch resumed, a worker killed mid-batch (complete, nothing lost or duplicated).
The cluster is shared by the module; the worker-kill test runs last.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table, vstack

pytest.importorskip("distributed")
pytest.importorskip("lsdb")
pytest.importorskip("hats_import")

from vo_ocml import read_table, run, write_table  # noqa: E402
from vo_ocml.batch.driver import normalise_options, run_batch  # noqa: E402
from vo_ocml.batch.sources import DirSource, HatsSource  # noqa: E402
from vo_ocml.batch.targets import Target, from_catalogue, from_names  # noqa: E402
from vo_ocml.simulate import SimCluster, simulate_cone  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "tests" / "data" / "tap" / "gaia_source.csv"
OPTIONS = {"method": "mstgmm", "threshold": 0.5, "random_state": 0}
#: (name, ra, dec) of the simulated fields: far from the real rows and from each other
SIM_FIELDS = (("SIM-1", 200.0, -40.0), ("SIM-2", 215.0, -45.0), ("SIM-3", 230.0, -50.0),
              ("SIM-4", 245.0, -55.0), ("SIM-5", 260.0, -60.0), ("SIM-6", 275.0, -65.0))
SIM_RADIUS = 0.4
M67 = (132.85, 11.81)


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def real_rows() -> Table:
    return Table.read(REAL, format="ascii.csv")


def _simulated(k: int, name: str, ra: float, dec: float) -> Table:
    table = simulate_cone(2500, (SimCluster(250, -3.0 + k, 1.5 - 0.5 * k, 0.8 + 0.1 * k),),
                          ra=ra, dec=dec, radius=SIM_RADIUS + 0.05, seed=k)
    table["source_id"] = 5_000_000_000_000_000 + 1_000_000 * k + np.arange(len(table))
    return table


@pytest.fixture(scope="module")
def sims() -> dict[str, Table]:
    return {name: _simulated(k, name, ra, dec) for k, (name, ra, dec) in enumerate(SIM_FIELDS)}


def sim_targets(names=None) -> list[Target]:
    return [Target(n, ra, dec, SIM_RADIUS, "given") for n, ra, dec in SIM_FIELDS
            if names is None or n in names]


def _separation(ra, dec, ra0, dec0):
    ra, dec, ra0, dec0 = map(np.radians, (ra, dec, ra0, dec0))
    cos = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def _split_real(rows: Table) -> tuple[Table, Table]:
    near_m67 = _separation(np.asarray(rows["ra"]), np.asarray(rows["dec"]), *M67) < 5
    return rows[near_m67], rows[~near_m67]


@pytest.fixture(scope="module")
def cone_dir(tmp_path_factory, real_rows: Table, sims: dict[str, Table]) -> Path:
    d = tmp_path_factory.mktemp("cones")
    m67, pleiades = _split_real(real_rows)
    write_table(m67, d / "ngc2682_dr3_pmbox.csv")
    write_table(pleiades, d / "Melotte_22.vot")
    for name, table in sims.items():
        write_table(table, d / f"{name}.ecsv")
    text = (d / "Melotte_22.vot").read_text(encoding="utf-8")
    (d / "NGC_7789.vot").write_text(text[: len(text) // 3], encoding="utf-8")  # corrupt
    (d / "NGC_188.csv").write_text(",".join(m67.colnames) + "\n", encoding="utf-8")  # empty
    return d


def _members(outdir: Path, name: str) -> Table:
    import pyarrow.parquet as pq
    members = pq.read_table(outdir / "members.parquet").to_pandas()
    return members[members["cluster"] == name]


def _assert_same_as_single_run(outdir: Path, target: Target, cone: Table) -> None:
    single = run(cone, cluster=target.cluster, centroid=target.centroid,
                 position=(target.ra, target.dec) if target.centroid else None, **OPTIONS)
    ours = _members(outdir, target.name)
    ids = np.asarray(cone["source_id"])[single.members]
    assert np.array_equal(np.sort(ours["source_id"].to_numpy()), np.sort(ids)), target.name
    prob = np.asarray(single.table["ocml_prob"])[single.members]
    order = np.argsort(ids)
    got = ours.set_index("source_id").loc[ids[order], "ocml_prob"].to_numpy()
    assert np.array_equal(got, prob[order]), target.name


def test_dir_batch_matches_single_runs_and_records_failures(client, cone_dir: Path,
                                                            tmp_path: Path) -> None:
    real = from_names(["NGC 2682", "Melotte 22", "NGC 7789", "NGC 188", "NGC 2516"])
    targets = real + sim_targets(["SIM-1", "SIM-2"])
    source = DirSource(str(cone_dir))
    result = run_batch(targets, source, tmp_path, options=OPTIONS, client=client,
                       columns=("ra", "dec", "parallax", "true_cluster"),
                       formats=("votable",), progress=False)
    status = dict(zip(result.summary["name"], result.summary["status"]))
    reason = dict(zip(result.summary["name"], result.summary["reason"]))
    assert status == {"NGC 2682": "found", "Melotte 22": "found", "NGC 7789": "failed",
                      "NGC 188": "failed", "NGC 2516": "failed", "SIM-1": "found",
                      "SIM-2": "found"}
    assert "no rows" in reason["NGC 188"]
    assert "NGC_7789.vot" in reason["NGC 7789"] or "VOTable" in reason["NGC 7789"]
    assert "outside the source's coverage" in reason["NGC 2516"]
    assert result.counts == {"run": 6, "skipped": 0, "found": 4, "not_found": 0, "failed": 3}
    for t in targets:
        if status[t.name] == "found":
            _assert_same_as_single_run(tmp_path, t, source.fetch(t))
    sim = _members(tmp_path, "SIM-1")
    assert (sim["true_cluster"] == 1).mean() > 0.7  # precision against the simulated truth
    row = result.summary[list(result.summary["name"]).index("NGC 2682")]
    assert row["n_members"] > 500 and np.isfinite(row["king_rc"]) and row["run_time_s"] > 0
    assert abs(row["d_parallax_sigma"]) < 10 and row["cat_catalogue"] == "Hunt & Reffert 2023"
    assert row["catalogue_match"] == ""  # a run named after a catalogued cluster: not looked up
    assert json.loads(row["options"]) == normalise_options(OPTIONS)
    assert {k: v for k, v in normalise_options(OPTIONS).items() if k in OPTIONS} == OPTIONS
    assert "<img" in result.files["overview"].read_text(encoding="utf-8")
    members_vot = read_table(result.files["members_votable"])
    assert len(members_vot) == sum(result.summary["n_members"][result.summary["status"] == "found"])
    prov = json.loads(result.files["provenance"].read_text(encoding="utf-8"))
    assert prov["ocml_batch_source"] == f"dir:{cone_dir}" and prov["ocml_batch_found"] == 4

    # resumed: the finished clusters are skipped; the failed ones are tried again
    before = {t.name: (tmp_path / "clusters" / f"{t.slug}.json").stat().st_mtime_ns
              for t in targets if status[t.name] == "found"}
    again = run_batch(targets, source, tmp_path, options=OPTIONS, client=client,
                      progress=False)
    assert again.counts["skipped"] == 4 and again.counts["run"] == 2
    assert all((tmp_path / "clusters" / f"{Target(n, 0, 0, 1, '').slug}.json").stat().st_mtime_ns
               == m for n, m in before.items())
    # other options: nothing is reused
    other = run_batch(sim_targets(["SIM-1"]), source, tmp_path,
                      options={**OPTIONS, "threshold": 0.6}, client=client, progress=False)
    assert other.counts["run"] == 1


@pytest.fixture(scope="module")
def hats_catalog(client, tmp_path_factory, real_rows: Table, sims: dict[str, Table]) -> Path:
    from hats_import.catalog.arguments import ImportArguments
    from hats_import.pipeline import pipeline_with_client

    d = tmp_path_factory.mktemp("hats")
    common = real_rows.colnames
    parts = [real_rows] + [t[[c for c in common if c in t.colnames] + ["true_cluster"]]
                           for t in sims.values()]
    combined = vstack(parts, metadata_conflicts="silent")
    frame = combined.to_pandas()
    frame.to_parquet(d / "input.parquet")
    args = ImportArguments(output_path=str(d), output_artifact_name="gaia_test",
                           input_file_list=[str(d / "input.parquet")], file_reader="parquet",
                           ra_column="ra", dec_column="dec", tmp_dir=str(d / "tmp"),
                           pixel_threshold=800, highest_healpix_order=9, progress_bar=False,
                           resume=False)
    pipeline_with_client(args, client)
    return d / "gaia_test"


def test_hats_batch_over_every_catalogued_cluster_in_the_footprint(
        client, hats_catalog: Path, real_rows: Table, sims: dict[str, Table],
        tmp_path: Path) -> None:
    source = HatsSource(str(hats_catalog))
    assert len(source.catalog().get_healpix_pixels()) > 1  # really partitioned
    catalogued = [t for t in from_catalogue() if source.covers(t)]
    names = {t.name for t in catalogued}
    assert {"NGC 2682", "Melotte 22"} <= names
    targets = catalogued + sim_targets(["SIM-3", "SIM-4"])
    result = run_batch(targets, source, tmp_path, options=OPTIONS, client=client,
                       outside="drop", progress=False)
    status = dict(zip(result.summary["name"], result.summary["status"]))
    assert len(status) == len(targets)
    assert status["NGC 2682"] == status["Melotte 22"] == status["SIM-3"] == "found"
    everything = vstack([real_rows] + [sims[n] for n in ("SIM-3", "SIM-4")],
                        metadata_conflicts="silent")
    ra, dec = np.asarray(everything["ra"]), np.asarray(everything["dec"])
    for t in targets:
        cone = everything[_separation(ra, dec, t.ra, t.dec) <= t.radius]
        cone = cone[np.argsort(np.asarray(cone["source_id"]), kind="stable")]
        row = result.summary[list(result.summary["name"]).index(t.name)]
        if status[t.name] == "failed":
            assert len(cone) == 0 or "no complete" in row["reason"] or "rows" in row["reason"], \
                (t.name, row["reason"])
            continue
        assert row["n_rows"] == len(cone), t.name
        if status[t.name] == "found":
            _assert_same_as_single_run(tmp_path, t, cone)


#: ``vo-ocml`` as a user's terminal starts it: Ctrl-C (SIGINT) raises KeyboardInterrupt even
#: when the test runner itself inherited SIGINT ignored (started as a background job without
#: job control, whose children keep ignoring it across exec)
CLI_WITH_SIGINT = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                   "runpy.run_module('vo_ocml.cli', run_name='__main__')")


def _running_tasks(dask_worker) -> int:
    return len(dask_worker.active_threads)


def _wait_until_idle(client, timeout: float = 120.0) -> None:
    """Wait until no worker thread runs a task: a task the interrupted batch had started goes
    on to the end (the scheduler outlives the batch), and its temporary file is renamed or
    removed only then; a fixed moment right after the interrupt can catch it mid-write."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(client.run(_running_tasks).values()):
        time.sleep(0.1)
    assert not any(client.run(_running_tasks).values()), "the workers are still busy"


def test_interrupted_batch_is_resumed(client, cone_dir: Path, tmp_path: Path) -> None:
    targets_file = tmp_path / "targets.csv"
    targets_file.write_text("name,ra,dec,radius\n" + "".join(
        f"{n},{ra},{dec},{SIM_RADIUS}\n" for n, ra, dec in SIM_FIELDS), encoding="utf-8")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI_WITH_SIGINT, "batch", "--targets", str(targets_file),
         "--source", f"dir:{cone_dir}", "-o", str(out), "--scheduler",
         client.scheduler.address, "-q"], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if list((out / "clusters").glob("*.json")):
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    done_before = {p.stem for p in (out / "clusters").glob("*.json")}
    assert 1 <= len(done_before) < len(SIM_FIELDS)
    _wait_until_idle(client)
    assert not list((out / "clusters").glob(".tmp-*"))
    assert not (out / "summary.parquet").exists()
    result = run_batch(sim_targets(), DirSource(str(cone_dir)), out, options=OPTIONS,
                       client=client, progress=False)
    assert result.counts["skipped"] >= len(done_before)
    assert result.counts["run"] == len(SIM_FIELDS) - result.counts["skipped"]
    assert result.counts["found"] == len(SIM_FIELDS)


def test_killed_worker_mid_batch(client, cone_dir: Path, sims, tmp_path: Path) -> None:
    pids = client.run(os.getpid)
    outcome: dict = {}

    def batch() -> None:
        try:
            outcome["result"] = run_batch(sim_targets(), DirSource(str(cone_dir)), tmp_path,
                                          options=OPTIONS, client=client, progress=False)
        except BaseException as exc:  # reported by the main thread
            outcome["error"] = exc

    thread = threading.Thread(target=batch)
    thread.start()
    victim = None
    deadline = time.monotonic() + 300
    while victim is None and time.monotonic() < deadline:
        for address, keys in client.processing().items():
            if any(str(k).startswith("ocml-") for k in keys) and address in pids:
                victim = address
                break
        time.sleep(0.05)
    assert victim is not None
    os.kill(pids[victim], signal.SIGKILL)
    thread.join(timeout=600)
    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert victim not in client.scheduler_info()["workers"]
    assert result.counts["found"] == len(SIM_FIELDS) and result.counts["failed"] == 0
    members = _members(tmp_path, "SIM-1")
    import pyarrow.parquet as pq
    everything = pq.read_table(tmp_path / "members.parquet").to_pandas()
    assert not everything.duplicated(["cluster", "source_id"]).any()
    counts = everything.groupby("cluster").size()
    for row in result.summary:
        assert counts[row["name"]] == row["n_members"]
    assert len(members) > 100
