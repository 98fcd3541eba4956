"""One options model: the CLI (run, listen), the SAMP MType and vo_ocml.run accept and refuse the
same values with the same messages; the help reads like STILTS; defaults live in the estimators."""

from __future__ import annotations

import argparse
import inspect
import re

import pytest

from vo_ocml.cli import build_parser, main
from vo_ocml.errors import InputError
from vo_ocml.membership import METHODS, estimator_class
from vo_ocml.options import (METHOD_OPTIONS, OPTIONS, HelpFormatter, RunOptions, add_run_options,
                             method_defaults, run_options_from_args)
from vo_ocml.pipeline import run
from vo_ocml.samp.options import JobOptions

#: (CLI flag, value, option name, message); the value is the same string in every shell
BAD = [
    ("--threshold", "1.0", "threshold", "threshold must be a number in [0, 1); got 1.0"),
    ("--threshold", "-0.1", "threshold", "threshold must be a number in [0, 1); got -0.1"),
    ("--method", "kmeans", "method", "method must be one of mstgmm, dec; got kmeans"),
    ("--filter-nsigma", "0", "filter_nsigma", "filter_nsigma must be a number > 0; got 0"),
    ("--n-components", "1", "n_components", "n_components must be auto, bic or an integer ≥ 2; got 1"),
    ("--fixed-widths", "1,2", "fixed_widths",
     "fixed_widths must be 3 comma-separated values, each a number > 0; got 1,2"),
    ("--centroid", "1,2", "centroid",
     "centroid must be 3 comma-separated values, each a number; got 1,2"),
    ("--position", "400,10", "position",
     "position must be RA,DEC in degrees (RA in [0, 360], Dec in [-90, 90]); got 400,10"),
    ("--position", "120", "position",
     "position must be RA,DEC in degrees (RA in [0, 360], Dec in [-90, 90]); got 120"),
    ("--r50", "0", "r50", "r50 must be a number > 0; got 0"),
    ("--mst-rule", "both", "mst_rule", "mst_rule must be one of paper, code; got both"),
    ("--dec-n-clusters", "3", "n_clusters", "n_clusters is a parameter of method dec, not mstgmm"),
]


def _cli_message(capsys, argv) -> str:
    assert main(argv) == 2
    return " ".join(capsys.readouterr().err.split()).removeprefix("vo-ocml: error: ")


@pytest.mark.parametrize("flag, value, name, message", BAD)
def test_every_shell_refuses_the_same_values_with_the_same_message(
        capsys, tmp_path, m67_table, flag, value, name, message):
    assert _cli_message(capsys, ["run", str(tmp_path / "none.vot"), flag, value]) == message
    with pytest.raises(InputError) as samp:
        JobOptions().updated({"url": "file:///x.vot", name: value})
    assert str(samp.value) == message
    with pytest.raises(InputError) as python:
        run(m67_table, **{name: value})
    assert str(python.value) == message


def test_listen_refuses_what_run_refuses(capsys):
    assert _cli_message(capsys, ["listen", "--threshold", "1.0"]) == BAD[0][3]


def test_a_threshold_just_below_one_is_accepted_everywhere(m67_table):
    args = build_parser().parse_args(["run", "--threshold", "0.99"])
    assert run_options_from_args(args).threshold == 0.99
    assert JobOptions().updated({"threshold": "0.99"}).run.threshold == 0.99
    assert run(m67_table, threshold="0.99").threshold == 0.99


def test_samp_passes_method_parameters():
    options = JobOptions().updated({"filter_nsigma": "2.5", "mixture": "gmm", "refine": "false",
                                    "fixed_widths": "0.4,0.4,0.1"})
    assert dict(options.run.params) == {"filter_nsigma": 2.5, "mixture": "gmm", "refine": False,
                                        "fixed_widths": (0.4, 0.4, 0.1)}
    dec = JobOptions().updated({"method": "dec", "n_clusters": "auto", "hidden": "16,8"}).run
    assert dec.method == "dec" and dict(dec.params) == {"n_clusters": None, "hidden": (16, 8)}


