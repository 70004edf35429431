"""The contract's face of the embedded Compute Engine: network 'default' (one subnet with a secondary
range, the internet route) in one project, and the ways to poke at it."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Callable
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloudroutes.config import Config
from cloudroutes.providers import gce_names as names
from cloudroutes.providers.base import Provider
from cloudroutes.sim.chaos import Chaos
from cloudroutes.sim.gce import ComputeSim
from tests.gce import world as gce_world

from .clouds import in_cluster

WRITE_KINDS = {
    "routes.insert": "route.create",
    "routes.delete": "route.delete",
    "instances.setLabels": "record",
    "instances.update": "forwarding",
}
MARKER = names.marker(gce_world.CLUSTER)
GATEWAY = "default-internet-gateway"
ROLE = Path(__file__).resolve().parents[2] / "terraform-examples" / "gce" / "cloudroutes-role.yaml"


def role_permissions() -> list[str]:
    """The shipped custom role's includedPermissions, in its order."""
    return list(yaml.safe_load(ROLE.read_text())["includedPermissions"])


def seed(sim: ComputeSim, path: Any) -> GceCloud:
    return GceCloud(gce_world.seed_world(sim, path))


class GceCloud:
    observation = frozenset(gce_world.READS)
    ACTIVE = "active"
    TARGET_STOPPED = "NEXT_HOP_NOT_RUNNING"
    TARGET_GONE = "NEXT_HOP_INSTANCE_NOT_FOUND"
    ROUTE_QUOTA = "ROUTES"
    READ_GRANT = "compute.routes.list"
    DENIED_CODES = frozenset({"forbidden"})

    def __init__(self, world: gce_world.World) -> None:
        self.world = world
        self.sim = world.sim
        self._emulator = True
        self._strangers: set[str] = set()
        """Destinations add_appliance and add_neighbour routed: never ours."""

    # -- the world -------------------------------------------------------------------------

    def add_nodes(self, count: int, *, forwarding: bool = False) -> list[str]:
        return self.world.add_nodes(count, forwarding=forwarding)

    def terminate(self, node: str) -> None:
        self.sim.delete_instance(self.world.zone_for(node), node)

    def stop(self, node: str) -> None:
        self.sim.set_instance_status(self.world.zone_for(node), node, "TERMINATED")

    def start(self, node: str) -> None:
        self.sim.set_instance_status(self.world.zone_for(node), node, "RUNNING")

    def record(self, node: str, cidr: str) -> None:
        subnet = ip_network(cidr)
        self._set_labels(node, {**self.labels(node), names.label_key(subnet): names.label_value(subnet)})

    def _set_labels(self, node: str, labels: dict[str, str]) -> None:
        """Through the API, as another run would: read the fingerprint, then setLabels."""
        url = f"{self.sim.endpoint}/compute/v1/projects/{gce_world.PROJECT}/{self.world.hop(node)}"
        with urllib.request.urlopen(url) as answer:
            instance = json.load(answer)
        body = json.dumps({"labels": labels, "labelFingerprint": instance["labelFingerprint"]}).encode()
        request = urllib.request.Request(f"{url}/setLabels", data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        urllib.request.urlopen(request).close()

    def add_route(self, destination: str, *, to: str) -> None:
        self.sim.add_route(
            name=names.route_name(gce_world.CLUSTER, ip_network(destination)),
            dest_range=destination,
            next_hop_instance=self.world.hop(to),
            description=MARKER,
        )

    def bend(self, destination: str, to: str) -> None:
        """GCE routes are immutable: a person deletes the route and inserts it again, same name, new hop."""
        [route] = [r for r in self.sim.routes() if r["destRange"] == destination]
        self.sim.remove_route(route["name"])
        self.sim.add_route(
            name=route["name"],
            dest_range=destination,
            next_hop_instance=self.world.hop(to),
            description=route.get("description", ""),
        )

    def remove_route(self, destination: str) -> None:
        [route] = [r for r in self.sim.routes() if r["destRange"] == destination]
        self.sim.remove_route(route["name"])

    def add_foreign_route(self, destination: str, *, to: str | None = None) -> str:
        name = "theirs-" + destination.replace(".", "-").replace("/", "-")
        if to:
            self.sim.add_route(name=name, dest_range=destination, next_hop_instance=self.world.hop(to))
            return to
        self.sim.add_route(name=name, dest_range=destination, next_hop_gateway=GATEWAY)
        return GATEWAY

    def add_foreign_routes(self, *, via: list[str]) -> list[str]:
        """Unmarked to a VM, to a gateway, marked but to a gateway, and another cluster's whose name
        starts like ours: none of them is a node route of this cluster."""
        foreign: dict[str, dict[str, Any]] = {
            "theirs-to-a-vm": {
                "dest_range": "10.244.0.0/24",
                "next_hop_instance": self.world.hop(via[0]),
                "description": "someone else",
            },
            "theirs-to-gateway": {"dest_range": "10.244.1.0/24", "next_hop_gateway": GATEWAY},
            "cr-prod-gateway": {"dest_range": "10.244.2.0/24", "next_hop_gateway": GATEWAY, "description": MARKER},
            names.route_name("prod-eu", ip_network("10.244.3.0/24")): {
                "dest_range": "10.244.3.0/24",
                "next_hop_instance": self.world.hop(via[1]),
                "description": names.marker("prod-eu"),
            },
        }
        for name, fields in foreign.items():
            self.sim.add_route(name=name, **fields)
        return [fields["dest_range"] for fields in foreign.values()]

    def add_appliance(self, destination: str) -> str:
        """A firewall that took the name of a VM a route of ours once delivered to."""
        name = "firewall-1"
        self.sim.add_instance(name, zone=self.world.zone_for(name))
        self.add_route(destination, to=name)
        self._strangers.add(destination)
        return name

    def add_neighbour(self, cluster: str, subnets: list[str]) -> list[str]:
        made = self.world.add_nodes(len(subnets), cluster=cluster)
        for vm, subnet in zip(made, subnets, strict=True):
            self.record(vm, subnet)
            self.sim.add_route(
                name=names.route_name(cluster, ip_network(subnet)),
                dest_range=subnet,
                next_hop_instance=self.world.hop(vm),
                description=names.marker(cluster),
            )
            self._strangers.add(subnet)
        return made

    def leave(self, node: str) -> None:
        labels = {k: v for k, v in self.labels(node).items() if k != names.CLUSTER_LABEL}
        self._set_labels(node, labels)

    def dual_stack(self) -> None:
        """Routes to instances take IPv6 destinations as they are: nothing to prepare."""

    def limit_routes(self, room: int) -> None:
        # The quota is the project's: every route of every network counts.
        self.sim.routes_quota = room + len(self.sim.routes())

    def throttle(self) -> None:
        self.sim.rate_limit_every = 3

    def slow(self) -> None:
        self.sim.op_seconds = 0.05

    def chaos(self, *, seed: int, **shares: float) -> None:
        self.sim.set_chaos(Chaos(seed=seed, **shares))

    def refuse_each_read_once(self) -> None:
        for number, method in enumerate(sorted(self.observation)):
            if number % 2:
                self.sim.fail_next(method, http_status=403, reason="rateLimitExceeded", message="Rate Limit Exceeded")
            else:
                self.sim.fail_next(method, http_status=500, reason="internalError", message="Internal Error")

    def lag_reads(self, seconds: float) -> None:
        self.sim.op_seconds = seconds

    def trip_after(self, writes: int, action: Callable[[], None]) -> None:
        self.sim.trip_after(writes, action)

    def cli_env(self) -> dict[str, str]:
        return {}

    # -- config and credentials --------------------------------------------------------------

    def config(self, **overrides: Any) -> Config:
        return self.world.config(emulator=self._emulator, **overrides)

    def write_config(self, **overrides: Any) -> str:
        return self.world.write_config(emulator=self._emulator, **overrides)

    def provider(self, **overrides: Any) -> Provider:
        return self.world.provider(emulator=self._emulator, **overrides)

    def settings(self) -> dict[str, str]:
        return {
            "provider": "gce",
            "cluster.name": "prod",
            "cluster.cidr": "10.244.0.0/16",
            "gce.project": gce_world.PROJECT,
            "gce.network": "default",
            "gce.endpoint": self.sim.endpoint,
            "gce.emulator": "true",
            "gce.fix_forwarding": "true",
        }

    def select_nothing(self) -> list[str]:
        return ["--set", "gce.node_labels=role=nothing-matches"]

    def drop_credentials(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Application default credentials point nowhere, and the config no longer says "emulator":
        a private endpoint alone must never switch to anonymous credentials."""
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/credentials.json")
        self._emulator = False

    def node_cidr(self, node: str) -> tuple[list[str], dict[str, str]]:
        env = {
            "CLOUDROUTES_GCE_ENDPOINT": self.sim.endpoint,
            "CLOUDROUTES_GCE_EMULATOR": "true",
            "CLOUDROUTES_GCE_PROJECT": gce_world.PROJECT,
        }
        return ["--provider", "gce", "--instance-id", f"{self.world.zone_for(node)}/{node}"], env

    def overlapping_cidr(self) -> tuple[str, str]:
        return '"10.128.0.0/16"', gce_world.NODE_RANGE

    def missing_network(self) -> tuple[str, str]:
        return "nope", "network nope"

    # -- least privilege ---------------------------------------------------------------------

    def grants(self) -> dict[str, frozenset[str]]:
        return {p: frozenset({p}) for p in role_permissions()}

    def restrict(self, without: str | None = None) -> dict[str, str]:
        self.sim.grant_only(p for p in role_permissions() if p != without)
        return {}

    def exercise_every_grant(self) -> None:
        """Operations take a while (so they are polled by listing), and the first route insert is
        refused 409 as if another run held the name (so the route is read back)."""
        self.sim.op_seconds = 0.05
        self.sim.fail_next(
            "routes.insert", http_status=409, reason="alreadyExists", message="The resource already exists"
        )

    # -- the cloud, read back ----------------------------------------------------------------

    def tables(self) -> list[str]:
        return ["default"]

    def pod_cidrs(self, version: int = 4) -> dict[str, str]:
        key = names.CIDR_LABEL if version == 4 else names.CIDR_LABEL_V6
        return {
            name: str(names.parse_label(labels[key], version))
            for name, instance in self.world.instances().items()
            if key in (labels := instance.get("labels", {})) and labels.get(names.CLUSTER_LABEL) == gce_world.CLUSTER
        }

    def labels(self, node: str) -> dict[str, str]:
        return dict(self.world.instances()[node].get("labels", {}))

    def forwarding(self, node: str) -> bool:
        return self.world.instances()[node]["canIpForward"] is True

    def routes(self) -> dict[str, dict[str, str | None]]:
        live = set(self.world.instances())
        found: dict[str, str | None] = {}
        for dest, route in self._ours().items():
            hop = route["nextHopInstance"].rsplit("/", 1)[-1]
            found[dest] = hop if hop in live else None
        return {"default": found}

    def route_states(self) -> dict[str, dict[str, str]]:
        return {
            "default": {
                dest: ",".join(w["code"] for w in route.get("warnings", [])) or self.ACTIVE
                for dest, route in self._ours().items()
            }
        }

    def raw_routes(self) -> dict[str, Any]:
        return self.world.routes()

    def _ours(self) -> dict[str, dict[str, Any]]:
        """Marked for this cluster, to an instance, in the cluster range; two for one destination fail."""
        ours = [
            r
            for r in self.sim.routes()
            if names.is_marked(r["name"], r.get("description", ""), gce_world.CLUSTER)
            and "nextHopInstance" in r
            and in_cluster(r["destRange"])
            and r["destRange"] not in self._strangers
        ]
        by_dest = {r["destRange"]: r for r in ours}
        assert len(by_dest) == len(ours), f"two routes of ours for one destination: {ours}"
        return by_dest

    # -- the call log ------------------------------------------------------------------------

    def writes(self) -> list[str]:
        return [WRITE_KINDS.get(op, op) for op in map(gce_world.method_id, self.sim.writes())]

    def calls(self) -> Counter[str]:
        return gce_world.count(self.sim.calls)

    def reads(self) -> Counter[str]:
        return Counter(gce_world.method_id(c) for c in self.sim.calls if not c.is_write)

    def fresh_reads(self, writes: Counter[str]) -> Counter[str]:
        """A forwarding fix is a whole-instance PUT of the instance read fresh."""
        return Counter({"instances.get": writes["forwarding"]}) if writes["forwarding"] else Counter()

    def forwarded(self) -> list[str]:
        return [c.path.rsplit("/", 1)[-1] for c in self.sim.writes() if gce_world.method_id(c) == "instances.update"]

    def throttled(self) -> int:
        refused = [c for c in self.sim.writes() if c.status == 403]
        assert all((c.response or {})["error"]["errors"][0]["reason"] == "rateLimitExceeded" for c in refused), refused
        return len(refused)

    def reset_calls(self) -> None:
        self.sim.reset_calls()

    def provider_id(self, node: str) -> str:
        return f"gce://{gce_world.PROJECT}/{self.world.zone_for(node)}/{node}"
