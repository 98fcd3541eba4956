"""The vo-ocml run command: the embedded default, exit codes and messages for bad input."""

import gc
import hashlib
import subprocess
import sys
from importlib.metadata import entry_points

import numpy as np
import pytest
from astropy.table import Table

from vo_ocml.cli import main
from vo_ocml.io.tables import read_table, write_table
from vo_ocml.simulate import simulate_cone


def test_embedded_default_through_the_console_script(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "vo_ocml.cli", "run"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "members (P > 0.5)" in proc.stdout and "ngc2477_cone_ocml.vot" in proc.stdout
    out = read_table(tmp_path / "ngc2477_cone_ocml.vot")
    assert len(out) == 7100 and int(np.sum(out["ocml_member"])) > 500


def test_the_program_freezes_the_collector_at_its_end_and_main_does_not(capsys):
    (entry,) = entry_points(group="console_scripts", name="vo-ocml")
    assert entry.value == "vo_ocml.cli:console"
    code = ("import gc; from vo_ocml.cli import console; before = gc.get_freeze_count(); "
            "status = console([]); print(before, status, gc.get_freeze_count() > 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.stdout.split()[-3:] == ["0", "2", "True"], proc.stderr
    frozen = gc.get_freeze_count()
    assert main([]) == 2 and gc.get_freeze_count() == frozen


def test_help_documents_units(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    assert "mas/yr" in text and "--overwrite" in text and "--cluster" in text


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_input_never_modified_and_output_not_overwritten(tmp_path, m67_table, capsys):
    source = tmp_path / "m67.csv"
    m67_table.write(source, format="ascii.csv")
    digest = _sha(source)
    out = tmp_path / "out.vot"
    assert main(["run", str(source), "-o", str(out), "-q"]) == 0
    assert _sha(source) == digest and out.exists()
    assert main(["run", str(source), "-o", str(out), "-q"]) == 2
    assert "exists already" in " ".join(capsys.readouterr().err.split())
    assert main(["run", str(source), "-o", str(out), "-q", "--overwrite"]) == 0
    assert main(["run", str(source), "-o", str(source), "--overwrite", "-q"]) == 2
    assert _sha(source) == digest


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.vot", "No such file"),
    (lambda d: _write(d / "bad.vot", "<VOTABLE><RESOURCE>"), "VOTable"),
    (lambda d: _write(d / "cols.csv", "a,b\n1,2\n"), "lacks the column"),
    (lambda d: _write(d / "empty.csv", "ra,dec,pmra,pmdec,parallax\n"), "no rows"),
    (lambda d: _write(d / "nan.csv", "ra,dec,pmra,pmdec,parallax\n1,2,,,\n3,4,,,\n"),
     "complete astrometry"),
])
def test_bad_input_is_exit_2_with_a_clear_message(tmp_path, capsys, make, message):
    status = main(["run", str(make(tmp_path)), "-o", str(tmp_path / "o.vot")])
    err = capsys.readouterr().err
    assert status == 2 and message in " ".join(err.split()) and "Traceback" not in err


def test_unknown_cluster_name_suggests(tmp_path, capsys):
    status = main(["run", "--cluster", "NGC 26822", "-o", str(tmp_path / "o.vot")])
    assert status == 2 and "Did you mean: NGC 2682" in " ".join(capsys.readouterr().err.split())


def test_no_cluster_found_is_a_warning_and_keeps_every_row(tmp_path, capsys):
    source = write_table(simulate_cone(5000, clusters=(), seed=4), tmp_path / "field.vot")
    assert main(["run", str(source), "-o", str(tmp_path / "o.vot")]) == 0
    assert "no cluster found" in capsys.readouterr().err
    out = read_table(tmp_path / "o.vot")
    assert len(out) == 5000 and not np.any(out["ocml_member"])


def test_options_reach_the_estimator(tmp_path, m67_table):
    source = write_table(m67_table, tmp_path / "m67.vot")
    out = tmp_path / "o.fits"
    assert main(["run", str(source), "-o", str(out), "-q", "--filter", "fixed", "--cluster",
                 "M67", "--mst-rule", "code", "--mixture", "gmm", "--threshold", "0.8"]) == 0
    header = Table.read(out).meta
    assert header["OCML_PARAM_FILTER"] == "fixed" and header["OCML_PARAM_MST_RULE"] == "code"
    assert header["OCML_PARAM_MST_K"] == 1.0 and header["OCML_THRESHOLD"] == 0.8
