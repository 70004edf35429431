"""Ownership: which routes are ours, and what a foreign route keeps from us.

Pure: no I/O. The rule never bends: a route is ours only if it carries our marker (a managed
table, a named and described route), delivers to a VM and lies wholly inside a cluster range.
Everything else is foreign: never changed, never deleted, and the range it holds never handed out.
"""

from __future__ import annotations

from collections.abc import Sequence

from cloudroutes.model import Cluster, IPNetwork, Observed, Route


def is_ours(route: Route, cluster: Cluster) -> bool:
    """Ours only if marked, delivered to a VM, and wholly inside a cluster range."""
    return route.marked and route.to_vm and _inside(route.destination, cluster.cidrs)


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
