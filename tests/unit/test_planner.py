"""planner: the plan as a value. Rows state a world and the exact actions; hypothesis checks the laws."""

from __future__ import annotations

import dataclasses
import random
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudroutes import planner
from cloudroutes.model import (
    Action,
    ActionKind,
    Cluster,
    IPNetwork,
    NodeName,
    NodeState,
    Observed,
    Plan,
    ProblemKind,
    Route,
    TableKey,
)
from tests.fakes import FakeProvider, apply_plan, node, route

PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def n(text: str) -> IPNetwork:
    return ip_network(text)


def cluster(*cidrs: str, reserved: tuple[str, ...] = ()) -> Cluster:
    return Cluster(name="demo", cidrs=tuple(map(n, cidrs)), reserved=tuple(map(n, reserved)))


V4 = cluster("10.244.0.0/16")
DUAL = cluster("10.244.0.0/16", "fd00:10::/56")
V6 = cluster("fd00:10::/56")
SMALL = cluster("10.244.0.0/23")  # two blocks


# -- expected actions (reasons are prose for people: compared separately where they matter) ---


def claim(who: str, *subnets: str) -> Action:
    return Action(kind=ActionKind.CLAIM, node=NodeName(who), subnets=tuple(map(n, subnets)))


def unclaim(who: str) -> Action:
    return Action(kind=ActionKind.UNCLAIM, node=NodeName(who))


def fwd(who: str) -> Action:
    return Action(kind=ActionKind.ENABLE_FORWARDING, node=NodeName(who))


def create(table: str, dest: str, who: str) -> Action:
    return Action(kind=ActionKind.CREATE, table=TableKey(table), destination=n(dest), node=NodeName(who))


def replace(table: str, dest: str, who: str) -> Action:
    return Action(
        kind=ActionKind.REPLACE, table=TableKey(table), destination=n(dest), node=NodeName(who), ref=f"{table}/{dest}"
    )


def delete(table: str, dest: str, who: str | None = None) -> Action:
    return Action(
        kind=ActionKind.DELETE,
        table=TableKey(table),
        destination=n(dest),
        node=NodeName(who) if who else None,
        ref=f"{table}/{dest}",
    )


def unreasoned(actions: tuple[Action, ...]) -> list[Action]:
    """Reasons are prose, and what a claim replaces is the provider's detail: compared elsewhere."""
    return [dataclasses.replace(a, reason="", previous=()) for a in actions]


def observe(
    nodes: list[Any],
    routes: list[Route] = (),
    *,
    tables: tuple[str, ...] = ("rt-a",),  # type: ignore[assignment]
    limits: dict[str, int | None] | None = None,
    occupied: tuple[str, ...] = (),
) -> Observed:
    grouped: dict[str, list[Route]] = {t: [] for t in tables}
    for r in routes:
        grouped[r.table].append(r)
    return FakeProvider(nodes=nodes, tables=grouped, limits=limits, occupied=occupied).observe()


def make_plan(observed: Observed, the_cluster: Cluster = V4, *, fix_forwarding: bool = True) -> Plan:
    return planner.plan(observed, planner.assign(observed, the_cluster), the_cluster, fix_forwarding=fix_forwarding)


A0, A1, A2, A3 = "10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"
S0, S1 = "fd00:10::/64", "fd00:10:0:1::/64"
FOREIGN, QUOTA, FWD_OFF, EXHAUSTED = (
    ProblemKind.FOREIGN,
    ProblemKind.QUOTA,
    ProblemKind.FORWARDING_OFF,
    ProblemKind.EXHAUSTED,
)

