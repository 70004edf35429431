"""Kubernetes Node objects beside the cloud: publish and adopt, as rows over the fake; the engine end to end."""

from __future__ import annotations

import dataclasses
from ipaddress import ip_network
from typing import Any

import pytest

from cloudroutes import engine, nodeobjects, planner
from cloudroutes.config import Config, KubernetesConfig, Limits
from cloudroutes.errors import PreflightError
from cloudroutes.executor import Executor
from cloudroutes.model import Action, ActionKind, Cluster, KubeMode, NodeName, NodeObject, Outcome, ProblemKind
from cloudroutes.ratelimit import TokenBucket
from tests.fakes import FakeProvider, node, route

A0, A1, A2 = "10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"
V4 = Cluster(name="demo", cidrs=(ip_network("10.244.0.0/16"),))
PUBLISH, ADOPT = KubeMode.PUBLISH, KubeMode.ADOPT
CONFLICT, UNMATCHED = ProblemKind.PODCIDR_CONFLICT, ProblemKind.UNMATCHED


def obj(name: str, vm: str | None, *cidrs: str, routed: bool | None = None) -> NodeObject:
    return NodeObject(
        name=name, vm=NodeName(vm) if vm else None, pod_cidrs=tuple(map(ip_network, cidrs)), routed=routed
    )


def plan_for(fake: FakeProvider, mode: KubeMode) -> Any:
    observed = fake.observe()
    nodeobjects.preflight(observed, V4, mode)
    assignment = nodeobjects.adopted(observed)[0] if mode is ADOPT else planner.assign(observed, V4)
    return planner.plan(observed, assignment, V4, kube=mode)


def kinds(plan: Any) -> list[tuple[str, str | None]]:
    return [(str(a.kind), a.ref if a.kind in (ActionKind.PUBLISH, *MARKS) else a.node) for a in plan.actions]


MARKS = (ActionKind.MARK_ROUTED, ActionKind.MARK_UNROUTED)

ROWS = [
    # publish
    pytest.param(
        PUBLISH,
        dict(nodes=[node("a")], node_objects=[obj("ka", "a")]),
        [("claim", "a"), ("publish", "ka"), ("create", "a"), ("mark-routed", "ka")],
        [],
        id="publish: a new node is claimed, told, routed, then marked routed",
    ),
    pytest.param(
        PUBLISH,
        dict(
            nodes=[node("a", recorded=[A0])],
            tables={"rt-a": [route("rt-a", A0, "a")]},
            node_objects=[obj("ka", "a", A0, routed=True)],
        ),
        [],
        [],
        id="publish: a converged node needs nothing",
    ),
    pytest.param(
        PUBLISH,
        dict(
            nodes=[node("a", recorded=[A0])],
            tables={"rt-a": [route("rt-a", A0, "a")]},
            node_objects=[obj("ka", "a", A0)],
        ),
        [("mark-routed", "ka")],
        [],
        id="publish: routes in place, condition not written yet",
    ),
    pytest.param(
        PUBLISH,
        dict(nodes=[node("a", recorded=[A0])], node_objects=[obj("ka", "a", A1)]),
        [],
        [CONFLICT],
        id="publish: a Node holding another podCIDR is a conflict; its VM is left as is",
    ),
    pytest.param(
        PUBLISH,
        dict(nodes=[node("a"), node("b", age=1)], node_objects=[obj("ka", "a", A2)]),
        [("claim", "b"), ("create", "b")],
        [CONFLICT, UNMATCHED],
        id="publish: the conflict freezes one VM only",
    ),
    pytest.param(
        PUBLISH,
        dict(nodes=[node("a")]),
        [("claim", "a"), ("create", "a")],
        [UNMATCHED],
        id="publish: a VM with no Node yet is still routed, and reported",
    ),
    pytest.param(
        PUBLISH,
        dict(
            nodes=[node("a", recorded=[A0])],
            tables={"rt-a": [route("rt-a", A0, "a", exact=False)]},
            node_objects=[obj("ka", "a", A0, routed=True)],
        ),
        [("mark-unrouted", "ka"), ("replace", "a"), ("mark-routed", "ka")],
        [],
        id="publish: a route under repair is said missing, then routed again",
    ),
    pytest.param(
        PUBLISH,
        dict(nodes=[], node_objects=[obj("ka", None)]),
        [],
        [UNMATCHED],
        id="publish: a Node with no VM is reported",
    ),
    # adopt
    pytest.param(
        ADOPT,
        dict(nodes=[node("a")], node_objects=[obj("ka", "a", A2)]),
        [("claim", "a"), ("create", "a"), ("mark-routed", "ka")],
        [],
        id="adopt: the Node's podCIDR is recorded on the VM and routed",
    ),
    pytest.param(
        ADOPT,
        dict(nodes=[node("a")], node_objects=[obj("ka", "a")]),
        [],
        [UNMATCHED],
        id="adopt: a Node without a podCIDR is pending",
    ),
    pytest.param(
        ADOPT,
        dict(nodes=[node("a"), node("b", age=1)], node_objects=[obj("ka", "a", A1), obj("kb", "b", A1)]),
        [],
        [CONFLICT],
        id="adopt: two Nodes holding one podCIDR: neither is routed",
    ),
    pytest.param(
        ADOPT,
        dict(
            nodes=[node("a", recorded=[A0])],
            tables={"rt-a": [route("rt-a", A0, "a")]},
            node_objects=[obj("ka", "a", A1, routed=True)],
        ),
        [("claim", "a"), ("mark-unrouted", "ka"), ("delete", "a"), ("create", "a"), ("mark-routed", "ka")],
        [],
        id="adopt: a Node's podCIDR decides over the VM's record",
    ),
]


