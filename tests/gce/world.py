"""A GCE world for tests: network 'default' in the embedded Compute Engine cloud, and the ways tests poke at it.

Assertions read the cloud back (routes, labels, canIpForward) and count requests in the emulator's call
log, never the engine's own claims about what it did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Network, ip_network
from typing import Any

from cloudroutes import engine
from cloudroutes.providers import gce_names as names
from cloudroutes.sim.gce import Call, ComputeSim, endpoints
from tests.config_file import ConfigFile, cluster_toml

PROJECT = "demo-project"
CLUSTER = "prod"
REGION = "us-central1"
ZONES = ("us-central1-a", "us-central1-b")
NODE_RANGE = "10.128.0.0/20"
SECONDARY = "10.60.0.0/16"
INTERNET = "default-route-internet"

GCE = """\
[gce]
project = "{project}"
network = "{network}"
fix_forwarding = {fix_forwarding}
endpoint = "{endpoint}"
emulator = {emulator}
[limits]
backoff_max = 0.05
write_burst = 500
"""

READS = {"projects.get", "subnetworks.aggregatedList", "instances.aggregatedList", "routes.list"}


def method_id(call: Call) -> str:
    """The discovery id of a logged request ("routes.insert"), from its HTTP method and path."""
    endpoint, _ = endpoints.match(call.method, call.path)
    return endpoint.method_id


def count(calls: Iterable[Call]) -> Counter[str]:
    return Counter(method_id(c) for c in calls)


@dataclass
class World(ConfigFile):
    """Network 'default' (one subnet with a secondary range, the internet route) and the ways tests poke at it."""

    PROVIDER = "gce"

    sim: ComputeSim
    path: Any
    cluster: str = CLUSTER
    born: int = 0

    # -- the cloud, seeded -------------------------------------------------------------------

    def add_nodes(self, n: int, *, forwarding: bool = False, cluster: str | None = None) -> list[str]:
        """`n` VMs labelled for the cluster, alternating over two zones; canIpForward off, as GCE creates them."""
        made = []
        for _ in range(n):
            self.born += 1
            name = f"node-{self.born}"
            self.sim.add_instance(
                name,
                zone=self.zone_for(name),
                labels={names.CLUSTER_LABEL: cluster or self.cluster},
                can_ip_forward=forwarding,
            )
            made.append(name)
        return made

    @staticmethod
    def zone_for(name: str) -> str:
        return ZONES[(int(name.rsplit("-", 1)[-1]) - 1) % len(ZONES)]

    def hop(self, name: str) -> str:
        return f"zones/{self.zone_for(name)}/instances/{name}"

    # -- config and engine -------------------------------------------------------------------

    def config_text(
        self,
        *,
        cidr: str = '"10.244.0.0/16"',
        node_mask: int = 24,
        fix_forwarding: bool = True,
        emulator: bool = True,
        network: str = "default",
        project: str = PROJECT,
        cluster: str | None = None,
    ) -> str:
        top = cluster_toml(provider=self.PROVIDER, cluster=cluster or self.cluster, cidr=cidr, node_mask=node_mask)
        return top + GCE.format(
            project=project,
            network=network,
            fix_forwarding=str(fix_forwarding).lower(),
            endpoint=self.sim.endpoint,
            emulator=str(emulator).lower(),
        )

    def plan(self, **kwargs: Any) -> engine.Planned:
        return engine.make_plan(self.provider(**kwargs), self.config(**kwargs))

    def converge(self, **kwargs: Any) -> engine.Report:
        cfg, provider = self.config(**kwargs), self.provider(**kwargs)
        return engine.apply(provider, cfg, engine.make_plan(provider, cfg))

    # -- the cloud, read back ----------------------------------------------------------------

    def routes(self) -> dict[str, dict[str, Any]]:
        return {r["name"]: r for r in self.sim.routes()}

    def ours(self) -> dict[str, dict[str, Any]]:
        """Routes carrying this cluster's marker, by destination; a duplicate destination fails here."""
        marked = [r for r in self.sim.routes() if r.get("description") == names.marker(self.cluster)]
        by_dest = {r["destRange"]: r for r in marked}
        assert len(by_dest) == len(marked), f"two routes of ours for one destination: {marked}"
        return by_dest

    def instances(self) -> dict[str, dict[str, Any]]:
        found = self.sim.instances()
        by_name = {i["name"]: i for i in found}
        assert len(by_name) == len(found)
        return by_name

    def pod_cidrs(self) -> dict[str, str]:
        """Each node's recorded IPv4 subnet, decoded from its label."""
        return {
            name: str(names.parse_label(i["labels"][names.CIDR_LABEL], 4))
            for name, i in self.instances().items()
            if names.CIDR_LABEL in i.get("labels", {})
        }

    def assert_converged(self, nodes: Iterable[str]) -> dict[str, str]:
        """One route per node to that node, named and marked as ours, and the subnet recorded on the node."""
        nodes = list(nodes)
        cidrs = self.pod_cidrs()
        assert set(nodes) <= set(cidrs), f"nodes without a recorded subnet: {set(nodes) - set(cidrs)}"
        live = {n: cidrs[n] for n in nodes}
        assert len(set(live.values())) == len(live), f"a subnet recorded on two nodes: {live}"
        ours = self.ours()
        for node, cidr in live.items():
            route = ours[cidr]
            assert route["nextHopInstance"].endswith(f"/projects/{PROJECT}/{self.hop(node)}"), (node, route)
            assert route["name"] == names.route_name(self.cluster, ip_network(cidr))
            assert IPv4Network(cidr).subnet_of(IPv4Network("10.244.0.0/16"))
        return live


def seed_world(sim: ComputeSim, path: Any, *, internet_route: bool = True) -> World:
    """Network 'default' with one subnet (and a secondary range) and, by default, the internet route."""
    sim.add_network("default")
    sim.add_subnetwork("default", region=REGION, name="nodes", cidr=NODE_RANGE, secondary={"pods-x": SECONDARY})
    if internet_route:
        sim.add_route(
            name=INTERNET,
            dest_range="0.0.0.0/0",
            next_hop_gateway="default-internet-gateway",
            description="Default route to the Internet.",
        )
    return World(sim=sim, path=path)
