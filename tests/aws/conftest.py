"""AWS tests run against the embedded EC2 cloud: moto's server on loopback plus AWS's route rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudroutes import config as config_mod
from cloudroutes.cli import app
from cloudroutes.providers.aws import AwsProvider
from cloudroutes.sim import ec2_seed
from cloudroutes.sim.ec2 import Ec2Sim

CONFIG = """\
provider = "aws"
[cluster]
name = "{cluster}"
cidr = {cidr}
node_mask = {node_mask}
[aws]
region = "us-east-1"
vpc_id = "{vpc_id}"
route_tables = {route_tables}
[limits]
backoff_max = 0.05
"""


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


@dataclass
class World:
    """A seeded VPC plus the ways tests poke at it."""

    sim: Ec2Sim
    ec2: Any
    seed: ec2_seed.Seed
    path: Any

    def config_text(self, *, cidr: str = '"10.244.0.0/16"', node_mask: int = 24, route_tables: str = "[]", vpc_id: str = "") -> str:
        return CONFIG.format(
            cluster=self.seed.cluster, cidr=cidr, node_mask=node_mask, vpc_id=vpc_id or self.seed.vpc_id, route_tables=route_tables
        )

    def config(self, **kwargs: Any) -> config_mod.Config:
        return config_mod.from_text(self.config_text(**kwargs))

    def write_config(self, **kwargs: Any) -> str:
        target = self.path / "cloudroutes.toml"
        target.write_text(self.config_text(**kwargs))
        return str(target)

    def provider(self, **kwargs: Any) -> AwsProvider:
        return AwsProvider(self.config(**kwargs))

    def routes(self, table: str) -> dict[str, dict[str, Any]]:
        tables = self.ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"]
        return {
            r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock"): r
            for r in tables[0]["Routes"]
            if r.get("Origin") != "CreateRouteTable"
        }

    def instances(self) -> dict[str, dict[str, Any]]:
        reservations = self.ec2.describe_instances(InstanceIds=self.seed.instance_ids)["Reservations"]
        return {i["InstanceId"]: i for r in reservations for i in r["Instances"]}

    def pod_cidrs(self) -> dict[str, str]:
        return {
            iid: tags["cloudroutes.io/pod-cidr"]
            for iid, i in self.instances().items()
            if i["State"]["Name"] != "terminated"
            and "cloudroutes.io/pod-cidr" in (tags := {t["Key"]: t["Value"] for t in i.get("Tags", [])})
        }


@pytest.fixture
def make_world(sim: Ec2Sim, ec2: Any, tmp_path: Any) -> Callable[..., World]:
    def make(*, tag_tables: bool = True) -> World:
        return World(sim=sim, ec2=ec2, seed=ec2_seed.vpc(ec2, cluster="prod", tag_tables=tag_tables), path=tmp_path)

    return make


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    """A VPC with two AZ tables tagged for cluster 'prod', no nodes yet, no foreign routes."""
    return make_world()


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Run the real CLI in-process (stdin is not a terminal, as under cron or CI)."""
    runner = CliRunner()

    def invoke(*args: str, **env: str) -> Any:
        return runner.invoke(app, list(args), env=env or None, catch_exceptions=False)

    return invoke
