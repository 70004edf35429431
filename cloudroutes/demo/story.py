"""`cloudroutes demo`: the main job, end to end, against an embedded cloud.

The story: a fresh cluster converges; then a node dies and two are born; the next apply
deletes the dead node's routes, gives the newcomers subnets, and moves nobody else. Every
claim the story makes is checked against the cloud at the end, so the demo fails loudly
(exit 1) rather than narrating something that did not happen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.rule import Rule

from cloudroutes import engine, ownership, render, status
from cloudroutes.config import Config
from cloudroutes.model import IPNetwork, NodeName
from cloudroutes.providers.base import Provider


@dataclass(slots=True, kw_only=True)
class World:
    """What the demo needs from an embedded cloud, whichever it is."""

    config: Config
    config_text: str
    provider: Provider
    churn: Callable[[], str]
    """Kill one node and launch two; returns a sentence saying what happened."""
    foreign_intact: Callable[[], bool]
    stop: Callable[[], None]


@dataclass(slots=True)
class Story:
    """What the demo did, for `--output json`: each act's plan, apply and node table, then the verdict."""

    acts: list[dict[str, Any]] = field(default_factory=list)
    churn: str = ""
    verdict: dict[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.verdict) and all(self.verdict.values())

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "acts": self.acts, "churn": self.churn, "verdict": self.verdict}


def run(console: Console, world: World) -> Story:
    story = Story()
    console.print(Rule("cloudroutes demo"))
    console.print("Config (cloudroutes.toml):", style="bold")
    console.print(world.config_text, markup=False, highlight=False)
    try:
        first = _converge(console, world, "1. A fresh cluster: plan, then apply", story)
        before = {row.node: row.subnets for row in first}
        console.print(Rule("2. Churn"))
        story.churn = world.churn()
        console.print(story.churn)
        second = _converge(console, world, "3. Apply again", story)
        story.verdict = _verdict(console, world, before, second)
        return story
    finally:
        world.stop()


def _converge(console: Console, world: World, title: str, story: Story) -> tuple[status.NodeStatus, ...]:
    console.print(Rule(title))
    planned = engine.make_plan(world.provider, world.config)
    render.print_plan(console, planned.plan, names=engine.node_names(planned.observed))
    result = engine.apply(world.provider, world.config, planned)
    render.print_apply(console, result)
    rows = status.node_statuses(result.observed, world.config.cluster)  # apply's own read-back
    render.print_status(console, rows)
    cluster = world.config.cluster
    applied = render.apply_json(
        result,
        foreign_before=ownership.foreign_routes(planned.observed, cluster),
        foreign_after=ownership.foreign_routes(result.observed, cluster),
    )
    story.acts.append({"title": title, "apply": applied, "nodes": render.status_json(rows)})
    return rows


def _verdict(
    console: Console,
    world: World,
    before: Mapping[NodeName, tuple[IPNetwork, ...]],
    after: tuple[status.NodeStatus, ...],
) -> dict[str, bool]:
    subnets = [s for row in after for s in row.subnets]
    checks = {
        "every node is ready (subnet recorded, routed in every table, forwarding on)": all(r.ready for r in after),
        "no two nodes share a subnet": len(subnets) == len(set(subnets)),
        "surviving nodes kept their subnets": all(r.subnets == before[r.node] for r in after if r.node in before),
        "foreign routes are untouched": world.foreign_intact(),
        "a second plan is empty": engine.make_plan(world.provider, world.config).plan.empty,
    }
    told = [r for r in after if r.node_object]
    if told:
        checks |= {
            "every Node object holds its VM's subnet as podCIDR": all(set(r.pod_cidrs) == set(r.subnets) for r in told),
            "every Node's NetworkUnavailable is False (RouteCreated)": all(r.routed is True for r in told),
        }
    console.print(Rule("Verdict"))
    for claim, holds in checks.items():
        console.print(f"{'[green]ok[/]  ' if holds else '[red]FAIL[/]'} {claim}")
    return checks
