"""Ownership of routes whose VM is not a node of ours: only a departed node's or a dead VM's route is
ours to clean up; an appliance's or another cluster's node's is foreign, whatever the table says."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudroutes import guards, ownership, planner
from cloudroutes.errors import PreflightError
from cloudroutes.model import Action, ActionKind, Cluster, Observed, ProblemKind, Route, Target
from tests.fakes import FakeProvider, node, route

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROD = Cluster(name="prod", cidrs=(ip_network("10.244.0.0/16"),))
FOREIGN_TARGETS = (Target.UNRECORDED, Target.OTHER_CLUSTER)


def observe(nodes: list[object], routes: list[Route]) -> Observed:
    tables: dict[str, list[Route]] = {"rt-a": [], "rt-b": []}
    for r in routes:
        tables[r.table].append(r)
    return FakeProvider(nodes=nodes, tables=tables).observe()


def plan_of(observed: Observed) -> list[Action]:
    planned = planner.plan(observed, planner.assign(observed, PROD), PROD)
    return [*planned.actions, *planner.plan_destroy(observed, PROD).actions]


# -- rows: what each kind of target means -------------------------------------------------------

STRANGER = "10.244.7.0/24"


@pytest.mark.parametrize(
    ("target", "cluster_name", "deleted", "reason"),
    [
        pytest.param(Target.GONE, "", True, "target is gone", id="gone-vm-route-is-deleted"),
        pytest.param(Target.DEPARTED, "", True, "target left the cluster", id="departed-node-route-is-deleted"),
        pytest.param(Target.UNRECORDED, "", False, "holds no pod subnet", id="appliance-route-is-kept"),
        pytest.param(Target.OTHER_CLUSTER, "staging", False, "cluster staging", id="neighbour-route-is-kept"),
    ],
)
def test_a_route_to_a_vm_that_is_not_a_node(target: Target, cluster_name: str, deleted: bool, reason: str) -> None:
    observed = observe(
        [node("n1", recorded=["10.244.0.0/24"])],
        [
            route("rt-a", "10.244.0.0/24", "n1"),
            route("rt-a", STRANGER, None, target=target, target_cluster=cluster_name, hop="eni-x"),
        ],
    )
    planned = planner.plan(observed, planner.assign(observed, PROD), PROD)
    destroyed = planner.plan_destroy(observed, PROD)

    for actions in (planned.actions, destroyed.actions):
        touched = [a for a in actions if a.destination == ip_network(STRANGER)]
        assert bool(touched) is deleted
        assert all(a.kind is ActionKind.DELETE for a in touched)
    if deleted:
        assert [a.reason for a in planned.actions if a.destination == ip_network(STRANGER)] == [reason]
    else:
        foreign = [p.message for p in planned.problems if p.kind is ProblemKind.FOREIGN]
        assert any(STRANGER in m and reason in m for m in foreign), foreign
        assert all(not p.blocking for p in planned.problems)


def test_a_new_cluster_overlapping_another_clusters_routes_is_refused_naming_it() -> None:
    observed = observe(
        [node("n1")],
        [route("rt-a", "10.244.128.0/24", None, target=Target.OTHER_CLUSTER, target_cluster="staging")],
    )
    with pytest.raises(PreflightError, match="cluster staging"):
        guards.neighbours(observed, PROD)


def test_an_established_cluster_is_not_refused_for_a_neighbour_inside_its_range() -> None:
    observed = observe(
        [node("n1", recorded=["10.244.0.0/24"])],
        [route("rt-a", "10.244.128.0/24", None, target=Target.OTHER_CLUSTER, target_cluster="staging")],
    )
    guards.neighbours(observed, PROD)  # no refusal
    assignment = planner.assign(observed, PROD)
    assert ip_network("10.244.128.0/24") not in {s for subs in assignment.subnets.values() for s in subs}


def test_a_neighbour_outside_the_range_is_no_reason_to_refuse() -> None:
    observed = observe(
        [node("n1")], [route("rt-a", "10.245.0.0/24", None, target=Target.OTHER_CLUSTER, target_cluster="x")]
    )
    guards.neighbours(observed, PROD)


# -- laws ---------------------------------------------------------------------------------------


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Observed, set[tuple[str, str]]]:
    """Nodes recording blocks 0-49, routes of ours anywhere in 0-99 to nodes or VMs gone or departed,
    and routes in 100-149 to appliances and other clusters' nodes; returns them and the foreign ones."""
    count = draw(st.integers(min_value=0, max_value=6))
    names = [f"n{i}" for i in range(count)]
    records = draw(st.lists(st.integers(0, 49), min_size=count, max_size=count))
    nodes = [
        node(name, age=i, recorded=[f"10.244.{records[i]}.0/24"] if draw(st.booleans()) else [])
        for i, name in enumerate(names)
    ]
    routes: list[Route] = []
    for table in draw(st.lists(st.sampled_from(["rt-a", "rt-b"]), max_size=2, unique=True)):
        for block in draw(st.lists(st.integers(0, 99), max_size=8, unique=True)):
            to = draw(st.sampled_from([*names, None]))
            dead = draw(st.sampled_from([Target.GONE, Target.DEPARTED]))
            routes.append(route(table, f"10.244.{block}.0/24", to, target=dead))
    foreign: set[tuple[str, str]] = set()
    for block in draw(st.lists(st.integers(100, 149), max_size=6, unique=True)):
        table = draw(st.sampled_from(["rt-a", "rt-b"]))
        target = draw(st.sampled_from(FOREIGN_TARGETS))
        other = "staging" if target is Target.OTHER_CLUSTER else ""
        routes.append(route(table, f"10.244.{block}.0/24", None, target=target, target_cluster=other))
        foreign.add((table, f"10.244.{block}.0/24"))
    return observe(nodes, routes), foreign


@PROPS
@given(worlds())
def test_a_route_to_an_unrecorded_vm_or_another_clusters_node_is_never_in_any_action(
    world: tuple[Observed, set[tuple[str, str]]],
) -> None:
    observed, foreign = world
    for action in plan_of(observed):
        assert (str(action.table), str(action.destination)) not in foreign, action
        assert not {str(s) for s in action.subnets} & {d for _, d in foreign}, action
    assert all(
        not ownership.is_ours(r, PROD)
        for t in observed.tables
        for r in t.routes
        if (t.key, str(r.destination)) in foreign
    )


@PROPS
@given(worlds())
def test_every_route_to_a_dead_or_departed_vm_is_deleted_unless_a_node_takes_its_subnet(
    world: tuple[Observed, set[tuple[str, str]]],
) -> None:
    observed, _ = world
    actions = planner.plan(observed, planner.assign(observed, PROD), PROD).actions
    assignment = planner.assign(observed, PROD)
    wanted = {s for subs in assignment.subnets.values() for s in subs}
    for table in observed.tables:
        for r in table.routes:
            if r.node is None and r.target in (Target.GONE, Target.DEPARTED) and r.destination not in wanted:
                assert any(
                    a.kind is ActionKind.DELETE and a.table == table.key and a.destination == r.destination
                    for a in actions
                ), r
