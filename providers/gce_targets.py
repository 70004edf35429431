"""GCE: who a route's instance is when it is not a node of this cluster.

A route to an instance may deliver to a live VM we never selected: a firewall or NAT appliance
given a name another route of ours once used, a node of another cluster, or a node of ours that
left the cluster (its cluster label changed) but still runs. Only the last is ours to clean up.
One instances.aggregatedList, filtered by those instances' names, answers for all of them, and
only when such a route exists: a steady pass pays nothing for it. A route GCE already marks
NEXT_HOP_INSTANCE_NOT_FOUND needs no lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cloudroutes.model import Target
from cloudroutes.providers import gce_names as names

NAMES_PER_CALL = 50
"""Instance names per filter: the filter stays short, the answer one page."""


def lookup_filters(instance_names: Iterable[str]) -> list[str]:
    """AIP-160 filters naming these instances, in as few calls as fit."""
    found = sorted(set(instance_names))
    chunks = [found[i : i + NAMES_PER_CALL] for i in range(0, len(found), NAMES_PER_CALL)]
    return [" OR ".join(f'(name = "{n}")' for n in chunk) for chunk in chunks]


def classify(labels: Mapping[str, str], cluster: str) -> tuple[Target, str]:
    """A live instance's (target, other cluster), from its labels."""
    owner = labels.get(names.CLUSTER_LABEL, "")
    if owner and owner != cluster:
        return Target.OTHER_CLUSTER, owner
    if labels.get(names.CIDR_LABEL) or labels.get(names.CIDR_LABEL_V6):
        return Target.DEPARTED, ""
    return Target.UNRECORDED, ""


def by_place(instances: Iterable[Any], zone_of: Any, cluster: str) -> dict[tuple[str, str], tuple[Target, str]]:
    """Each found instance by (zone, name); an instance missing from the answer is gone."""
    return {(zone_of(i.zone), i.name): classify(dict(i.labels), cluster) for i in instances}
