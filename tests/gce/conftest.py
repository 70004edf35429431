"""GCE tests run against the embedded Compute Engine emulator, through the real google-cloud-compute client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

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
