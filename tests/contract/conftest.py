"""The `cloud` fixture: every contract scenario runs once on each embedded cloud."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cloudroutes.sim.ec2 import Ec2Sim
from cloudroutes.sim.gce import ComputeSim
from tests.gce import world as gce_world

from . import aws_cloud, gce_cloud
from .clouds import Cloud

_ENV = (
    "CLOUDROUTES_CONFIG",
    "CLOUDROUTES_PROVIDER",
    "CLOUDROUTES_GCE_ENDPOINT",
    "CLOUDROUTES_GCE_PROJECT",
    "CLOUDROUTES_GCE_EMULATOR",
)


@pytest.fixture(params=["aws", "gce"])
def cloud(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[Cloud]:
    for key in _ENV:
        monkeypatch.delenv(key, raising=False)
    if request.param == "aws":
        with Ec2Sim() as sim:
            for key, value in sim.env().items():
                monkeypatch.setenv(key, value)
            yield aws_cloud.seed(sim, tmp_path)
    else:
        with ComputeSim(project=gce_world.PROJECT) as sim:
            yield gce_cloud.seed(sim, tmp_path)
