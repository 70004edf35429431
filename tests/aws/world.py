"""An AWS world for tests: a seeded VPC in the embedded EC2 cloud, and the ways tests poke at it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cloudroutes.sim.ec2 import Ec2Sim, seed
from tests.config_file import ConfigFile, cluster_toml

AWS = """\
[aws]
region = "us-east-1"
vpc_id = "{vpc_id}"
route_tables = {route_tables}
[limits]
backoff_max = 0.05
"""


@dataclass
class World(ConfigFile):
    """A seeded VPC plus the ways tests poke at it."""

    PROVIDER = "aws"

    sim: Ec2Sim
    ec2: Any
    seed: seed.Seed
    path: Any

    def config_text(
        self, *, cidr: str = '"10.244.0.0/16"', node_mask: int = 24, route_tables: str = "[]", vpc_id: str = ""
    ) -> str:
        cluster = cluster_toml(provider=self.PROVIDER, cluster=self.seed.cluster, cidr=cidr, node_mask=node_mask)
        return cluster + AWS.format(vpc_id=vpc_id or self.seed.vpc_id, route_tables=route_tables)

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
