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


@pytest.fixture
def cli() -> Callable[..., Any]:
    """Run the real CLI in-process (stdin is not a terminal, as under cron or CI)."""
    from cloudroutes.cli import app

    runner = CliRunner()

    def invoke(*args: str, **env: str) -> Any:
        return runner.invoke(app, list(args), env=env or None, catch_exceptions=False)

    return invoke