def test_old_cli_spellings_map_onto_the_one_spelling():
    parse = build_parser().parse_args
    old = run_options_from_args(parse(["run", "--pmra", "-11", "--pmdec", "-3", "--parallax",
                                       "1.1", "--components", "bic", "--no-refine",
                                       "--fixed-widths", "0.4", "0.4", "0.1", "--format", "csv"]))
    new = run_options_from_args(parse(["run", "--centroid=-11,-3,1.1", "--n-components",
                                       "bic", "--no-refine", "--fixed-widths", "0.4,0.4,0.1"]))
    assert old == new and old.centroid == (-11.0, -3.0, 1.1)
    assert parse(["run", "--format", "csv"]).format == "csv"
    dec = run_options_from_args(parse(["run", "--method", "dec", "--dec-k", "5", "--dec-seeds",
                                       "3"]))
    assert dict(dec.params) == {"n_clusters": 5, "n_seeds": 3}
    with pytest.raises(InputError, match="centroid must be given once"):
        run_options_from_args(parse(["run", "--pmra", "1"]))


def test_mst_rule_code_is_the_same_from_every_shell(m67_table):
    args = build_parser().parse_args(["run", "--mst-rule", "code"])
    cli = run(m67_table, **run_options_from_args(args).run_kwargs())
    python = run(m67_table, mst_rule="code")
    assert cli.result.parameters["mst_k"] == python.result.parameters["mst_k"] == 1.0
    assert (cli.table["ocml_prob"] == python.table["ocml_prob"]).all()


@pytest.mark.parametrize("command", ["run", "listen"])
def test_help_reads_like_stilts(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    for bad in ("default: None", "[]", "['", "(default: (", "%(default)"):
        assert bad not in text, bad
    assert not re.search(r"--format\b", text), "--format is a hidden alias"
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    formatter = HelpFormatter(command)
    for action in sub.choices[command]._actions:
        if action.help in (None, argparse.SUPPRESS) or isinstance(action, argparse._HelpAction):
            continue
        line = formatter._get_help_string(action)
        assert line.count("(default:") == 1, line


def test_a_third_shell_adds_the_run_options_with_one_call():
    parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
    add_run_options(parser)
    options = run_options_from_args(parser.parse_args(["--threshold", "0.8", "--mst-k", "2"]))
    assert options == RunOptions(threshold=0.8, params={"mst_k": 2.0})


@pytest.mark.parametrize("method", list(METHODS))
def test_method_defaults_live_in_the_estimator(method):
    signature = inspect.signature(estimator_class(method))
    # set by vo_ocml.run itself: the named centroid, the seed, the catalogued clusters
    parameters = set(signature.parameters) - {"centroid", "random_state", "known_clusters"}
    modelled = {o.name for o in METHOD_OPTIONS if method in o.methods}
    assert modelled == parameters
    defaults = method_defaults(method)
    for name in modelled:
        option = OPTIONS[name]
        assert option.real_default() == signature.parameters[name].default
        value = option.parse(name, defaults[name])
        assert value == (tuple(defaults[name]) if isinstance(defaults[name], list)
                         else defaults[name])


@pytest.mark.parametrize("name", ["filter", "mst_rule", "mixture", "features", "pm_gradient"])
def test_choices_are_the_estimators(name):
    option = OPTIONS[name]
    cls = estimator_class(option.method)
    for value in option.parse.metavar.split("|"):
        cls(**{name: option.parse(name, value)})._check_params()
    with pytest.raises(InputError):
        cls(**{name: "no-such-choice"})._check_params()


def test_library_errors_are_neutral_and_each_shell_spells_the_fix(capsys, tmp_path, m67_table):
    from vo_ocml.errors import samp_spelling
    from vo_ocml.io.tables import write_table
    from vo_ocml.samp.service import error_text

    table = m67_table.copy()
    table.remove_column("parallax")
    with pytest.raises(InputError) as python:
        run(table)
    assert "--" not in str(python.value) and "(columns=…)" in str(python.value)
    assert "(parameter columns)" in error_text(python.value)
    assert python.value.render(samp_spelling) == error_text(python.value)
    path = tmp_path / "no_parallax.csv"
    write_table(table, path)
    assert "(--col QUANTITY=COLUMN)" in _cli_message(capsys, ["run", str(path), "-o",
                                                              str(tmp_path / "out.vot")])
