"""``vo-ocml fetch`` pieces that need no service: progress line, default names, help."""

from __future__ import annotations

import argparse
import io

import pytest

from vo_ocml.cli import build_parser
from vo_ocml.commands.fetch import _default_output
from vo_ocml.commands.progress import ProgressLine


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_rewrites_one_line_on_a_terminal() -> None:
    stream = _Terminal()
    progress = ProgressLine(stream)
    progress("async job abc: EXECUTING (12 s)")
    progress("done")
    progress.close()
    first = "async job abc: EXECUTING (12 s)"
    assert stream.getvalue() == f"\r{first}\r{'done'.ljust(len(first))}\n"


def test_progress_collapses_repeated_polls_in_a_log() -> None:
    stream = io.StringIO()
    progress = ProgressLine(stream)
    for message in ("async job a: QUEUED (0 s)", "async job a: EXECUTING (1 s)",
                    "async job a: EXECUTING (3 s)", "async job a: COMPLETED (5 s)"):
        progress(message)
    progress.close()
    assert stream.getvalue().splitlines() == [
        "async job a: QUEUED (0 s)", "async job a: EXECUTING (1 s)",
        "async job a: COMPLETED (5 s)"]


@pytest.mark.parametrize("argv, expected", [
    (["NGC 2682"], "NGC_2682_gaiadr3.vot"),
    (["NGC 2682", "--hunt-members"], "NGC_2682_hunt2023_members.vot"),
    (["--ra", "132.85", "--dec", "-11.8", "--radius", "0.3"], "cone_132.8500_-11.8000_gaiadr3.vot"),
])
def test_default_output_names(argv: list[str], expected: str) -> None:
    args = build_parser().parse_args(["fetch", *argv])
    assert isinstance(args, argparse.Namespace)
    assert str(_default_output(args)) == expected


def test_help_states_units_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["fetch", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for phrase in ("RA (ICRS, degrees)", "radius in degrees", "Gaia G, mag",
                   "https://gea.esac.esa.int/tap-server/tap", "--offline", "--refresh"):
        assert phrase in text
