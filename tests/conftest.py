"""Suite-wide settings and fixtures.

Hypothesis explores new examples on every local run; under CI (CI=true) it replays a fixed,
derandomized set, so a red CI always means the change, never the dice."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings
from typer.testing import CliRunner

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

FAULT_SEEDS = 2
"""Seeds of the fault matrix on every run (tests/contract/test_fault_matrix.py)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fault-sweep",
        type=int,
        default=None,
        help=f"run the fault matrix over N seeds (default {FAULT_SEEDS}; env CLOUDROUTES_FAULT_SWEEP)",
    )


def pytest_configure(config: pytest.Config) -> None:
    swept = os.environ.get("CLOUDROUTES_FAULT_SWEEP", "")
    config.stash[_SWEEP] = config.getoption("--fault-sweep") or (int(swept) if swept else FAULT_SEEDS)


_SWEEP = pytest.StashKey[int]()


def fault_seeds(config: pytest.Config) -> list[int]:
    """The seeds the fault matrix runs: --fault-sweep N (or CLOUDROUTES_FAULT_SWEEP=N), else FAULT_SEEDS."""
    return list(range(config.stash.get(_SWEEP, FAULT_SEEDS)))


@pytest.fixture
def cli() -> Callable[..., Any]:
    """Run the real CLI in-process (stdin is not a terminal, as under cron or CI)."""
    from cloudroutes.cli import app

    runner = CliRunner()

    def invoke(*args: str, **env: str) -> Any:
        return runner.invoke(app, list(args), env=env or None, catch_exceptions=False)

    return invoke