ROWS = [
    # ours
    pytest.param(
        dict(nodes=[node("a", forwarding=False)]),
        V4,
        [fwd("a"), claim("a", A0), create("rt-a", A0, "a")],
        [],
        id="ours: a new node gets a claim, forwarding and a route",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0])], routes=[route("rt-a", A0, "a")]),
        V4,
        [],
        [],
        id="ours: a converged node needs nothing",
    ),
    pytest.param(
        dict(nodes=[node("a")], routes=[route("rt-a", A3, "a")]),
        V4,
        [claim("a", A3)],
        [],
        id="ours: a route without a record is recorded, not moved",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A3])]),
        V4,
        [create("rt-a", A3, "a")],
        [],
        id="ours: a record without a route gets its route back",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0])], routes=[route("rt-a", A0, "a", exact=False)]),
        V4,
        [replace("rt-a", A0, "a")],
        [],
        id="ours: a route to another interface of the node is replaced",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0])], routes=[route("rt-a", A0, "a"), route("rt-a", A2, None)]),
        V4,
        [delete("rt-a", A2)],
        [],
        id="ours: a route to a dead target is deleted",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0])], routes=[route("rt-a", A0, "a"), route("rt-a", A2, "gone")]),
        V4,
        [delete("rt-a", A2)],
        [],
        id="ours: a route to a terminated node is deleted",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0])], routes=[route("rt-a", A0, "a"), route("rt-a", A2, "a")]),
        V4,
        [delete("rt-a", A2, "a")],
        [],
        id="ours: a second route to the same node is deleted",
    ),
    pytest.param(
        dict(nodes=[node("a")], tables=("rt-a", "rt-b")),
        V4,
        [claim("a", A0), create("rt-a", A0, "a"), create("rt-b", A0, "a")],
        [],
        id="ours: every managed table gets the route",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0])], routes=[route("rt-a", A0, "a")], tables=("rt-a", "rt-b")),
        V4,
        [create("rt-b", A0, "a")],
        [],
        id="ours: a route missing from one table only",
    ),
    pytest.param(
        dict(nodes=[node("a", age=0, recorded=[A0]), node("b", age=1, recorded=[A0])], routes=[route("rt-a", A0, "b")]),
        V4,
        [claim("a", A1), create("rt-a", A1, "a")],
        [],
        id="ours: the route holder keeps a contested block; the older recorder moves",
    ),
    pytest.param(
        dict(
            nodes=[node("a", age=0), node("b", age=1)],
            routes=[route("rt-a", A0, "a"), route("rt-b", A0, "b")],
            tables=("rt-a", "rt-b"),
        ),
        V4,
        [claim("a", A0), claim("b", A1), replace("rt-b", A0, "a"), create("rt-a", A1, "b"), create("rt-b", A1, "b")],
        [],
        id="ours: two tables disagree; the older node keeps the block everywhere",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=["10.250.0.0/24"])]),
        V4,
        [claim("a", A0), create("rt-a", A0, "a")],
        [],
        id="ours: a record outside the range is rewritten",
    ),
    pytest.param(
        dict(
            nodes=[node("a", recorded=[A0]), node("b", age=1, recorded=[A1])],
            routes=[route("rt-a", A0, "b"), route("rt-a", A1, "b"), route("rt-b", A0, "b"), route("rt-b", A1, "b")],
            tables=("rt-a", "rt-b"),
        ),
        V4,
        [replace("rt-a", A0, "a"), replace("rt-b", A0, "a")],
        [],
        id="ours: a route bent at another live node is put back; nobody's subnet moves",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0]), node("b", age=1)], routes=[route("rt-a", A0, "b")]),
        V4,
        [claim("b", A1), replace("rt-a", A0, "a"), create("rt-a", A1, "b")],
        [],
        id="ours: a route to a node that records nothing yields to the record",
    ),
    # foreign
    pytest.param(
        dict(nodes=[node("a")], routes=[route("rt-a", A0, "x", marked=False)]),
        V4,
        [claim("a", A1), create("rt-a", A1, "a")],
        [FOREIGN],
        id="foreign: an unmarked route inside the range holds its block",
    ),
    pytest.param(
        dict(nodes=[node("a")], routes=[route("rt-a", A0, "a", marked=False)]),
        V4,
        [claim("a", A1), create("rt-a", A1, "a")],
        [FOREIGN],
        id="foreign: an unmarked route even to our node is not ours",
    ),
    pytest.param(
        dict(nodes=[node("a")], routes=[route("rt-a", A0, None, to_vm=False, hop="igw-1")]),
        V4,
        [claim("a", A1), create("rt-a", A1, "a")],
        [FOREIGN],
        id="foreign: a gateway route inside the range holds its block",
    ),
    pytest.param(
        dict(nodes=[node("a")], routes=[route("rt-a", "10.244.0.0/23", None, to_vm=False, hop="pcx-1")]),
        V4,
        [claim("a", A2), create("rt-a", A2, "a")],
        [FOREIGN],
        id="foreign: a peering route over two blocks holds both",
    ),
    pytest.param(
        dict(nodes=[node("a")], routes=[route("rt-a", "10.244.0.64/26", None, to_vm=False, hop="vgw-1")]),
        V4,
        [claim("a", A1), create("rt-a", A1, "a")],
        [FOREIGN],
        id="foreign: a route inside a block holds the whole block",
    ),
    pytest.param(
        dict(nodes=[node("a")], routes=[route("rt-b", A0, None, to_vm=False, hop="nat-1")], tables=("rt-a", "rt-b")),
        V4,
        [claim("a", A1), create("rt-a", A1, "a"), create("rt-b", A1, "a")],
        [FOREIGN],
        id="foreign: a route in one table holds its block in every table",
    ),
    pytest.param(
        dict(nodes=[node("a")], routes=[route("rt-a", "0.0.0.0/0", None, to_vm=False, hop="igw-1")]),
        V4,
        [claim("a", A0), create("rt-a", A0, "a")],
        [],
        id="foreign: a default route does not block allocation",
    ),
    pytest.param(
        dict(nodes=[node("a")], routes=[route("rt-a", "10.244.0.0/16", None, to_vm=False, hop="tgw-1")]),
        V4,
        [claim("a", A0), create("rt-a", A0, "a")],
        [],
        id="foreign: a summary route as wide as the cluster range does not block",
    ),
    pytest.param(
        dict(nodes=[node("a")], routes=[route("rt-a", "10.0.0.0/8", None, to_vm=False, hop="tgw-1")]),
        V4,
        [claim("a", A0), create("rt-a", A0, "a")],
        [],
        id="foreign: a wider summary route does not block",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0])], routes=[route("rt-a", A0, "a"), route("rt-a", "10.250.0.0/24", "a")]),
        V4,
        [],
        [],
        id="foreign: a marked route to our node outside the range is left alone",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0])], routes=[route("rt-a", A0, "a"), route("rt-a", "10.250.0.0/24", None)]),
        V4,
        [],
        [],
        id="foreign: a dead route outside the range is left alone",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0])], routes=[route("rt-a", A0, "a"), route("rt-a", "10.244.0.0/15", "a")]),
        V4,
        [],
        [],
        id="foreign: a marked route wider than the range is left alone",
    ),
    # stopped nodes
    pytest.param(
        dict(nodes=[node("a", recorded=[A0], state=NodeState.STOPPED)], routes=[route("rt-a", A0, "a")]),
        V4,
        [],
        [],
        id="stopped nodes: a stopped node keeps its route",
    ),
    pytest.param(
        dict(nodes=[node("a", state=NodeState.STOPPED), node("b", age=1)]),
        V4,
        [claim("a", A0), claim("b", A1), create("rt-a", A0, "a"), create("rt-a", A1, "b")],
        [],
        id="stopped nodes: a stopped node gets its subnet and route too",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0], state=NodeState.PENDING)], routes=[route("rt-a", A0, "a")]),
        V4,
        [],
        [],
        id="stopped nodes: a pending node keeps its route",
    ),
    # IPv6
    pytest.param(
        dict(nodes=[node("a")]),
        DUAL,
        [claim("a", A0, S0), create("rt-a", A0, "a"), create("rt-a", S0, "a")],
        [],
        id="IPv6: dual stack gets one claim with both subnets and a route per family",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0, S0])], routes=[route("rt-a", A0, "a"), route("rt-a", S0, "a")]),
        DUAL,
        [],
        [],
        id="IPv6: a converged dual-stack node needs nothing",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0])], routes=[route("rt-a", A0, "a")]),
        DUAL,
        [claim("a", A0, S0), create("rt-a", S0, "a")],
        [],
        id="IPv6: adding a family keeps the IPv4 subnet",
    ),
    pytest.param(
        dict(nodes=[node("a"), node("b", age=1)], routes=[route("rt-a", S0, "b")]),
        V6,
        [claim("a", S1), claim("b", S0), create("rt-a", S1, "a")],
        [],
        id="IPv6: IPv6-only cluster, route evidence kept",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0])], routes=[route("rt-a", A0, "a"), route("rt-a", "fd00:10::/64", "a")]),
        V4,
        [],
        [],
        id="IPv6: an IPv6 route in an IPv4-only cluster is foreign",
    ),
    pytest.param(
        dict(
            nodes=[node("a", recorded=[A0])], routes=[route("rt-a", A0, "a"), route("rt-a", "::/0", None, to_vm=False)]
        ),
        DUAL,
        [claim("a", A0, S0), create("rt-a", S0, "a")],
        [],
        id="IPv6: an IPv6 default route does not block",
    ),
    # quota
    pytest.param(
        dict(
            nodes=[node("a"), node("b", age=1)],
            routes=[route("rt-a", "0.0.0.0/0", None, to_vm=False)],
            limits={"rt-a": 2},
        ),
        V4,
        [claim("a", A0), claim("b", A1)],
        [QUOTA],
        id="quota: a table too small for every route gets no create",
    ),
    pytest.param(
        dict(
            nodes=[node("a"), node("b", age=1)],
            routes=[route("rt-a", "0.0.0.0/0", None, to_vm=False)],
            limits={"rt-a": 3},
        ),
        V4,
        [claim("a", A0), claim("b", A1), create("rt-a", A0, "a"), create("rt-a", A1, "b")],
        [],
        id="quota: a table with exactly enough room",
    ),
    pytest.param(
        dict(
            nodes=[node("a"), node("b", age=1)],
            routes=[route("rt-a", "0.0.0.0/0", None, to_vm=False, counted=False)],
            limits={"rt-a": 2},
        ),
        V4,
        [claim("a", A0), claim("b", A1), create("rt-a", A0, "a"), create("rt-a", A1, "b")],
        [],
        id="quota: uncounted routes take no room",
    ),
    pytest.param(
        dict(nodes=[node("a"), node("b", age=1)], tables=("rt-a", "rt-b"), limits={"rt-a": 1}),
        V4,
        [claim("a", A0), claim("b", A1), create("rt-b", A0, "a"), create("rt-b", A1, "b")],
        [QUOTA],
        id="quota: only the full table is held back",
    ),
    pytest.param(
        dict(
            nodes=[node("a", recorded=[A0]), node("b", age=1)],
            routes=[route("rt-a", A0, "a", exact=False), route("rt-a", A3, None)],
            limits={"rt-a": 1},
        ),
        V4,
        [claim("b", A1), delete("rt-a", A3), replace("rt-a", A0, "a")],
        [QUOTA],
        id="quota: deletes and replaces still go ahead",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0])], routes=[route("rt-a", A0, "a")], limits={"rt-a": 1}),
        V4,
        [],
        [],
        id="quota: a full table that needs no create is fine",
    ),
    # exhaustion
    pytest.param(
        dict(nodes=[node("a"), node("b", age=1), node("c", age=2, recorded=["10.250.0.0/24"])]),
        SMALL,
        [claim("a", A0), claim("b", A1), create("rt-a", A0, "a"), create("rt-a", A1, "b"), unclaim("c")],
        [EXHAUSTED],
        id="exhaustion: the newest node is left out and its stale record cleared",
    ),
    pytest.param(
        dict(
            nodes=[node("a", recorded=[A0]), node("b", age=1)], routes=[route("rt-a", A0, "a"), route("rt-a", A1, None)]
        ),
        SMALL,
        [claim("b", A1), replace("rt-a", A1, "b")],
        [],
        id="exhaustion: a block behind a dead route is re-pointed when nothing else is free",
    ),
    # forwarding
    pytest.param(
        dict(nodes=[node("a", forwarding=False, recorded=[A0])], routes=[route("rt-a", A0, "a")]),
        V4,
        [fwd("a")],
        [],
        id="forwarding: off is switched on",
    ),
    pytest.param(
        dict(nodes=[node("a", recorded=[A0]), node("b", age=1), node("c", age=2, forwarding=False)]),
        SMALL,
        [claim("b", A1), create("rt-a", A0, "a"), create("rt-a", A1, "b")],
        [EXHAUSTED],
        id="forwarding: a node left without a subnet is not touched",
    ),
]


