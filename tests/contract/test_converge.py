"""A converge, end to end through the engine: what it leaves in the cloud and what it costs (every cloud).

Assertions read the cloud back and count calls at the sim, never the engine's own claims.
"""

from __future__ import annotations

from collections import Counter

import pytest

from .clouds import DUAL, Cloud, assert_routed, blocks, converge, plan


def test_converges_one_subnet_per_node_routed_in_every_table_with_forwarding_on(cloud: Cloud) -> None:
    nodes = cloud.add_nodes(3)
    labels = {n: cloud.labels(n) for n in nodes}
    before = cloud.raw_routes()

    report = converge(cloud)

    assert report.converged and not report.failed
    cidrs = assert_routed(cloud, nodes)
    assert sorted(cidrs.values()) == blocks(0, 1, 2)
    assert all(cloud.forwarding(n) for n in nodes)
    for states in cloud.route_states().values():
        assert set(states.values()) == {cloud.ACTIVE}
    assert all(labels[n].items() <= cloud.labels(n).items() for n in nodes), "the tags we do not own are kept"
    after = cloud.raw_routes()
    assert {key: after[key] for key in before} == before, "the routes that were there are untouched"


@pytest.mark.parametrize("n", [3, 30])
def test_a_second_pass_makes_zero_writes_and_reads_do_not_grow_with_the_node_count(cloud: Cloud, n: int) -> None:
    cloud.add_nodes(n)
    one_each = {op: 1 for op in cloud.observation}
    cloud.reset_calls()
    assert not plan(cloud).plan.empty
    assert cloud.calls() == one_each, "planning a new cluster: one read of each kind"
    assert converge(cloud).converged
    cloud.reset_calls()

    planned = plan(cloud)

    assert planned.plan.empty and planned.plan.problems == ()
    assert cloud.writes() == []
    assert cloud.calls() == one_each
    assert planned.observed.api_calls == one_each, "the engine counts what the cloud saw"


def test_a_converge_writes_once_per_missing_route_and_node_and_observes_twice(cloud: Cloud) -> None:
    cloud.add_nodes(4)
    cloud.reset_calls()

    assert converge(cloud).converged

    writes = Counter(cloud.writes())
    assert writes == {"route.create": 4 * len(cloud.tables()), "record": 4, "forwarding": 4}
    # One observation to plan and one to verify: nothing re-listed per route, nothing read per zone.
    assert cloud.reads() == Counter({op: 2 for op in cloud.observation}) + cloud.fresh_reads(writes)


def test_forwarding_is_switched_on_only_where_it_is_off(cloud: Cloud) -> None:
    (on,) = cloud.add_nodes(1, forwarding=True)
    off = cloud.add_nodes(2)
    cloud.reset_calls()

    assert converge(cloud).converged

    assert sorted(cloud.forwarded()) == sorted(off)
    assert all(cloud.forwarding(n) for n in [on, *off])


def test_throttled_writes_are_retried_within_a_bound_and_counted(cloud: Cloud) -> None:
    nodes = cloud.add_nodes(6)
    cloud.throttle()
    cloud.reset_calls()

    report = converge(cloud)

    assert report.converged
    assert_routed(cloud, nodes)
    assert report.retries["throttled"] > 0
    assert cloud.throttled() == report.retries["throttled"]


def test_dual_stack_gives_each_node_one_block_per_family_routed_to_it(cloud: Cloud) -> None:
    cloud.dual_stack()
    nodes = cloud.add_nodes(2)

    report = converge(cloud, cidr=DUAL)

    assert report.converged, [r.error for r in report.failed]
    assert sorted(assert_routed(cloud, nodes, 4).values()) == blocks(0, 1)
    assert sorted(assert_routed(cloud, nodes, 6).values()) == ["fd00:10:244:1::/64", "fd00:10:244::/64"]
    cloud.reset_calls()
    assert plan(cloud, cidr=DUAL).plan.empty
    assert cloud.writes() == []


def test_dropping_a_family_from_the_cluster_range_removes_its_records_and_converges(cloud: Cloud) -> None:
    cloud.dual_stack()
    (node,) = cloud.add_nodes(1)
    assert converge(cloud, cidr=DUAL).converged
    assert node in cloud.pod_cidrs(6)

    report = converge(cloud)  # IPv4 only from now on

    assert report.converged
    assert node in cloud.pod_cidrs(4) and cloud.pod_cidrs(6) == {}
    cloud.reset_calls()
    assert plan(cloud).plan.empty
