"""The house's layout, pinned: commands in one place, no import back into the dispatcher, the
result type below analysis, small modules, one -v/-q, one default threshold."""

from __future__ import annotations

import argparse
import ast
import inspect
from pathlib import Path

import vo_ocml
from vo_ocml.cli import SUBCOMMAND_MODULES, build_parser

PACKAGE = Path(vo_ocml.__file__).parent
#: the most lines a module of these packages may have (the brief's "~400")
MAX_LINES = {"membership": 440, "io": 440, "samp": 440}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_every_command_lives_in_commands():
    assert all(m.startswith("vo_ocml.commands.") for m in SUBCOMMAND_MODULES)
    assert not list(PACKAGE.glob("*/cli.py")), "a cli.py outside commands/"


def test_nothing_imports_the_dispatcher_or_climbs_above_its_layer():
    for path in PACKAGE.rglob("*.py"):
        imports = _imports(path)
        assert "vo_ocml.cli" not in imports or path.name == "__main__.py", path
        if path.parent.name in ("analysis", "membership", "io"):
            assert "vo_ocml.pipeline" not in imports, path
        if path.parent.name == "membership":
            assert not any(i.startswith(("vo_ocml.options", "vo_ocml.commands", "vo_ocml.samp"))
                           for i in imports), path


def test_modules_stay_small():
    for package, most in MAX_LINES.items():
        for path in (PACKAGE / package).rglob("*.py"):
            assert len(path.read_text().splitlines()) <= most, path


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _parsers(sub)


def test_every_command_has_the_one_verbosity():
    for parser in list(_parsers(build_parser()))[1:]:
        if any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
            continue  # a group of sub-commands (chemtag): its leaves have the options
        flags = {s: a for a in parser._actions for s in a.option_strings}
        assert getattr(flags.get("-v"), "default_text", None) == "warnings only", parser.prog
        assert getattr(flags.get("-q"), "default_text", None) == "off", parser.prog


def test_one_default_threshold():
    from vo_ocml.analysis.summary import summarize
    from vo_ocml.membership.result import MEMBER_THRESHOLD
    from vo_ocml.options import OPTIONS, RunOptions
    from vo_ocml.pipeline import run
    from vo_ocml.samp.options import JobOptions

    defaults = {RunOptions().threshold, JobOptions().run.threshold, OPTIONS["threshold"].default,
                inspect.signature(run).parameters["threshold"].default,
                inspect.signature(summarize).parameters["threshold"].default}
    assert defaults == {MEMBER_THRESHOLD}


def test_no_command_help_prints_none_reprs_or_doubled_defaults():
    import re

    for parser in list(_parsers(build_parser()))[1:]:
        text = parser.format_help()
        for bad in ("default: None", "['", "[]", "(default: )", "%(default)"):
            assert bad not in text, (parser.prog, bad)
        assert not re.search(r"\(default:[^()]*(\([^()]*\))?[^()]*\)\s*\(default:", text), parser.prog
