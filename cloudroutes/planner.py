"""The plan: the difference between what the cloud holds and what it should hold, as a value.

Pure: no I/O. Each rule is a small function; `plan()` only strings them together. The plan
says what to do, never how (retries, rates, ordering inside a phase belong to the executor).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cloudroutes import ipam
from cloudroutes.config import ClusterConfig
from cloudroutes.errors import PreflightError
from cloudroutes.model import (
    WRITE_ORDER,
    Action,
    ActionKind,
    Assignment,
    IPNetwork,
    Node,
    NodeName,
    Observed,
    Plan,
    Problem,
    ProblemKind,
    Route,
    Table,
    TableKey,
)


def is_ours(route: Route, cluster: ClusterConfig) -> bool:
    """Ours only if marked, delivered to a VM, and wholly inside a cluster range."""
    return route.marked and route.to_vm and _inside(route.destination, cluster.cidrs)


def _inside(net: IPNetwork, ranges: Sequence[IPNetwork]) -> bool:
    return any(net.version == r.version and net.subnet_of(r) for r in ranges)  # type: ignore[arg-type]


def preflight(observed: Observed, cluster: ClusterConfig) -> None:
    """Refuse a cluster range the network already uses: the cloud would reject or misroute it."""
    for cidr in cluster.cidrs:
        for used in observed.occupied:
            if cidr.version == used.version and cidr.overlaps(used):
                raise PreflightError(
                    f"cluster CIDR {cidr} overlaps {used}, a range of the network itself; "
                    "pick a cluster CIDR outside the VPC/subnet ranges"
                )


def foreign_routes(observed: Observed, cluster: ClusterConfig) -> tuple[Route, ...]:
    return tuple(r for t in observed.tables for r in t.routes if not is_ours(r, cluster))


def blocking(route: Route, cluster: ClusterConfig) -> bool:
    """A foreign route inside a cluster range holds that range. One as wide as the cluster range or
    wider (a default route, a transit summary) holds nothing: our longer prefixes win over it."""
    return any(
        route.destination.version == c.version
        and route.destination.overlaps(c)
        and (route.destination.prefixlen > c.prefixlen or route.destination.prefixlen >= cluster.mask_for(c))
        for c in cluster.cidrs
    )


def pools(observed: Observed, cluster: ClusterConfig) -> tuple[ipam.Pool, ...]:
    """Never hand out a block that a reserved range, the network, or a foreign route holds."""
    foreign = [r.destination for r in foreign_routes(observed, cluster) if blocking(r, cluster)]
    blocked = (*cluster.reserved, *observed.occupied, *foreign)
    stale = [r.destination for t in observed.tables for r in t.routes if r.node is None and is_ours(r, cluster)]
    return tuple(
        ipam.Pool(
            cidr=cidr,
            mask=cluster.mask_for(cidr),
            blocked=tuple(b for b in blocked if b.version == cidr.version and b.overlaps(cidr)),
            deferred=tuple(b for b in stale if b.version == cidr.version),
        )
        for cidr in cluster.cidrs
    )


def claims(observed: Observed, cluster: ClusterConfig) -> list[ipam.Claim]:
    """What each node holds today: what its VM records, and routes of ours that deliver to it
    (which ipam weighs: a route decides only for a node that records nothing in that family)."""
    found = [
        ipam.Claim(node=r.node, subnet=r.destination, evidence=ipam.Evidence.ROUTE)
        for t in observed.tables
        for r in t.routes
        if r.node is not None and is_ours(r, cluster)
    ]
    found += [
        ipam.Claim(node=n.name, subnet=s, evidence=ipam.Evidence.RECORD) for n in observed.nodes for s in n.recorded
    ]
    return found


def assign(observed: Observed, cluster: ClusterConfig) -> Assignment:
    return ipam.assign(nodes=observed.nodes, claims=claims(observed, cluster), pools=pools(observed, cluster))


def plan(
    observed: Observed,
    assignment: Assignment,
    cluster: ClusterConfig,
    *,
    fix_forwarding: bool = True,
) -> Plan:
    wanted = _wanted_routes(observed, assignment)
    route_actions: list[Action] = []
    problems: list[Problem] = []
    for table in observed.tables:
        actions = _table_actions(table, wanted, cluster)
        actions, held = _within_capacity(table, actions, wanted, cluster)
        route_actions += actions
        problems += held
    node_actions, node_problems = _node_actions(observed.nodes, assignment, fix_forwarding)
    problems += node_problems + _exhaustion(assignment, cluster) + _foreign(observed, cluster)
    return Plan(
        actions=_ordered([*node_actions, *route_actions]),
        problems=tuple(problems),
        owned_routes=sum(1 for t in observed.tables for r in t.routes if is_ours(r, cluster)),
    )


def plan_destroy(observed: Observed, cluster: ClusterConfig) -> Plan:
    """Everything this cluster owns goes: its routes and its records. Forwarding flags stay."""
    deletes = [
        Action(kind=ActionKind.DELETE, table=t.key, destination=r.destination, node=r.node, ref=r.ref, reason="destroy")
        for t in observed.tables
        for r in t.routes
        if is_ours(r, cluster)
    ]
    unclaims = [Action(kind=ActionKind.UNCLAIM, node=n.name, reason="destroy") for n in observed.nodes if n.recorded]
    return Plan(actions=_ordered([*deletes, *unclaims]), owned_routes=len(deletes))


def _wanted_routes(observed: Observed, assignment: Assignment) -> dict[IPNetwork, NodeName]:
    """Stopped nodes are wanted too: their routes blackhole until they start, and must not move."""
    return {subnet: node.name for node in observed.nodes for subnet in assignment.subnets.get(node.name, ())}


def _table_actions(table: Table, wanted: dict[IPNetwork, NodeName], cluster: ClusterConfig) -> list[Action]:
    ours: dict[IPNetwork, list[Route]] = {}
    for route in table.routes:
        if is_ours(route, cluster):
            ours.setdefault(route.destination, []).append(route)
    actions: list[Action] = []
    for subnet, node in wanted.items():
        routes = ours.get(subnet, [])
        keeper = next((r for r in routes if r.node == node and r.exact), routes[0] if routes else None)
        action = _route_action(table.key, subnet, node, keeper)
        actions += [action] if action else []
        actions += [_delete(r, "duplicate route for this subnet") for r in routes if r is not keeper]
    for subnet, routes in ours.items():
        if subnet not in wanted:
            actions += [
                _delete(r, "target is gone" if r.node is None else "subnet no longer assigned to this node")
                for r in routes
            ]
    return actions


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


def _route_action(table: TableKey, subnet: IPNetwork, node: NodeName, route: Route | None) -> Action | None:
    """The shape of the route controller's getRouteAction: keep, create, or re-point."""
    if route is None:
        return Action(kind=ActionKind.CREATE, table=table, destination=subnet, node=node, reason="missing")
    if route.node == node and route.exact:
        return None
    reason = (
        "points at another interface of the node" if route.node == node else f"points at {route.hop or 'a dead target'}"
    )
    return Action(kind=ActionKind.REPLACE, table=table, destination=subnet, node=node, ref=route.ref, reason=reason)


