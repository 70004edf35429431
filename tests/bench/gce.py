"""GCE converges, side by side: cloudroutes, the Kubernetes GCE route controller's pattern, a serial loop.

Every write is an operation that ends `operation_s` after the call (the emulator's op_seconds).
Nodes are created with canIpForward on, as the Kubernetes GCE provider requires (it never fixes
it), so the three strategies do the same route work; cloudroutes also writes one label per node.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cloudroutes import config as config_mod
from cloudroutes import engine, providers
from cloudroutes.providers import gce_names as names
from cloudroutes.sim.gce import ComputeSim
from tests.bench import floors

PROJECT = "bench"
ZONES = ("us-central1-a", "us-central1-b")


def world(nodes: int, operation_s: float) -> ComputeSim:
    sim = ComputeSim(project=PROJECT, op_seconds=operation_s, routes_quota=10_000).start()
    sim.add_network("default")
    sim.add_subnetwork("default", region="us-central1", name="default", cidr="10.128.0.0/16")
    for n in range(1, nodes + 1):
        sim.add_instance(f"node-{n}", zone=ZONES[n % 2], labels={names.CLUSTER_LABEL: "bench"}, can_ip_forward=True)
    sim.reset_calls()
    return sim


def row(
    strategy: str, nodes: int, operation_s: float, seconds: float, sim: ComputeSim, floor: float, **extra: Any
) -> dict[str, object]:
    calls = [c for c in sim.calls]
    writes = [c for c in calls if c.method != "GET" and not c.path.endswith("/wait")]
    polls = [c for c in calls if "/operations" in c.path]
    return {
        "strategy": strategy,
        "nodes": nodes,
        "operation": f"{operation_s:g} s",
        "seconds": round(seconds, 1),
        "x floor": round(seconds / floor, 2),
        "reads": len(calls) - len(writes),
        "writes": len(writes),
        "throttled": sum(1 for c in calls if c.status in (403, 429)),
        "operation polls": len(polls),
        **extra,
    }


def cloudroutes(nodes: int, operation_s: float) -> dict[str, object]:
    sim = world(nodes, operation_s)
    cfg = config_mod.from_text(
        f'provider = "gce"\n[cluster]\nname = "bench"\ncidr = "10.64.0.0/14"\n'
        f'[gce]\nproject = "{PROJECT}"\nendpoint = "{sim.endpoint}"\nemulator = true\n'
    )
    provider = providers.create("gce", cfg)
    started = time.monotonic()
    report = engine.apply(provider, cfg, engine.make_plan(provider, cfg))
    seconds = time.monotonic() - started
    floor = floors.gce(2 * nodes, operation_s=operation_s)
    result = row("cloudroutes", nodes, operation_s, seconds, sim, floor, converged=report.converged)
    sim.stop()
    return result


def kubernetes(nodes: int, operation_s: float) -> dict[str, object]:
    """The route controller with the GCE provider (kubernetes/cloud-provider controllers/route,
    cloud-provider-gcp providers/gce/gce_routes.go): one goroutine per missing route, up to 200 in
    flight, each inserting its route and polling its operation with globalOperations.get at least
    a second apart, all polls under one 5/s limiter; a 409 counts as success."""
    from google.api_core import exceptions as gx
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import compute_v1

    sim = world(nodes, operation_s)
    options: dict[str, Any] = {
        "credentials": AnonymousCredentials(),
        "client_options": ClientOptions(api_endpoint=sim.endpoint),
    }
    routes, ops = compute_v1.RoutesClient(**options), compute_v1.GlobalOperationsClient(**options)
    polls = _Limiter(rate=5.0)
    network = f"projects/{PROJECT}/global/networks/default"

    def create(n: int) -> None:
        zone = ZONES[n % 2]
        route = compute_v1.Route(
            name=f"bench-{n:08d}-0000-0000-0000-000000000000"[:63],
            network=network,
            dest_range=f"10.{64 + n // 256}.{n % 256}.0/24",
            next_hop_instance=f"zones/{zone}/instances/node-{n}",
            priority=1000,
            description="k8s-node-route",
        )
        try:
            op = routes.insert_unary(project=PROJECT, route_resource=route)
        except gx.Conflict:
            return
        while op.status != compute_v1.Operation.Status.DONE:
            time.sleep(1.0)  # operationPollInterval
            polls.take()
            op = ops.get(project=PROJECT, operation=op.name)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=200) as pool:
        list(pool.map(create, range(1, nodes + 1)))
    seconds = time.monotonic() - started
    result = row("Kubernetes GCE route controller (re-created)", nodes, operation_s, seconds, sim,
                 floors.gce(2 * nodes, operation_s=operation_s), converged=len(sim.routes()) >= nodes)  # fmt: skip
    sim.stop()
    return result


def serial(nodes: int, operation_s: float) -> dict[str, object]:
    """A shell loop's shape: per node, insert the route and wait for its operation, one at a time."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import compute_v1

    sim = world(nodes, operation_s)
    options: dict[str, Any] = {
        "credentials": AnonymousCredentials(),
        "client_options": ClientOptions(api_endpoint=sim.endpoint),
    }
    routes, ops = compute_v1.RoutesClient(**options), compute_v1.GlobalOperationsClient(**options)
    started = time.monotonic()
    for n in range(1, nodes + 1):
        route = compute_v1.Route(
            name=f"serial-{n}",
            network=f"projects/{PROJECT}/global/networks/default",
            dest_range=f"10.{64 + n // 256}.{n % 256}.0/24",
            next_hop_instance=f"zones/{ZONES[n % 2]}/instances/node-{n}",
            priority=1000,
        )
        op = routes.insert_unary(project=PROJECT, route_resource=route)
        while op.status != compute_v1.Operation.Status.DONE:
            op = ops.wait(project=PROJECT, operation=op.name)
    seconds = time.monotonic() - started
    result = row("serial insert-and-wait loop", nodes, operation_s, seconds, sim,
                 floors.gce(2 * nodes, operation_s=operation_s), converged=len(sim.routes()) >= nodes)  # fmt: skip
    sim.stop()
    return result