@pytest.mark.parametrize(("world", "the_cluster", "expected", "problems"), ROWS)
def test_plan(world: dict[str, Any], the_cluster: Cluster, expected: list[Action], problems: list[ProblemKind]) -> None:
    got = make_plan(observe(**world), the_cluster)
    assert unreasoned(got.actions) == expected
    assert [p.kind for p in got.problems] == problems
    assert got.blocked == any(k is not FOREIGN for k in problems)


def test_reasons_name_what_is_wrong() -> None:
    observed = observe(
        [node("a", recorded=[A0]), node("b", recorded=[A1])],
        [route("rt-a", A0, "a", exact=False), route("rt-a", A1, "a", hop="eni-9"), route("rt-a", A2, None)],
    )
    reasons = {(a.kind, str(a.destination)): a.reason for a in make_plan(observed).actions}
    assert reasons[(ActionKind.REPLACE, A0)] == "points at another interface of the node"
    assert reasons[(ActionKind.REPLACE, A1)] == "points at eni-9"
    assert reasons[(ActionKind.DELETE, A2)] == "target is gone"


def test_quota_problem_states_the_exact_missing_count() -> None:
    observed = observe(
        [node(f"n{i}", age=i) for i in range(5)],
        [route("rt-a", "0.0.0.0/0", None, to_vm=False), route("rt-a", "10.0.0.0/8", None, to_vm=False)],
        limits={"rt-a": 4},
    )
    observed = dataclasses.replace(
        observed,
        tables=tuple(dataclasses.replace(t, quota_hint="Routes per route table (L-93826ACB)") for t in observed.tables),
    )
    got = make_plan(observed)
    assert got.count(ActionKind.CREATE) == 0
    [problem] = got.problems
    assert problem.kind is QUOTA and problem.blocking
    assert problem.message == (
        "rt-a: needs 5 routes of ours but only 2 fit: 3 route(s) missing, 5 create(s) held back; "
        "raise Routes per route table (L-93826ACB)"
    )


