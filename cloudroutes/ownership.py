"""Ownership: which routes are ours, and what a foreign route keeps from us.

Pure: no I/O. The rule never bends: a route is ours only if it carries our marker (a managed
table, a named and described route), delivers to a VM and lies wholly inside a cluster range,
and that VM is one of our nodes, a node that left the cluster, or gone. A route to a live VM that
never held a subnet (a firewall, a NAT appliance) or to another cluster's node is someone else's,
whatever table it sits in. Everything else is foreign: never changed, never deleted, and the range
it holds never handed out.
"""

from __future__ import annotations

from collections.abc import Sequence

from cloudroutes.model import Cluster, IPNetwork, Observed, Route, Target

_OURS_WITHOUT_NODE = frozenset({Target.GONE, Target.DEPARTED})
"""Targets that are not a node but whose routes are still ours to clean up."""


def is_ours(route: Route, cluster: Cluster) -> bool:
    """Ours only if marked, delivered to a VM we route for (or to none), and wholly inside a cluster range."""
    return (
        route.marked
        and route.to_vm
        and (route.node is not None or route.target in _OURS_WITHOUT_NODE)
        and _inside(route.destination, cluster.cidrs)
    )


def neighbour(route: Route) -> str | None:
    """The other cluster a route delivers to, if it delivers to another cluster's node."""
    if route.to_vm and route.node is None and route.target is Target.OTHER_CLUSTER:
        return route.target_cluster or "another cluster"
    return None


def fresh(observed: Observed, cluster: Cluster) -> bool:
    """Nothing of this cluster in the cloud yet: no route of ours, no node recording a subnet."""
    routed = any(is_ours(r, cluster) for t in observed.tables for r in t.routes)
    return not routed and not any(n.recorded for n in observed.nodes)


def _inside(net: IPNetwork, ranges: Sequence[IPNetwork]) -> bool:
    return any(net.version == r.version and net.subnet_of(r) for r in ranges)  # type: ignore[arg-type]


def foreign_routes(observed: Observed, cluster: Cluster) -> tuple[Route, ...]:
    return tuple(r for t in observed.tables for r in t.routes if not is_ours(r, cluster))


def holds_range(route: Route, cluster: Cluster) -> bool:
    """A foreign route inside a cluster range holds that range. One as wide as the cluster range or
    wider (a default route, a transit summary) holds nothing: our longer prefixes win over it."""
    return any(
        route.destination.version == c.version
        and route.destination.overlaps(c)
        and (route.destination.prefixlen > c.prefixlen or route.destination.prefixlen >= cluster.mask_for(c))
        for c in cluster.cidrs
    )
