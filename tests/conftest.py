"""Project-wide pytest configuration: the --remote-data option and shared fixtures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--remote-data", action="store_true", default=False,
                     help="run tests that need the real internet (Gaia archive, VizieR, Sesame)")


#: executables the "peers" tests need; with VO_OCML_REQUIRE_PEERS=1 (CI) their absence fails
PEER_EXECUTABLES = ("java", "jsamp", "stilts", "topcat", "aladin", "Xvfb", "xdotool",
                    "chromium")


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("VO_OCML_REQUIRE_PEERS") == "1":
        missing = [exe for exe in PEER_EXECUTABLES if shutil.which(exe) is None]
        if missing:
            pytest.exit(f"VO_OCML_REQUIRE_PEERS=1 but these are not installed: "
                        f"{', '.join(missing)} (bash .ci/run installs them)", returncode=3)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--remote-data"):
        return
    skip = pytest.mark.skip(reason="needs the internet: run with --remote-data")
    for item in items:
        if "remote_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The directory of the test fixtures."""
    return DATA


@pytest.fixture(scope="session")
def m67_table():
    """1,494 real Gaia DR3 rows around M67 (proper-motion box); do not modify."""
    from astropy.table import Table
    return Table.read(DATA / "core" / "m67_dr3_pmbox.csv", format="ascii.csv")