def test_fix_forwarding_off_reports_the_node_instead_of_acting() -> None:
    observed = observe([node("a", forwarding=False), node("b", age=1)])
    got = make_plan(observed, fix_forwarding=False)
    assert got.count(ActionKind.ENABLE_FORWARDING) == 0
    [problem] = got.problems
    assert problem.kind is FWD_OFF and problem.blocking
    assert problem.message.startswith("a: IP forwarding is off")


def test_foreign_problem_is_informational_and_names_the_route() -> None:
    got = make_plan(observe([node("a")], [route("rt-a", A0, None, to_vm=False, hop="pcx-1")]))
    [problem] = got.problems
    assert (problem.kind, problem.blocking) == (FOREIGN, False)
    assert problem.message == "rt-a: foreign route 10.244.0.0/24 -> pcx-1 left untouched"


def test_exhaustion_problem_names_the_nodes_left_out() -> None:
    got = make_plan(observe([node("a"), node("b", age=1), node("c", age=2), node("d", age=3)]), SMALL)
    [problem] = got.problems
    assert problem.kind is EXHAUSTED and problem.blocking
    assert problem.message == "cluster CIDR 10.244.0.0/23 is exhausted: 2 node(s) left without a subnet: c, d"


def test_reserved_ranges_are_never_handed_out() -> None:
    the_cluster = cluster("10.244.0.0/16", reserved=("10.244.0.0/23", "10.0.0.0/16"))
    got = make_plan(observe([node("a")]), the_cluster)
    assert unreasoned(got.actions) == [claim("a", A2), create("rt-a", A2, "a")]