def capacity_for_ours(table: Table, cluster: ClusterConfig, family: int | None = None) -> int | None:
    """The quota minus what foreign routes already use in the table (in one family, where it counts per family)."""
    if table.limit is None:
        return None
    foreign = [r for r in table.routes if r.counted and not is_ours(r, cluster)]
    if family is not None:
        foreign = [r for r in foreign if r.destination.version == family]
    return max(0, table.limit - len(foreign))


def _within_capacity(
    table: Table, actions: list[Action], wanted: dict[IPNetwork, NodeName], cluster: ClusterConfig
) -> tuple[list[Action], list[Problem]]:
    """A table that cannot hold every route gets none of the new ones: half a cluster is worse."""
    families: list[int | None] = [*sorted({s.version for s in wanted})] if table.per_family else [None]
    held: list[Action] = []
    problems: list[Problem] = []
    for family in families:
        creates = [a for a in actions if a.kind is ActionKind.CREATE and _in_family(a, family)]
        needed = sum(1 for s in wanted if family is None or s.version == family)
        capacity = capacity_for_ours(table, cluster, family)
        if capacity is None or not creates or needed <= capacity:
            continue
        held += creates
        hint = f"; raise {table.quota_hint}" if table.quota_hint else ""
        scope = f" IPv{family}" if family is not None else ""
        problems.append(
            Problem(
                kind=ProblemKind.QUOTA,
                message=f"{table.key}: needs {needed}{scope} routes of ours but only {capacity} fit: "
                f"{needed - capacity} route(s) missing, {len(creates)} create(s) held back{hint}",
            )
        )
    return [a for a in actions if a not in held], problems


def _in_family(action: Action, family: int | None) -> bool:
    return family is None or (action.destination is not None and action.destination.version == family)


def _node_actions(
    nodes: Iterable[Node], assignment: Assignment, fix_forwarding: bool
) -> tuple[list[Action], list[Problem]]:
    actions: list[Action] = []
    problems: list[Problem] = []
    for node in nodes:
        subnets = assignment.subnets.get(node.name, ())
        if subnets and set(subnets) != set(node.recorded):
            actions.append(Action(kind=ActionKind.CLAIM, node=node.name, subnets=subnets, reason="record subnet"))
        elif not subnets and node.recorded:
            actions.append(Action(kind=ActionKind.UNCLAIM, node=node.name, reason="no subnet left for this node"))
        if subnets and not node.forwarding:
            if fix_forwarding:
                actions.append(Action(kind=ActionKind.ENABLE_FORWARDING, node=node.name, reason="forwarding is off"))
            else:
                problems.append(
                    Problem(
                        kind=ProblemKind.FORWARDING_OFF,
                        message=f"{node.name}: IP forwarding is off; the node cannot carry pod traffic "
                        "(enable it, or set fix_forwarding = true)",
                    )
                )
    return actions, problems


def _exhaustion(assignment: Assignment, cluster: ClusterConfig) -> list[Problem]:
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


def _foreign(observed: Observed, cluster: ClusterConfig) -> list[Problem]:
    """Foreign routes inside the cluster range: never changed, their ranges never handed out."""
    return [
        Problem(
            kind=ProblemKind.FOREIGN,
            message=f"{r.table}: foreign route {r.destination} -> {r.hop or 'unknown target'} left untouched",
            blocking=False,
        )
        for r in foreign_routes(observed, cluster)
        if blocking(r, cluster)
    ]


def _ordered(actions: list[Action]) -> tuple[Action, ...]:
    rank = {kind: i for i, kind in enumerate(WRITE_ORDER)}
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


def mass_delete(plan: Plan, fraction: float) -> str | None:
    """The blast-radius guard: an empty node list from a wrong filter must not wipe the cluster."""
    deletes = plan.count(ActionKind.DELETE)
    if deletes <= 1 or deletes <= fraction * plan.owned_routes:
        return None
    return (
        f"plan deletes {deletes} of {plan.owned_routes} routes of this cluster "
        f"(limit {fraction:.0%}); check the node selector, or pass --allow-mass-delete"
    )
