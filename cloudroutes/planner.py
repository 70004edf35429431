"""The plan: the difference between what the cloud holds and what it should hold, as a value.

Pure: no I/O. Each rule is a small function; `plan()` only strings them together. The plan
says what to do, never how (retries, rates, ordering inside a phase belong to the executor).
"""

from __future__ import annotations

from collections.abc import Iterable

from cloudroutes import guards, ipam, nodeobjects, ownership
from cloudroutes.model import (
    ACTION_ORDER,
    Action,
    ActionKind,
    Assignment,
    Cluster,
    IPNetwork,
    KubeMode,
    Node,
    Observed,
    Plan,
    Problem,
    ProblemKind,
    Route,
    Table,
    TableKey,
    Target,
)


def pools(observed: Observed, cluster: Cluster) -> tuple[ipam.Pool, ...]:
    """Never hand out a block that a reserved range, the network, or a foreign route holds."""
    foreign = [r.destination for r in ownership.foreign_routes(observed, cluster) if ownership.holds_range(r, cluster)]
    blocked = (*cluster.reserved, *observed.occupied, *foreign)
    stale = [
        r.destination for t in observed.tables for r in t.routes if r.node is None and ownership.is_ours(r, cluster)
    ]
    return tuple(
        ipam.Pool(
            cidr=cidr,
            mask=cluster.mask_for(cidr),
            blocked=tuple(b for b in blocked if b.version == cidr.version and b.overlaps(cidr)),
            deferred=tuple(b for b in stale if b.version == cidr.version),
        )
        for cidr in cluster.cidrs
    )


def claims(observed: Observed, cluster: Cluster) -> list[ipam.Claim]:
    """What each node holds today: what its VM records, and routes of ours that deliver to it
    (which ipam weighs: a route decides only for a node that records nothing in that family)."""
    found = [
        ipam.Claim(node=r.node, subnet=r.destination, evidence=ipam.Evidence.ROUTE)
        for t in observed.tables
        for r in t.routes
        if r.node is not None and ownership.is_ours(r, cluster)
    ]
    found += [
        ipam.Claim(node=n.name, subnet=s, evidence=ipam.Evidence.RECORD) for n in observed.nodes for s in n.recorded
    ]
    return found


def assign(observed: Observed, cluster: Cluster) -> Assignment:
    return ipam.assign(nodes=observed.nodes, claims=claims(observed, cluster), pools=pools(observed, cluster))


def plan(
    observed: Observed,
    assignment: Assignment,
    cluster: Cluster,
    *,
    fix_forwarding: bool = True,
    kube: KubeMode = KubeMode.OFF,
) -> Plan:
    wanted = _wanted_routes(observed, assignment)
    route_actions: list[Action] = []
    problems: list[Problem] = []
    for table in observed.tables:
        actions = _table_actions(table, wanted, cluster)
        actions, held = guards.within_capacity(table, actions, wanted, cluster)
        route_actions += actions
        problems += held
    node_actions, node_problems = _node_actions(observed.nodes, assignment, fix_forwarding)
    problems += node_problems + _exhaustion(assignment, cluster) + _foreign(observed, cluster)
    actions, kube_problems = nodeobjects.reconcile(observed, assignment, [*node_actions, *route_actions], kube)
    return Plan(
        actions=_ordered([*actions]),
        problems=tuple(problems + kube_problems),
        owned_routes=sum(1 for t in observed.tables for r in t.routes if ownership.is_ours(r, cluster)),
    )


def plan_destroy(observed: Observed, cluster: Cluster) -> Plan:
    """Everything this cluster owns goes: its routes and its records. Forwarding flags stay."""
    deletes = [
        Action(kind=ActionKind.DELETE, table=t.key, destination=r.destination, node=r.node, ref=r.ref, reason="destroy")
        for t in observed.tables
        for r in t.routes
        if ownership.is_ours(r, cluster)
    ]
    unclaims = [_node_action(ActionKind.UNCLAIM, n, "destroy") for n in observed.nodes if n.recorded]
    return Plan(actions=_ordered([*deletes, *unclaims]), owned_routes=len(deletes))


def _wanted_routes(observed: Observed, assignment: Assignment) -> dict[IPNetwork, Node]:
    """Stopped nodes are wanted too: their routes blackhole until they start, and must not move."""
    return {subnet: node for node in observed.nodes for subnet in assignment.subnets.get(node.name, ())}


def _table_actions(table: Table, wanted: dict[IPNetwork, Node], cluster: Cluster) -> list[Action]:
    ours: dict[IPNetwork, list[Route]] = {}
    for route in table.routes:
        if ownership.is_ours(route, cluster):
            ours.setdefault(route.destination, []).append(route)
    actions: list[Action] = []
    for subnet, node in wanted.items():
        routes = ours.get(subnet, [])
        keeper = next((r for r in routes if r.node == node.name and r.exact), routes[0] if routes else None)
        action = _route_action(table.key, subnet, node, keeper)
        actions += [action] if action else []
        actions += [_delete(r, "duplicate route for this subnet") for r in routes if r is not keeper]
    for subnet, routes in ours.items():
        if subnet not in wanted:
            actions += [_delete(r, _why_unwanted(r)) for r in routes]
    return actions


