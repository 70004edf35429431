"""The `cloud` fixture: every contract scenario runs once on each embedded cloud."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cloudroutes.sim.ec2 import Ec2Sim, seed
from cloudroutes.sim.gce import ComputeSim
from tests.aws import world as aws_world
from tests.gce import world as gce_world

from .clouds import AwsCloud, Cloud, GceCloud

_ENV = ("CLOUDROUTES_CONFIG", "CLOUDROUTES_PROVIDER", "CLOUDROUTES_GCE_ENDPOINT", "CLOUDROUTES_GCE_PROJECT")


@pytest.fixture(params=["aws", "gce"])
def cloud(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[Cloud]:
    for key in _ENV:
        monkeypatch.delenv(key, raising=False)
    if request.param == "aws":
        with Ec2Sim() as sim:
            for key, value in sim.env().items():
                monkeypatch.setenv(key, value)
            ec2 = sim.client()
            yield AwsCloud(aws_world.World(sim=sim, ec2=ec2, seed=seed.vpc(ec2, cluster="prod"), path=tmp_path))
    else:
        with ComputeSim(project=gce_world.PROJECT) as sim:
            yield GceCloud(gce_world.seed_world(sim, tmp_path))
