"""Guards: what stops a plan before it writes (preflight, the blast radius) or holds part of it back (quota).

Pure: no I/O. A guard refuses with a message that names the fix; it never edits the cloud.
"""

from __future__ import annotations

from collections.abc import Collection

from cloudroutes import ownership
from cloudroutes.errors import PreflightError
from cloudroutes.model import (
    Action,
    ActionKind,
    Cluster,
    IPNetwork,
    Observed,
    Plan,
    Problem,
    ProblemKind,
    Table,
)


def preflight(observed: Observed, cluster: Cluster) -> None:
    """Refuse a cluster range the network already uses: the cloud would reject or misroute it."""
    for cidr in cluster.cidrs:
        for used in observed.occupied:
            if cidr.version == used.version and cidr.overlaps(used):
                raise PreflightError(
                    f"cluster CIDR {cidr} overlaps {used}, a range of the network itself; "
                    "pick a cluster CIDR outside the VPC/subnet ranges"
                )


def neighbours(observed: Observed, cluster: Cluster) -> None:
    """Refuse a new cluster whose range overlaps ranges already routed to another cluster's nodes.

    Two clusters sharing tables with overlapping ranges would each take the other's routes for
    stale ones, or hand out blocks the other already routes. An established cluster is not
    refused (a neighbour's later mistake must not stop its reconciling): there the other
    cluster's routes are foreign, left untouched and reported, and their ranges never handed out."""
    if not ownership.fresh(observed, cluster):
        return
    for cidr in cluster.cidrs:
        for table in observed.tables:
            for route in table.routes:
                other = ownership.neighbour(route)
                if other and route.destination.version == cidr.version and route.destination.overlaps(cidr):
                    raise PreflightError(
                        f"cluster CIDR {cidr} overlaps {route.destination}, routed to a node of cluster {other} "
                        f"in {table.key}; pick a cluster CIDR outside cluster {other}'s range"
                    )


def capacity_for_ours(table: Table, cluster: Cluster, family: int | None = None) -> int | None:
    """The quota minus what foreign routes already use in the table (in one family, where it counts per family)."""
    if table.limit is None:
        return None
    foreign = [r for r in table.routes if r.counted and not ownership.is_ours(r, cluster)]
    if family is not None:
        foreign = [r for r in foreign if r.destination.version == family]
    return max(0, table.limit - len(foreign))


def within_capacity(
    table: Table, actions: list[Action], wanted: Collection[IPNetwork], cluster: Cluster
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


def mass_delete(plan: Plan, fraction: float) -> str | None:
    """The blast-radius guard: an empty node list from a wrong filter must not wipe the cluster."""
    deletes = plan.count(ActionKind.DELETE)
    if deletes <= 1 or deletes <= fraction * plan.owned_routes:
        return None
    return (
        f"plan deletes {deletes} of {plan.owned_routes} routes of this cluster "
        f"(limit {fraction:.0%}); check the node selector, or pass --allow-mass-delete"
    )