@pytest.mark.parametrize(("mode", "world", "expected", "problems"), ROWS)
def test_plan_with_node_objects(
    mode: KubeMode, world: dict[str, Any], expected: list[Any], problems: list[Any]
) -> None:
    got = plan_for(FakeProvider(**world), mode)
    assert sorted(kinds(got)) == sorted(expected)
    assert sorted(p.kind for p in got.problems) == sorted(problems)


@pytest.mark.parametrize(
    ("cidr", "why"),
    [
        pytest.param("10.250.0.0/24", "outside cluster.cidr", id="outside the cluster range"),
        pytest.param("10.244.0.0/25", "is not a /24", id="not the node mask's size"),
    ],
)
def test_adopt_refuses_an_invalid_podcidr_before_any_write(cidr: str, why: str) -> None:
    fake = FakeProvider(nodes=[node("a")], node_objects=[obj("ka", "a", cidr)])
    with pytest.raises(PreflightError, match=why):
        plan_for(fake, ADOPT)


def run(fake: FakeProvider, mode: KubeMode) -> engine.Report:
    cfg = Config(provider="aws", cluster=V4, kubernetes=KubernetesConfig(mode=str(mode)), limits=Limits(max_attempts=2))
    no_sleep = lambda seconds: None  # noqa: E731
    bucket = TokenBucket(burst=1000, rate=1000.0, clock=lambda: 0.0, sleep=no_sleep)
    executor = Executor(fake, cfg.limits, bucket=bucket, sleep=no_sleep)
    return engine.apply(fake, cfg, engine.make_plan(fake, cfg), executor=executor)


def test_publish_converges_and_tells_every_node_once() -> None:
    fake = FakeProvider(nodes=[node("a"), node("b", age=1)], node_objects=[obj("ka", "a"), obj("kb", "b")])
    report = run(fake, PUBLISH)
    assert report.converged
    assert {n.name: (n.pod_cidrs, n.routed) for n in fake.node_objects.values()} == {
        "ka": ((ip_network(A0),), True),
        "kb": ((ip_network(A1),), True),
    }
    fake.calls.clear()
    assert run(fake, PUBLISH).converged and fake.calls == [], "a second pass writes nothing"


def test_a_node_whose_routes_fail_is_never_marked_routed() -> None:
    def refuse_b(action: Action) -> None:
        if action.kind is ActionKind.CREATE and action.node == "b":
            from cloudroutes.errors import QuotaExceeded

            raise QuotaExceeded("RouteLimitExceeded")

    objects = [obj("ka", "a"), obj("kb", "b")]
    fake = FakeProvider(nodes=[node("a"), node("b", age=1)], node_objects=objects, on_execute=refuse_b)
    report = run(fake, PUBLISH)
    assert not report.converged
    assert fake.node_objects["ka"].routed is True
    assert fake.node_objects["kb"].routed is not True
    skipped = [r for r in report.results if r.outcome is Outcome.SKIPPED]
    assert [(r.action.kind, r.action.ref) for r in skipped] == [(ActionKind.MARK_ROUTED, "kb")]


def test_the_condition_never_goes_ahead_of_the_routes() -> None:
    seen: list[tuple[ActionKind, str]] = []
    fake = FakeProvider(
        nodes=[node("a")], node_objects=[obj("ka", "a")], on_execute=lambda a: seen.append((a.kind, a.ref))
    )
    assert run(fake, PUBLISH).converged
    order = [kind for kind, _ in seen]
    assert order.index(ActionKind.CLAIM) < order.index(ActionKind.PUBLISH)
    assert order.index(ActionKind.CREATE) < order.index(ActionKind.MARK_ROUTED)


def test_destroy_leaves_node_objects_alone() -> None:
    fake = FakeProvider(nodes=[node("a")], node_objects=[obj("ka", "a")])
    run(fake, PUBLISH)
    cfg = Config(provider="aws", cluster=V4, kubernetes=KubernetesConfig(mode="publish"))
    planned = engine.make_plan(fake, cfg, destroy=True)
    assert not [a for a in planned.plan.actions if a.kind in (ActionKind.PUBLISH, *MARKS)]
    assert dataclasses.replace(fake.node_objects["ka"], ref="").pod_cidrs == (ip_network(A0),)
