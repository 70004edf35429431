"""AWS tests run against the embedded EC2 cloud: moto's server on loopback plus AWS's route rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cloudroutes.sim.ec2 import Ec2Sim, seed

from .world import World


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ec2Sim]:
    with Ec2Sim() as cloud:
        for key, value in cloud.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("CLOUDROUTES_CONFIG", raising=False)
        yield cloud


@pytest.fixture
def ec2(sim: Ec2Sim) -> Any:
    return sim.client()


@pytest.fixture
def make_world(sim: Ec2Sim, ec2: Any, tmp_path: Any) -> Callable[..., World]:
    def make(*, tag_tables: bool = True) -> World:
        return World(sim=sim, ec2=ec2, seed=seed.vpc(ec2, cluster="prod", tag_tables=tag_tables), path=tmp_path)

    return make


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    """A VPC with two AZ tables tagged for cluster 'prod', no nodes yet, no foreign routes."""
    return make_world()