def test_owned_routes_counts_ours_in_every_table() -> None:
    observed = observe(
        [node("a", recorded=[A0])],
        [
            route("rt-a", A0, "a"),
            route("rt-b", A0, "a"),
            route("rt-b", A3, None),
            route("rt-a", "0.0.0.0/0", None, to_vm=False),
        ],
        tables=("rt-a", "rt-b"),
    )
    assert make_plan(observed).owned_routes == 3


def test_foreign_route_equal_to_a_whole_block_holds_it() -> None:
    one_block = Cluster(name="demo", cidrs=(n("10.244.0.0/24"),), node_mask=24)
    got = make_plan(observe([node("a")], [route("rt-a", A0, None, to_vm=False, hop="pcx-1")]), one_block)
    assert got.count(ActionKind.CREATE) == 0
    assert [p.kind for p in got.problems] == [EXHAUSTED, FOREIGN]


def test_stale_route_of_another_size_does_not_leave_a_node_out() -> None:
    observed = observe(
        [node("a", recorded=[A0]), node("b", age=1)], [route("rt-a", A0, "a"), route("rt-a", "10.244.1.0/25", None)]
    )
    got = make_plan(observed, SMALL)
    assert unreasoned(got.actions) == [claim("b", A1), delete("rt-a", "10.244.1.0/25"), create("rt-a", A1, "b")]
    assert got.problems == ()


