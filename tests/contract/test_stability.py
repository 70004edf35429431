"""A live node's subnet never moves: the record on its VM decides, routes follow, and two runs at
once end with one subnet per node (every cloud)."""

from __future__ import annotations

import threading
from ipaddress import ip_network

import pytest

from cloudroutes import engine
from cloudroutes.model import ActionKind, Outcome

from .clouds import Cloud, assert_routed, converge, plan


def test_a_route_bent_at_another_live_node_is_put_back_and_nobody_moves(cloud: Cloud) -> None:
    nodes = cloud.add_nodes(3)
    assert converge(cloud).converged
    before = cloud.pod_cidrs()
    # The bent block sorts below the thief's own: the ranking that once let routes outweigh records
    # handed the thief the lower block and its own to the victim, a swap of two live nodes.
    by_block = sorted(nodes, key=lambda n: ip_network(before[n]).network_address)
    victim, thief = by_block[0], by_block[-1]
    cloud.bend(before[victim], to=thief)
    assert all(routes[before[victim]] == thief for routes in cloud.routes().values())
    cloud.reset_calls()

    report = converge(cloud)

    assert report.converged
    assert cloud.pod_cidrs() == before, "no live node's subnet moved"
    for routes in cloud.routes().values():
        assert routes == {cidr: node for node, cidr in before.items()}
    assert "record" not in cloud.writes(), "no claim written"
    assert plan(cloud).plan.empty


def test_newcomers_move_nobody_and_a_terminated_nodes_subnet_rests(cloud: Cloud) -> None:
    nodes = cloud.add_nodes(3)
    assert converge(cloud).converged
    before = cloud.pod_cidrs()
    cloud.terminate(nodes[0])
    born = cloud.add_nodes(2)

    report = converge(cloud)

    assert report.converged
    after = assert_routed(cloud, [*nodes[1:], *born])
    assert {n: after[n] for n in nodes[1:]} == {n: before[n] for n in nodes[1:]}
    assert before[nodes[0]] not in after.values(), "a freed subnet rests while other blocks are free"
    assert all(before[nodes[0]] not in routes for routes in cloud.routes().values())


def test_two_nodes_recording_one_subnet_the_earlier_launch_keeps_it(cloud: Cloud) -> None:
    first, second = cloud.add_nodes(2)
    for node in (second, first):
        cloud.record(node, "10.244.9.0/24")

    assert converge(cloud).converged

    assert cloud.pod_cidrs() == {first: "10.244.9.0/24", second: "10.244.0.0/24"}
    assert_routed(cloud, [first, second])


def test_a_record_beats_a_route_to_a_node_that_records_nothing(cloud: Cloud) -> None:
    first, second = cloud.add_nodes(2)
    cloud.add_route("10.244.5.0/24", to=second)
    cloud.record(first, "10.244.5.0/24")

    assert converge(cloud).converged

    assert cloud.pod_cidrs() == {first: "10.244.5.0/24", second: "10.244.0.0/24"}
    assert_routed(cloud, [first, second])


@pytest.mark.parametrize("slow", [False, True], ids=["writes-land-at-once", "writes-land-later"])
def test_two_applies_at_once_end_with_one_subnet_and_route_per_node(cloud: Cloud, slow: bool) -> None:
    nodes = cloud.add_nodes(8)
    if slow:
        cloud.slow()
    cloud.reset_calls()
    reports: list[engine.Report] = []

    def run() -> None:
        reports.append(converge(cloud))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(reports) == 2 and all(r.converged for r in reports), [r.failed for r in reports]
    assert set(assert_routed(cloud, nodes)) == set(nodes)
    assert not {"route.delete", "route.replace"} & set(cloud.writes()), "no flapping: nothing made was unmade"
    assert plan(cloud).plan.empty


def test_a_route_made_between_plan_and_apply_means_observe_again_not_success(cloud: Cloud) -> None:
    nodes = cloud.add_nodes(3)
    cfg, provider = cloud.config(), cloud.provider()
    planned = engine.make_plan(provider, cfg)
    contested = next(a.destination for a in planned.plan.actions if a.kind is ActionKind.CREATE and a.node == nodes[0])
    # Between plan and apply, someone routes that subnet, the way we would, to another node.
    cloud.add_route(str(contested), to=nodes[1])

    report = engine.apply(provider, cfg, planned)

    assert report.rounds >= 2
    assert any(
        r.outcome is Outcome.CONFLICT and r.error_kind == "conflict" and r.action.destination == contested
        for r in report.results
    )
    assert report.converged
    assert_routed(cloud, nodes)
    assert plan(cloud).plan.empty