def _why_unwanted(route: Route) -> str:
    if route.node is not None:
        return "subnet no longer assigned to this node"
    return "target left the cluster" if route.target is Target.DEPARTED else "target is gone"


def _delete(route: Route, reason: str) -> Action:
    """GCE can hold two routes for one destination under different names; AWS cannot."""
    return Action(
        kind=ActionKind.DELETE,
        table=route.table,
        destination=route.destination,
        node=route.node,
        ref=route.ref,
        reason=reason,
    )


def _route_action(table: TableKey, subnet: IPNetwork, node: Node, route: Route | None) -> Action | None:
    """The shape of the route controller's getRouteAction: keep, create, or re-point."""
    if route is None:
        return Action(
            kind=ActionKind.CREATE, table=table, destination=subnet, node=node.name, node_ref=node.ref, reason="missing"
        )
    if route.node == node.name and route.exact:
        return None
    mine = route.node == node.name
    reason = "points at another interface of the node" if mine else f"points at {route.hop or 'a dead target'}"
    return Action(
        kind=ActionKind.REPLACE,
        table=table,
        destination=subnet,
        node=node.name,
        node_ref=node.ref,
        ref=route.ref,
        reason=reason,
    )


def _node_actions(
    nodes: Iterable[Node], assignment: Assignment, fix_forwarding: bool
) -> tuple[list[Action], list[Problem]]:
    actions: list[Action] = []
    problems: list[Problem] = []
    for node in nodes:
        subnets = assignment.subnets.get(node.name, ())
        if subnets and set(subnets) != set(node.recorded):
            actions.append(_node_action(ActionKind.CLAIM, node, "record subnet", subnets=subnets))
        elif not subnets and node.recorded:
            actions.append(_node_action(ActionKind.UNCLAIM, node, "no subnet left for this node"))
        if subnets and not node.forwarding:
            if fix_forwarding:
                actions.append(_node_action(ActionKind.ENABLE_FORWARDING, node, "forwarding is off"))
            else:
                problems.append(
                    Problem(
                        kind=ProblemKind.FORWARDING_OFF,
                        message=f"{node.name}: IP forwarding is off; the node cannot carry pod traffic "
                        "(enable it, or set fix_forwarding = true)",
                    )
                )
    return actions, problems


def _node_action(kind: ActionKind, node: Node, reason: str, *, subnets: tuple[IPNetwork, ...] = ()) -> Action:
    """A write to the VM itself: it carries the node's ref and what the VM recorded before."""
    previous = node.recorded if kind is not ActionKind.ENABLE_FORWARDING else ()
    return Action(kind=kind, node=node.name, node_ref=node.ref, subnets=subnets, previous=previous, reason=reason)


def _exhaustion(assignment: Assignment, cluster: Cluster) -> list[Problem]:
    if not assignment.left_out:
        return []
    ranges = ", ".join(str(c) for c in cluster.cidrs)
    names = ", ".join(assignment.left_out)
    return [
        Problem(
            kind=ProblemKind.EXHAUSTED,
            message=f"cluster CIDR {ranges} is exhausted: "
            f"{len(assignment.left_out)} node(s) left without a subnet: {names}",
        )
    ]


def _foreign(observed: Observed, cluster: Cluster) -> list[Problem]:
    """Foreign routes inside the cluster range: never changed, their ranges never handed out."""
    return [
        Problem(
            kind=ProblemKind.FOREIGN,
            message=f"{r.table}: foreign route {r.destination} -> {r.hop or 'unknown target'}{_whose(r)} "
            "left untouched",
            blocking=False,
        )
        for r in ownership.foreign_routes(observed, cluster)
        if ownership.holds_range(r, cluster)
    ]


def _whose(route: Route) -> str:
    """Why a route to a VM is not ours, when the VM says so."""
    if not route.to_vm or route.node is not None:
        return ""
    if route.target is Target.OTHER_CLUSTER:
        return f" (a node of cluster {route.target_cluster})"
    if route.target is Target.UNRECORDED:
        return " (a live instance that holds no pod subnet)"
    return ""


def _ordered(actions: list[Action]) -> tuple[Action, ...]:
    rank = {kind: i for i, kind in enumerate(ACTION_ORDER)}
    return tuple(
        sorted(
            actions,
            key=lambda a: (
                rank[a.kind],
                a.table or "",
                a.destination.version if a.destination else 0,
                int(a.destination.network_address) if a.destination else 0,
                a.destination.prefixlen if a.destination else 0,  # 10.244.1.0/24 and /25 start alike
                a.node or "",
                a.ref,
            ),
        )
    )