def test_quota_per_family_counts_each_family_on_its_own() -> None:
    """AWS: 30 dual-stack nodes are 30 IPv4 + 30 IPv6 routes against a limit of 50 per family."""
    nodes = [node(f"n{i:02d}", age=i) for i in range(30)]
    observed = observe(nodes, limits={"rt-a": 50})
    per_family = dataclasses.replace(
        observed, tables=tuple(dataclasses.replace(t, per_family=True) for t in observed.tables)
    )
    assert make_plan(per_family, DUAL).count(ActionKind.CREATE) == 60
    assert [p.kind for p in make_plan(observed, DUAL).problems] == [QUOTA], "counted together, 60 > 50"


def test_quota_per_family_holds_back_only_the_full_family() -> None:
    observed = observe(
        [node("a"), node("b", age=1)], [route("rt-a", "fd00:99::/64", None, to_vm=False)], limits={"rt-a": 2}
    )
    per_family = dataclasses.replace(
        observed, tables=tuple(dataclasses.replace(t, per_family=True) for t in observed.tables)
    )
    got = make_plan(per_family, DUAL)
    created = {a.destination.version for a in got.actions if a.kind is ActionKind.CREATE}
    assert created == {4}
    [problem] = [p for p in got.problems if p.kind is QUOTA]
    assert "needs 2 IPv6 routes of ours but only 1 fit: 1 route(s) missing" in problem.message


def test_duplicate_routes_for_one_subnet_keep_one_and_delete_the_rest() -> None:
    """GCE names routes, so two of ours can share a destination; the exact one to the right node stays."""
    good = dataclasses.replace(route("rt-a", A0, "a"), ref="cr-good")
    stray = dataclasses.replace(route("rt-a", A0, "b"), ref="cr-stray")
    dead = dataclasses.replace(route("rt-a", A0, None), ref="cr-dead")
    base = observe([node("a", recorded=[A0]), node("b", age=1, recorded=[A1])], [route("rt-a", A1, "b")])
    table = dataclasses.replace(base.tables[0], routes=(stray, *base.tables[0].routes, good, dead))
    got = make_plan(dataclasses.replace(base, tables=(table,)))
    deletes = [(a.ref, a.reason) for a in got.actions if a.kind is ActionKind.DELETE]
    assert sorted(deletes) == [
        ("cr-dead", "duplicate route for this subnet"),
        ("cr-stray", "duplicate route for this subnet"),
    ]
    assert got.count(ActionKind.CREATE) == got.count(ActionKind.REPLACE) == 0


# -- destroy -------------------------------------------------------------------------------


def test_plan_destroy_deletes_our_routes_and_records_only() -> None:
    observed = observe(
        [node("a", recorded=[A0], forwarding=True), node("b")],
        [
            route("rt-a", A0, "a"),
            route("rt-a", A1, None),
            route("rt-a", A2, "a", marked=False),
            route("rt-a", "0.0.0.0/0", None, to_vm=False),
            route("rt-b", A0, "a"),
        ],
        tables=("rt-a", "rt-b"),
    )
    got = planner.plan_destroy(observed, V4)
    assert unreasoned(got.actions) == [
        delete("rt-a", A0, "a"),
        delete("rt-a", A1),
        delete("rt-b", A0, "a"),
        unclaim("a"),
    ]
    assert got.owned_routes == 3


# -- laws ----------------------------------------------------------------------------------

