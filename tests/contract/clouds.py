"""One face for both embedded clouds, so a shared scenario is written once and run on each.

Each adapter wraps that cloud's test world (tests/aws/world.py, tests/gce/world.py) and reads the
cloud back through the sim, never through the provider under test: an assertion about routes or
records is an assertion about what the cloud holds.
"""

from __future__ import annotations

from ipaddress import ip_network
from typing import Protocol

from cloudroutes import engine
from cloudroutes.config import Config
from cloudroutes.providers.base import Provider
from cloudroutes.sim.ec2 import seed
from tests.aws import world as aws_world
from tests.gce import world as gce_world

CLUSTER_CIDR = ip_network("10.244.0.0/16")


class Cloud(Protocol):
    name: str

    def add_nodes(self, count: int) -> list[str]:
        """Launch `count` VMs selected as nodes; returns their names as the engine knows them."""
        ...

    def config(self) -> Config: ...

    def provider(self) -> Provider: ...

    def tables(self) -> list[str]: ...

    def pod_cidrs(self) -> dict[str, str]:
        """Each live node's recorded IPv4 subnet, read from its tag or label."""
        ...

    def routes(self) -> dict[str, dict[str, str | None]]:
        """Per managed table: destination -> the node it delivers to (None: not a node), in the cluster range."""
        ...

    def bend(self, destination: str, to: str) -> None:
        """Re-point the route for `destination` at node `to` in every table, as a person would by hand."""
        ...

    def writes(self) -> list[str]:
        """Mutating calls the cloud saw since the last reset, by operation name."""
        ...

    def reset_calls(self) -> None: ...

    def provider_id(self, node: str) -> str:
        """The node's VM as a Kubernetes Node's spec.providerID names it."""
        ...


def converge(cloud: Cloud) -> engine.Report:
    cfg, provider = cloud.config(), cloud.provider()
    return engine.apply(provider, cfg, engine.make_plan(provider, cfg))


def plan(cloud: Cloud) -> engine.Planned:
    return engine.make_plan(cloud.provider(), cloud.config())


class AwsCloud:
    name = "aws"

    def __init__(self, world: aws_world.World) -> None:
        self.world = world

    def add_nodes(self, count: int) -> list[str]:
        return list(seed.launch(self.world.ec2, self.world.seed, count))

    def config(self) -> Config:
        return self.world.config()

    def provider(self) -> Provider:
        return self.world.provider()

    def tables(self) -> list[str]:
        return list(self.world.seed.table_ids)

    def pod_cidrs(self) -> dict[str, str]:
        return self.world.pod_cidrs()

    def _eni_owners(self) -> dict[str, str]:
        return {
            eni["NetworkInterfaceId"]: iid
            for iid, instance in self.world.instances().items()
            for eni in instance.get("NetworkInterfaces", [])
        }

    def _primary_eni(self, node: str) -> str:
        instance = self.world.instances()[node]
        return str(
            next(e for e in instance["NetworkInterfaces"] if e["Attachment"]["DeviceIndex"] == 0)["NetworkInterfaceId"]
        )

    def routes(self) -> dict[str, dict[str, str | None]]:
        owners = self._eni_owners()
        return {
            table: {
                dest: owners.get(raw.get("NetworkInterfaceId", ""))
                for dest, raw in self.world.routes(table).items()
                if ip_network(dest).version == 4 and ip_network(dest).subnet_of(CLUSTER_CIDR)
            }
            for table in self.tables()
        }

    def bend(self, destination: str, to: str) -> None:
        eni = self._primary_eni(to)
        for table in self.tables():
            self.world.ec2.replace_route(RouteTableId=table, DestinationCidrBlock=destination, NetworkInterfaceId=eni)

    def writes(self) -> list[str]:
        return [call.action for call in self.world.sim.writes()]

    def reset_calls(self) -> None:
        self.world.sim.reset_calls()

    def provider_id(self, node: str) -> str:
        zone = self.world.instances()[node]["Placement"]["AvailabilityZone"]
        return f"aws:///{zone}/{node}"


class GceCloud:
    name = "gce"

    def __init__(self, world: gce_world.World) -> None:
        self.world = world

    def add_nodes(self, count: int) -> list[str]:
        return self.world.add_nodes(count)

    def config(self) -> Config:
        return self.world.config()

    def provider(self) -> Provider:
        return self.world.provider()

    def tables(self) -> list[str]:
        return ["default"]

    def pod_cidrs(self) -> dict[str, str]:
        return self.world.pod_cidrs()

    def routes(self) -> dict[str, dict[str, str | None]]:
        live = set(self.world.instances())
        found: dict[str, str | None] = {}
        for route in self.world.sim.routes():
            dest = ip_network(route["destRange"])
            if dest.version == 4 and dest.subnet_of(CLUSTER_CIDR):
                hop = route.get("nextHopInstance", "").rsplit("/", 1)[-1]
                found[str(dest)] = hop if hop in live else None
        return {"default": found}

    def bend(self, destination: str, to: str) -> None:
        """GCE routes are immutable: a person deletes the route and inserts it again, same name, new hop."""
        [route] = [r for r in self.world.sim.routes() if r["destRange"] == destination]
        self.world.sim.remove_route(route["name"])
        self.world.sim.add_route(
            name=route["name"],
            dest_range=destination,
            next_hop_instance=self.world.hop(to),
            description=route.get("description", ""),
        )

    def writes(self) -> list[str]:
        return [gce_world.method_id(call) for call in self.world.sim.writes()]

    def reset_calls(self) -> None:
        self.world.sim.reset_calls()

    def provider_id(self, node: str) -> str:
        return f"gce://{gce_world.PROJECT}/{self.world.zone_for(node)}/{node}"
