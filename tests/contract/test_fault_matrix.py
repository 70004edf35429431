"""The fault matrix: every embedded cloud x every way a cloud fails x a few seeds, with one set of
invariants checked after each scenario (`assert_invariants`).

Each scenario starts from a converged cluster beside foreign routes (a peering or gateway route, an
appliance), then changes it (nodes join, one is terminated) and converges again under its fault,
a pass at a time, at most two passes. Seeds pick the faults' dice, the churn and the write a
SIGKILL lands on; the default seeds run on every CI run, `--fault-sweep N` (or
CLOUDROUTES_FAULT_SWEEP=N) runs N of them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from cloudroutes import engine
from tests.conftest import fault_seeds

from .clouds import Cloud, assert_routed, converge, plan

PASSES = 2
"""Every scenario converges within this many passes."""
GOAL = {"throttle_reads": 0.3, "throttle_writes": 0.3, "server_errors": 0.05}
"""Issue 7's profile, throttling and 5xx at once: under 30% of reads and writes throttled and 5% of
all calls answering 500, every seed converges within two passes, and a pass whose writes all
succeeded never reports "unverified" because of one failed read."""
APPLIANCE = "10.244.200.0/24"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seed" in metafunc.fixturenames:
        metafunc.parametrize("seed", fault_seeds(metafunc.config), ids=lambda s: f"seed{s}")


@dataclass
class World:
    """What a scenario started from: the live nodes, their subnets, the foreign routes."""

    cloud: Cloud
    rng: random.Random
    live: list[str]
    subnets: dict[str, str]
    foreign: dict[str, Any]
    reports: list[engine.Report] = field(default_factory=list)


def churned(cloud: Cloud, seed: int) -> World:
    """A converged cluster beside foreign routes; then one node terminated and a few new ones."""
    rng = random.Random(seed)
    nodes = cloud.add_nodes(3, forwarding=True)  # forwarding on: foreign routes' warnings stay as they are
    cloud.add_foreign_routes(via=nodes[:2])
    cloud.add_appliance(APPLIANCE)
    foreign = cloud.raw_routes()
    assert converge(cloud).converged
    subnets = cloud.pod_cidrs()
    gone = nodes[2]  # not a foreign route's next hop: its state would change the route's warnings
    cloud.terminate(gone)
    born = cloud.add_nodes(rng.randint(1, 2))
    live = [n for n in nodes if n != gone] + born
    return World(cloud=cloud, rng=rng, live=live, subnets=subnets, foreign=foreign)


def passes(world: World) -> None:
    """Converge a pass at a time until one reports converged, at most PASSES."""
    for _ in range(PASSES):
        world.reports.append(converge(world.cloud))
        if world.reports[-1].converged:
            return


def assert_invariants(world: World) -> None:
    """What must hold after every scenario, whatever the cloud and the fault."""
    cloud = world.cloud
    cloud.chaos(seed=0)  # faults off: the checks read the truth
    cidrs = cloud.pod_cidrs()
    assert set(world.live) <= set(cidrs), f"nodes without a subnet: {set(world.live) - set(cidrs)}"
    assert not cloud.pod_cidrs(6), "each node exactly one subnet"
    live = {n: cidrs[n] for n in world.live}
    assert len(set(live.values())) == len(live), f"two nodes on one subnet: {live}"
    moved = {n: (world.subnets[n], live[n]) for n in live if n in world.subnets and world.subnets[n] != live[n]}
    assert not moved, f"live nodes moved: {moved}"
    after = cloud.raw_routes()
    assert {k: after.get(k) for k in world.foreign} == world.foreign, "a foreign route was touched"
    assert_routed(cloud, world.live)
    assert 1 <= len(world.reports) <= PASSES and world.reports[-1].converged, [
        (r.converged, r.unverified, [x.error for x in r.failed], [a.describe() for a in r.final.actions])
        for r in world.reports
    ]
    for report in world.reports:
        if report.results and not report.failed:
            assert not report.unverified, f"every write succeeded, yet: unverified ({report.unverified})"
    assert plan(cloud).plan.empty


# -- scenarios: each takes the churned world and leaves reports of its passes -------------------


def under(**shares: float) -> Callable[[World, int], None]:
    def scenario(world: World, seed: int) -> None:
        world.cloud.chaos(seed=seed, **shares)
        passes(world)

    return scenario


def sigkill(world: World, seed: int) -> None:
    """`cloudroutes apply` is SIGKILLed right after one of its writes landed; then passes as usual."""
    cloud = world.cloud
    writes = len(plan(cloud).plan.actions)
    running: dict[str, subprocess.Popen[bytes]] = {}
    cloud.trip_after(world.rng.randint(1, writes), lambda: os.kill(running["apply"].pid, signal.SIGKILL))
    config = cloud.write_config()
    running["apply"] = subprocess.Popen(
        [sys.executable, "-m", "cloudroutes", "apply", "--yes", "--config", config],
        env={**os.environ, **cloud.cli_env()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert running["apply"].wait() == -signal.SIGKILL, "killed in the middle of its writes"
    passes(world)


def concurrent(world: World, seed: int) -> None:
    """Four runners at once, their writes landing a while after they are made; the race is pass one."""
    world.cloud.slow()
    reports: list[engine.Report] = []
    runners = [threading.Thread(target=lambda: reports.append(converge(world.cloud))) for _ in range(4)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    assert len(reports) == 4
    for report in reports:
        if report.results and not report.failed:
            assert not report.unverified
    world.reports.append(next((r for r in reports if not r.converged), reports[0]))
    if not world.reports[-1].converged:
        world.reports.append(converge(world.cloud))


def lagging(world: World, seed: int) -> None:
    """A write is not visible to reads for a while: the pass reads back until it is, and converges."""
    world.cloud.lag_reads(0.3)
    passes(world)
    assert world.reports[0].converged, "writes that succeeded but do not show yet are not drift"


SCENARIOS: dict[str, Callable[[World, int], None]] = {
    "throttled-and-5xx": under(**GOAL),
    "failed-operations": under(failed_operations=0.2),
    "sigkill-at-a-write": sigkill,
    "four-concurrent-runners": concurrent,
    "reads-lag-writes": lagging,
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_fault_matrix(cloud: Cloud, scenario: str, seed: int) -> None:
    world = churned(cloud, seed)

    SCENARIOS[scenario](world, seed)

    assert_invariants(world)


def test_a_read_refused_once_is_retried_and_costs_one_more_call(cloud: Cloud) -> None:
    """Reads are retried by kind like writes: a throttled or failed read is no failed pass."""
    cloud.add_nodes(2)
    cloud.refuse_each_read_once()
    cloud.reset_calls()

    report = converge(cloud)

    assert report.converged and not report.unverified
    twice_then_once = Counter({op: 3 for op in cloud.observation})  # planned (refused, retried), verified
    writes = Counter(cloud.writes())
    assert cloud.reads() == twice_then_once + cloud.fresh_reads(writes)