V4_BLOCKS = [IPv4Network(f"10.244.{i}.0/24") for i in range(8)]
V6_BLOCKS = [IPv6Network(f"fd00:10:0:{i}::/64") for i in range(4)]
ODD = [IPv4Network("10.250.0.0/24"), IPv6Network("fd00:10:0:9::/64")]
SPLIT = IPv4Network("10.244.1.0/25")  # a block's half: a record or route of the wrong size
FOREIGN_DESTS = [
    IPv4Network("0.0.0.0/0"),
    IPv4Network("10.244.0.0/16"),
    IPv4Network("10.244.4.0/22"),
    IPv4Network("10.244.2.0/24"),
    IPv4Network("10.244.6.128/25"),
    IPv4Network("10.0.0.0/16"),
]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[FakeProvider, Cluster]:
    """Small clusters (2-8 IPv4 blocks, maybe 4 IPv6 blocks): records, routes of ours, dead and foreign routes."""
    prefix = draw(st.sampled_from([21, 22, 23]))
    dual = draw(st.booleans())
    the_cluster = Cluster(
        name="demo",
        cidrs=(IPv4Network(f"10.244.0.0/{prefix}"), *([IPv6Network("fd00:10::/62")] if dual else [])),
        reserved=tuple(
            draw(
                st.lists(st.sampled_from([n("10.244.3.0/24"), n("10.244.0.128/25"), n("fd00:10:0:1::/64")]), max_size=1)
            )
        ),
    )
    names = [f"n{i}" for i in range(draw(st.integers(0, 6)))]
    blocks = V4_BLOCKS + V6_BLOCKS + ODD + [SPLIT]
    nodes = [
        node(
            name,
            age=draw(st.integers(0, 3)),
            forwarding=draw(st.booleans()),
            state=draw(st.sampled_from(NodeState)),
            recorded=draw(st.lists(st.sampled_from(blocks), max_size=2, unique=True)),
        )
        for name in names
    ]
    tables: dict[str, list[Route]] = {}
    for key in ["rt-a", "rt-b"][: draw(st.integers(1, 2))]:
        routes: dict[IPNetwork, Route] = {}
        for _ in range(draw(st.integers(0, 6))):
            kind = draw(st.sampled_from(["ours", "ours", "ours", "dead", "unmarked", "gateway"]))
            if kind == "ours" and names:
                dest = draw(st.sampled_from(blocks))
                routes[dest] = route(key, dest, draw(st.sampled_from(names)), exact=draw(st.booleans()))
            elif kind == "dead":
                dest = draw(st.sampled_from(blocks))
                routes[dest] = route(key, dest, draw(st.sampled_from([None, "gone"])))
            elif kind == "unmarked":
                dest = draw(st.sampled_from(blocks))
                routes[dest] = route(key, dest, draw(st.sampled_from([*names, None])), marked=False)
            else:
                dest = draw(st.sampled_from(FOREIGN_DESTS))
                routes[dest] = route(key, dest, None, to_vm=False, hop="pcx-1")
        tables[key] = list(routes.values())
    occupied = draw(st.sampled_from([(), ("10.0.0.0/16",), ("10.0.0.0/16", "fd00:20::/56")]))
    return FakeProvider(nodes=nodes, tables=tables, occupied=occupied), the_cluster


def _ours(r: Route, the_cluster: Cluster) -> bool:
    """DESIGN.md's rule, restated here rather than borrowed from the planner: marked, to a VM, inside a range."""
    inside = any(r.destination.version == c.version and r.destination.subnet_of(c) for c in the_cluster.cidrs)  # type: ignore[arg-type]
    return r.marked and r.to_vm and inside


def _foreign(observed: Observed, the_cluster: Cluster) -> set[Route]:
    return {r for t in observed.tables for r in t.routes if not _ours(r, the_cluster)}


@PROPS
@given(worlds())
def test_law_applying_a_plan_converges_in_one_step(w: tuple[FakeProvider, Cluster]) -> None:
    fake, the_cluster = w
    before = fake.observe()
    first_assignment = planner.assign(before, the_cluster)
    first = planner.plan(before, first_assignment, the_cluster)
    apply_plan(fake, first.actions)
    after = fake.observe()
    assignment = planner.assign(after, the_cluster)
    again = planner.plan(after, assignment, the_cluster)
    assert again.actions == ()
    assert assignment.subnets == first_assignment.subnets  # nothing flaps once applied
    # End state: every node holds, records and is routed its subnets, and may forward.
    for nd in after.nodes:
        subnets = assignment.subnets[nd.name]
        assert set(nd.recorded) == set(subnets)
        assert nd.forwarding or not subnets
    wanted = {s: nd.name for nd in after.nodes for s in assignment.subnets[nd.name]}
    for table in after.tables:
        ours = [r for r in table.routes if _ours(r, the_cluster)]
        assert {r.destination: r.node for r in ours} == wanted  # nothing missing, nothing stale, nothing extra
        assert all(r.exact for r in ours)


