"""AWS: who a route's instance is when it is not a node of this cluster.

A route in a managed table may deliver to a live instance we never selected: a firewall or NAT
appliance someone routes a range through, a node of another cluster sharing the table, or a node
of ours that left the cluster (its cluster tag removed) but still runs. Only the last is ours to
clean up; the others are foreign. One DescribeInstances, filtered by the ids of those targets,
answers for all of them, and only when such a route exists: a steady pass pays nothing for it.

EC2 names the instance of a route that targets an attached interface beside the interface
(hashicorp/terraform-provider-aws#14197), so the instance id is enough; a route that names only
an interface delivers to something that is not an instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cloudroutes.model import Target

CLUSTER_TAG_PREFIX = "kubernetes.io/cluster/"
RECORD_TAGS = ("cloudroutes.io/pod-cidr", "cloudroutes.io/pod-cidr-v6")
GONE_STATES = frozenset({"shutting-down", "terminated"})
IDS_PER_CALL = 200
"""Instance ids per filter: a conservative bound on filter values, rarely more than one call."""


def lookup_filters(instance_ids: Iterable[str]) -> list[list[dict[str, Any]]]:
    """The DescribeInstances filters that find these instances, in as few calls as fit.
    A filter, not InstanceIds: one id that no longer exists would fail the whole call."""
    ids = sorted(set(instance_ids))
    return [[{"Name": "instance-id", "Values": ids[i : i + IDS_PER_CALL]}] for i in range(0, len(ids), IDS_PER_CALL)]


def classify(instances: Iterable[Mapping[str, Any]], cluster: str) -> dict[str, tuple[Target, str]]:
    """Each found instance's (target, other cluster): an id missing from the answer is gone."""
    return {str(i["InstanceId"]): _classify(i, cluster) for i in instances}


def _classify(instance: Mapping[str, Any], cluster: str) -> tuple[Target, str]:
    if instance.get("State", {}).get("Name") in GONE_STATES:
        return Target.GONE, ""
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    clusters = {k.removeprefix(CLUSTER_TAG_PREFIX) for k in tags if k.startswith(CLUSTER_TAG_PREFIX)}
    if clusters and cluster not in clusters:
        return Target.OTHER_CLUSTER, sorted(clusters)[0]
    if any(tags.get(key) for key in RECORD_TAGS):
        return Target.DEPARTED, ""
    return Target.UNRECORDED, ""
