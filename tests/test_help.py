"""Help that reads like STILTS: every option of every command has a one-line help, and its
default is stated once, in words a user types (no Python reprs, no "(default: None)")."""

from __future__ import annotations

import argparse
import re

import pytest

from vo_ocml.cli import build_parser


def _parsers(parser: argparse.ArgumentParser, name: str = "vo-ocml"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for sub_name, sub in action.choices.items():
                if id(sub) not in seen:  # aliases share a parser
                    seen.add(id(sub))
                    yield from _parsers(sub, f"{name} {sub_name}")


PARSERS = dict(_parsers(build_parser()))


def _helps(parser: argparse.ArgumentParser):
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction,
                               argparse._SubParsersAction)) or action.help == argparse.SUPPRESS:
            continue
        label = "/".join(action.option_strings) or action.dest
        yield label, formatter._expand_help(action) if action.help else ""


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_every_option_has_one_line_of_help_with_its_default_once(command):
    for label, text in _helps(PARSERS[command]):
        assert text.strip(), f"{command} {label}: no help"
        assert text.count("(default:") <= 1, f"{command} {label}: default twice: {text}"
        assert "(default: None)" not in text, f"{command} {label}: {text}"
        assert not re.search(r"default: \[|\['|\{'", text), f"{command} {label}: a repr: {text}"


def test_top_level_help_points_at_the_commands(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "COMMAND --help" in text and "Exit status" in text
    assert "DR3 tables" not in text  # any Gaia release is read
