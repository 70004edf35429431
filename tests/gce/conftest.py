"""GCE tests run against the embedded Compute Engine emulator, through the real google-cloud-compute client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudroutes.cli import app
from cloudroutes.sim.gce import ComputeSim

from .world import PROJECT, World, seed_world


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[ComputeSim]:
    for key in (
        "CLOUDROUTES_CONFIG",
        "CLOUDROUTES_PROVIDER",
        "CLOUDROUTES_GCE_ENDPOINT",
        "CLOUDROUTES_GCE_PROJECT",
        "CLOUDROUTES_GCE_EMULATOR",
    ):
        monkeypatch.delenv(key, raising=False)
    with ComputeSim(project=PROJECT) as cloud:
        yield cloud


@pytest.fixture
def make_world(sim: ComputeSim, tmp_path: Any) -> Callable[..., World]:
    def make(*, internet_route: bool = True) -> World:
        return seed_world(sim, tmp_path, internet_route=internet_route)

    return make


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


@pytest.fixture
def cli() -> Callable[..., Any]:
    """Run the real CLI in-process (stdin is not a terminal, as under cron or CI)."""
    runner = CliRunner()

    def invoke(*args: str, **env: str) -> Any:
        return runner.invoke(app, list(args), env=env or None, catch_exceptions=False)

    return invoke