class _Limiter:
    """The Kubernetes provider's operation-poll token bucket (5 qps, burst 5), thread-safe."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + self._interval
        time.sleep(max(0.0, at - now))


def reads_per_pass(nodes: int) -> dict[str, object]:
    """A converged cluster (records and routes planted directly) observed once more."""
    from ipaddress import ip_network

    sim = ComputeSim(project=PROJECT, routes_quota=10_000).start()
    sim.add_network("default")
    sim.add_subnetwork("default", region="us-central1", name="default", cidr="10.128.0.0/16")
    blocks = ip_network("10.64.0.0/14").subnets(new_prefix=24)
    for n, block in zip(range(1, nodes + 1), blocks, strict=False):
        name, zone = f"node-{n}", ZONES[n % 2]
        labels = {names.CLUSTER_LABEL: "bench", names.CIDR_LABEL: names.label_value(block)}
        sim.add_instance(name, zone=zone, labels=labels, can_ip_forward=True)
        sim.add_route(
            name=names.route_name("bench", block),
            dest_range=str(block),
            next_hop_instance=f"zones/{zone}/instances/{name}",
            description=names.marker("bench"),
        )
    cfg = config_mod.from_text(
        f'provider = "gce"\n[cluster]\nname = "bench"\ncidr = "10.64.0.0/14"\n'
        f'[gce]\nproject = "{PROJECT}"\nendpoint = "{sim.endpoint}"\nemulator = true\n'
    )
    sim.reset_calls()
    started = time.monotonic()
    planned = engine.make_plan(providers.create("gce", cfg), cfg)
    seconds = time.monotonic() - started
    result = {
        "cloud": "GCE",
        "nodes": nodes,
        "read calls": len(sim.calls),
        "writes": len(sim.writes()),
        "plan empty": planned.plan.empty,
        "seconds": round(seconds, 2),
    }
    sim.stop()
    return result