@PROPS
@given(worlds(), st.data())
def test_law_tampering_with_routes_alone_never_moves_a_live_nodes_subnet(
    w: tuple[FakeProvider, Cluster], data: st.DataObject
) -> None:
    """Converge, then bend, delete and add routes of ours by hand: the records decide, routes follow."""
    fake, the_cluster = w
    observed = fake.observe()
    apply_plan(fake, planner.plan(observed, planner.assign(observed, the_cluster), the_cluster).actions)
    records = {nd.name: nd.recorded for nd in fake.observe().nodes}
    names = [*records]
    blocks = V4_BLOCKS + V6_BLOCKS
    for key, routes in fake.routes.items():
        for _ in range(data.draw(st.integers(0, 4))):
            dest = data.draw(st.sampled_from(blocks))
            match data.draw(st.sampled_from(["bend", "delete", "dead"])):
                case "bend" if names:
                    routes[dest] = route(key, dest, data.draw(st.sampled_from(names)), exact=data.draw(st.booleans()))
                case "delete":
                    routes.pop(dest, None)
                case _:
                    routes[dest] = route(key, dest, None)
    tampered = fake.observe()
    assignment = planner.assign(tampered, the_cluster)
    for name, recorded in records.items():
        assert set(recorded) <= set(assignment.subnets[name]), name  # a family may be added, none moves
    apply_plan(fake, planner.plan(tampered, assignment, the_cluster).actions)
    after = fake.observe()
    assert planner.plan(after, planner.assign(after, the_cluster), the_cluster).actions == ()


@PROPS
@given(worlds())
def test_law_no_foreign_route_is_ever_touched_nor_its_range_handed_out(w: tuple[FakeProvider, Cluster]) -> None:
    fake, the_cluster = w
    observed = fake.observe()
    assignment = planner.assign(observed, the_cluster)
    got = planner.plan(observed, assignment, the_cluster)
    present = {(t.key, r.destination): r for t in observed.tables for r in t.routes}
    for action in got.actions:
        if action.kind in (ActionKind.DELETE, ActionKind.REPLACE):
            assert _ours(present[(action.table, action.destination)], the_cluster)  # type: ignore[index]
        if action.kind is ActionKind.CREATE:
            assert (action.table, action.destination) not in present
    foreign = _foreign(observed, the_cluster)
    handed = [s for subnets in assignment.subnets.values() for s in subnets]
    for r in foreign:
        # Narrower than the cluster range: it holds what it covers. A default or summary route holds nothing.
        if any(c.version == r.destination.version and r.destination.prefixlen > c.prefixlen for c in the_cluster.cidrs):
            assert not any(s.version == r.destination.version and s.overlaps(r.destination) for s in handed)  # type: ignore[arg-type]
    apply_plan(fake, got.actions)
    assert _foreign(fake.observe(), the_cluster) == foreign


@PROPS
@given(worlds(), st.randoms(use_true_random=False))
def test_law_plans_are_deterministic_and_ignore_snapshot_order(
    w: tuple[FakeProvider, Cluster], rnd: random.Random
) -> None:
    fake, the_cluster = w
    observed = fake.observe()
    first = planner.plan(observed, planner.assign(observed, the_cluster), the_cluster)
    assert planner.plan(observed, planner.assign(observed, the_cluster), the_cluster) == first
    shuffled = Observed(
        nodes=tuple(rnd.sample(observed.nodes, len(observed.nodes))),
        tables=tuple(
            dataclasses.replace(t, routes=tuple(rnd.sample(t.routes, len(t.routes))))
            for t in rnd.sample(observed.tables, len(observed.tables))
        ),
        occupied=observed.occupied,
    )
    assert planner.plan(shuffled, planner.assign(shuffled, the_cluster), the_cluster).actions == first.actions


@PROPS
@given(worlds())
def test_law_destroy_deletes_exactly_our_routes(w: tuple[FakeProvider, Cluster]) -> None:
    fake, the_cluster = w
    observed = fake.observe()
    got = planner.plan_destroy(observed, the_cluster)
    ours = {(t.key, r.destination) for t in observed.tables for r in t.routes if _ours(r, the_cluster)}
    assert {(a.table, a.destination) for a in got.actions if a.kind is ActionKind.DELETE} == ours
    assert got.count(ActionKind.DELETE) == len(ours) == got.owned_routes
    assert {a.node for a in got.actions if a.kind is ActionKind.UNCLAIM} == {
        nd.name for nd in observed.nodes if nd.recorded
    }
    assert {a.kind for a in got.actions} <= {ActionKind.DELETE, ActionKind.UNCLAIM}
    foreign = _foreign(observed, the_cluster)
    apply_plan(fake, got.actions)
    after = fake.observe()
    assert _foreign(after, the_cluster) == foreign
    assert not any(nd.recorded for nd in after.nodes)
    assert planner.plan_destroy(after, the_cluster).actions == ()
