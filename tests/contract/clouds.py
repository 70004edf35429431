"""One face for every embedded cloud, so a shared scenario is written once and run on each.

Each adapter (aws_cloud.py, gce_cloud.py) wraps that cloud's test world and reads the cloud back
through the sim, never through the provider under test: an assertion about routes or records is an
assertion about what the cloud holds. Where clouds differ in a way a scenario must know (the reads
of one observation, the word a cloud uses for a route to a stopped VM, the name of its route quota),
the difference is a member of `Cloud` named for what it means; no scenario asks which cloud it runs on.

Write kinds: every mutating call the cloud saw, by what it does to the cluster: "route.create",
"route.replace", "route.delete", "record" (a subnet written on or removed from a VM) and
"forwarding" (a VM's forwarding flag). A call that is none of these keeps the cloud's own name, so
an exact comparison catches it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any, Protocol

import pytest

from cloudroutes import engine
from cloudroutes.config import Config
from cloudroutes.providers.base import Provider

CLUSTER_CIDR = IPv4Network("10.244.0.0/16")
CLUSTER_CIDR_V6 = IPv6Network("fd00:10:244::/48")
DUAL = '["10.244.0.0/16", "fd00:10:244::/56"]'
"""A dual-stack cluster range (TOML), as `cidr=` to config() and write_config()."""


def in_cluster(destination: str) -> bool:
    dest = ip_network(destination)
    if isinstance(dest, IPv4Network):
        return dest.subnet_of(CLUSTER_CIDR)
    return dest.subnet_of(CLUSTER_CIDR_V6)


class Cloud(Protocol):
    observation: frozenset[str]
    """The cloud's read calls of one observation, each made once whatever the cluster size."""
    ACTIVE: str
    """The cloud's word for a route that delivers."""
    TARGET_STOPPED: str
    """The cloud's word for a route whose VM is stopped."""
    TARGET_GONE: str
    """The cloud's word for a route whose VM no longer exists."""
    ROUTE_QUOTA: str
    """How the cloud names the route quota; a refusal for lack of room names it."""
    READ_GRANT: str
    """The part of the shipped grants (see `grants`) without which no observation can be made."""
    DENIED_CODES: frozenset[str]
    """The cloud's error codes for a refused permission, as the metrics count them."""

    # -- the world -------------------------------------------------------------------------

    def add_nodes(self, count: int, *, forwarding: bool = False) -> list[str]:
        """Launch `count` VMs selected as nodes, each later than the last; their names as the engine
        knows them. Forwarding off unless asked, as both clouds create VMs."""
        ...

    def terminate(self, node: str) -> None: ...

    def stop(self, node: str) -> None: ...

    def start(self, node: str) -> None: ...

    def record(self, node: str, cidr: str) -> None:
        """Write a subnet record on the VM by hand, as another run (or a person) would."""
        ...

    def add_route(self, destination: str, *, to: str) -> None:
        """A route shaped like one of ours, made by hand in every managed table, to node `to`."""
        ...

    def bend(self, destination: str, to: str) -> None:
        """Re-point our route for `destination` at node `to` in every table, as a person would by hand."""
        ...

    def remove_route(self, destination: str) -> None:
        """Delete the route for `destination` from every managed table, behind the engine's back."""
        ...

    def add_foreign_route(self, destination: str, *, to: str | None = None) -> str:
        """A route someone else made in every managed table: to node `to`, or to the internet gateway.
        Returns its target as the cloud names it."""
        ...

    def add_foreign_routes(self, *, via: list[str]) -> list[str]:
        """Every kind of foreign route this cloud knows (some to the nodes `via`), inside the cluster
        range; returns the destinations they hold, lowest first."""
        ...

    def add_appliance(self, destination: str) -> str:
        """A live VM that never held a subnet (a firewall), and a route for `destination` to it shaped
        like one of ours (in every managed table, with our marker). Returns the VM's name."""
        ...

    def add_neighbour(self, cluster: str, subnets: list[str]) -> list[str]:
        """Another cluster sharing the managed tables: one VM of `cluster` per subnet, recording it,
        and a route of that cluster for it in every table. Returns the VMs' names."""
        ...

    def leave(self, node: str) -> None:
        """Take the node out of the cluster (its selector tag or label goes); it keeps running and
        keeps its subnet record."""
        ...

    def dual_stack(self) -> None:
        """Make the network ready for IPv6 pod subnets."""
        ...

    def limit_routes(self, room: int) -> None:
        """Set the route quota so that `room` more routes fit in each managed table."""
        ...

    def throttle(self) -> None:
        """Refuse some writes from now on for exceeding the cloud's rate limit."""
        ...

    def slow(self) -> None:
        """Let every change the cloud makes from now on take a while to land."""
        ...

    def chaos(
        self,
        *,
        seed: int,
        throttle_reads: float = 0.0,
        throttle_writes: float = 0.0,
        server_errors: float = 0.0,
        failed_operations: float = 0.0,
    ) -> None:
        """Seeded random faults from now on, each a share of the calls it hits: reads and writes refused
        for the rate limit, any call answering 500, and writes accepted whose outcome comes back as a
        failure (GCE: the operation ends in an error, the write undone; EC2, whose writes are
        synchronous: the write lands and the answer is a 500). All zero: faults off."""
        ...

    def refuse_each_read_once(self) -> None:
        """The next call of each read of an observation is refused once: for the rate limit, or 500."""
        ...

    def lag_reads(self, seconds: float) -> None:
        """From now on a write is not visible to reads for `seconds`, the cloud's own way (EC2: its
        eventual consistency; GCE: the write's operation still running)."""
        ...

    def trip_after(self, writes: int, action: Callable[[], None]) -> None:
        """Call `action` once, when the `writes`-th write from now on has landed and before its
        answer leaves the cloud (a client SIGKILLed there never hears it)."""
        ...

    def cli_env(self) -> dict[str, str]:
        """What a `cloudroutes` subprocess needs in its environment to reach this cloud."""
        ...

    # -- config and credentials --------------------------------------------------------------

    def config(self, **overrides: Any) -> Config:
        """Overrides: cidr (TOML, e.g. '"10.244.0.0/16"'), node_mask, network (the VPC or network)."""
        ...

    def write_config(self, **overrides: Any) -> str: ...

    def provider(self, **overrides: Any) -> Provider: ...

    def settings(self) -> dict[str, str]:
        """The whole config as `section.key` -> value ("provider" -> its name), for env and flags."""
        ...

    def select_nothing(self) -> list[str]:
        """CLI arguments that make the node selector match no VM."""
        ...

    def drop_credentials(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Take away every credential the cloud's standard chain could find."""
        ...

    def node_cidr(self, node: str) -> tuple[list[str], dict[str, str]]:
        """`node-cidr` arguments and environment that name this VM from outside it."""
        ...

    def overlapping_cidr(self) -> tuple[str, str]:
        """A cluster range (TOML) overlapping the network's own addresses, and the range it overlaps."""
        ...

    def missing_network(self) -> tuple[str, str]:
        """A `network` override naming a network that does not exist, and how the refusal names it."""
        ...

    # -- least privilege ---------------------------------------------------------------------

    def grants(self) -> dict[str, frozenset[str]]:
        """The parts of the shipped policy (AWS: statements by Sid; GCE: the custom role's permissions),
        each with the permissions a refusal for its absence may name."""
        ...

    def restrict(self, without: str | None = None) -> dict[str, str]:
        """From now on the engine acts with exactly the shipped policy, less the part `without`.
        Returns the environment a CLI run needs to act as that identity."""
        ...

    def exercise_every_grant(self) -> None:
        """Make the cloud answer so that the next converge also needs the grants a plain one can skip
        (GCE: its operations are polled, and one route insert meets another run's route name)."""
        ...

    # -- the cloud, read back ----------------------------------------------------------------

    def tables(self) -> list[str]: ...

    def pod_cidrs(self, version: int = 4) -> dict[str, str]:
        """Each live node's recorded subnet of that family, read from its tag or label (only VMs the
        cluster selects: not another cluster's, not one that left)."""
        ...

    def labels(self, node: str) -> dict[str, str]:
        """The VM's tags or labels, as the cloud holds them."""
        ...

    def forwarding(self, node: str) -> bool: ...

    def routes(self) -> dict[str, dict[str, str | None]]:
        """Our routes per managed table: destination -> the node it delivers to (None: no live VM, or
        not the VM's own target, such as a secondary interface). Not the routes add_appliance and
        add_neighbour made."""
        ...

    def route_states(self) -> dict[str, dict[str, str]]:
        """Our routes per managed table: destination -> the cloud's word for whether it delivers."""
        ...

    def raw_routes(self) -> dict[str, Any]:
        """Every route of the network (managed tables or not) as the cloud renders it, by a unique key."""
        ...

    # -- the call log ------------------------------------------------------------------------

    def writes(self) -> list[str]:
        """Mutating calls since the last reset, by write kind (see the module docstring)."""
        ...

    def calls(self) -> Counter[str]:
        """Every call since the last reset, by the cloud's operation name."""
        ...

    def reads(self) -> Counter[str]:
        """Non-mutating calls since the last reset, by the cloud's operation name."""
        ...

    def fresh_reads(self, writes: Counter[str]) -> Counter[str]:
        """Reads the cloud's writes need of their own, beside the observations."""
        ...

    def forwarded(self) -> list[str]:
        """Nodes whose forwarding flag a write changed since the last reset."""
        ...

    def throttled(self) -> int:
        """Writes the cloud refused for its rate limit since the last reset."""
        ...

    def reset_calls(self) -> None: ...

    def provider_id(self, node: str) -> str:
        """The node's VM as a Kubernetes Node's spec.providerID names it."""
        ...


# -- scenario steps ------------------------------------------------------------------------


def converge(cloud: Cloud, **overrides: Any) -> engine.Report:
    cfg, provider = cloud.config(**overrides), cloud.provider(**overrides)
    return engine.apply(provider, cfg, engine.make_plan(provider, cfg))


def plan(cloud: Cloud, **overrides: Any) -> engine.Planned:
    return engine.make_plan(cloud.provider(**overrides), cloud.config(**overrides))


def assert_routed(cloud: Cloud, nodes: Iterable[str], version: int = 4) -> dict[str, str]:
    """Each node holds its own subnet, routed to it in every managed table, and nothing else is ours."""
    nodes = list(nodes)
    cidrs = cloud.pod_cidrs(version)
    assert set(nodes) <= set(cidrs), f"nodes without a recorded subnet: {set(nodes) - set(cidrs)}"
    live = {n: cidrs[n] for n in nodes}
    assert len(set(live.values())) == len(live), f"a subnet recorded on two nodes: {live}"
    wanted = {cidr: node for node, cidr in cidrs.items()}
    for table, routes in cloud.routes().items():
        family = {dest: node for dest, node in routes.items() if ip_network(dest).version == version}
        assert family == wanted, f"table {table}"
    return live


def blocks(*indices: int) -> list[str]:
    return [f"10.244.{i}.0/24" for i in indices]
