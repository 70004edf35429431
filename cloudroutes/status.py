"""Per-node readiness: can the three Kubernetes requirements hold for this node right now?

Pure: reads an observation, writes nothing. A node is ready when it holds a subnet in every
configured family, recorded on its VM, routed to it (exactly, and active) in every managed
table, and its VM may forward packets that are not its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from cloudroutes.model import Cluster, IPNetwork, NodeName, NodeObject, NodeState, Observed
from cloudroutes.ownership import is_ours


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStatus:
    node: NodeName
    display: str
    state: NodeState
    subnets: tuple[IPNetwork, ...]
    routes_active: int
    routes_expected: int
    forwarding: bool
    issues: tuple[str, ...]
    node_object: str = ""
    """Its Kubernetes Node, when [kubernetes] is on and one names this VM."""
    pod_cidrs: tuple[IPNetwork, ...] = ()
    routed: bool | None = None
    """The Node's NetworkUnavailable as the route controller writes it: True = RouteCreated."""

    @property
    def ready(self) -> bool:
        return not self.issues


def node_statuses(observed: Observed, cluster: Cluster) -> tuple[NodeStatus, ...]:
    routed: dict[NodeName, list[tuple[str, IPNetwork, bool]]] = {}
    for table in observed.tables:
        for route in table.routes:
            if route.node is not None and route.exact and is_ours(route, cluster):
                routed.setdefault(route.node, []).append((table.key, route.destination, not route.blackhole))
    rows = []
    for node in sorted(observed.nodes, key=lambda n: (n.display or n.name, n.name)):
        rows.append(
            _row(
                node.name,
                node.display,
                node.state,
                node.recorded,
                node.forwarding,
                routed.get(node.name, []),
                observed,
                cluster,
            )
        )
    objects = {n.vm: n for n in observed.node_objects if n.vm is not None}
    return tuple(_with_node_object(row, objects.get(row.node)) for row in rows)


def _with_node_object(row: NodeStatus, found: NodeObject | None) -> NodeStatus:
    if found is None:
        return row
    return dataclasses.replace(row, node_object=found.name, pod_cidrs=found.pod_cidrs, routed=found.routed)


def _row(
    name: NodeName,
    display: str,
    state: NodeState,
    recorded: tuple[IPNetwork, ...],
    forwarding: bool,
    routes: list[tuple[str, IPNetwork, bool]],
    observed: Observed,
    cluster: Cluster,
) -> NodeStatus:
    issues = []
    families = {c.version for c in cluster.cidrs}
    if {s.version for s in recorded} != families:
        issues.append("no subnet recorded" if not recorded else "subnet missing for a family")
    expected = len(observed.tables) * len(recorded)
    matching = [r for r in routes if r[1] in recorded]
    active = sum(1 for r in matching if r[2])
    if len(matching) < expected:
        issues.append(f"{expected - len(matching)} route(s) missing")
    elif active < expected and state is NodeState.RUNNING:
        issues.append(f"{expected - active} route(s) not active")
    if not forwarding:
        issues.append("forwarding off")
    if state is not NodeState.RUNNING:
        issues.append(f"node {state}")
    return NodeStatus(
        node=name,
        display=display,
        state=state,
        subnets=recorded,
        routes_active=active,
        routes_expected=expected,
        forwarding=forwarding,
        issues=tuple(issues),
    )
