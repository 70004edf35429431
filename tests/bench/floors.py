"""The floor a converge cannot beat, from the cloud's published limits alone (pure arithmetic).

AWS: EC2 meters each family of writes in its own token bucket per account and region
(https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html), and the families
drain in parallel, so the floor is the slowest family's: (writes - burst) / refill, never below
one write's latency. GCE: the per-minute write quota, then one operation's latency (the last
write's operation still has to end).
"""

from __future__ import annotations

from collections.abc import Mapping

AWS_BUCKETS: Mapping[str, tuple[int, float]] = {
    "routes (mutating)": (50, 5.0),
    "CreateTags": (100, 10.0),
    "ModifyNetworkInterfaceAttribute": (100, 5.0),
}


def bucket_seconds(writes: int, burst: int, rate: float) -> float:
    return max(0.0, (writes - burst) / rate)


def aws(nodes: int, tables: int, *, write_latency: float) -> float:
    """A new node costs one route per table, one tag write and one interface-flag write."""
    families = {
        "routes (mutating)": nodes * tables,
        "CreateTags": nodes,
        "ModifyNetworkInterfaceAttribute": nodes,
    }
    slowest = max(bucket_seconds(n, *AWS_BUCKETS[family]) for family, n in families.items())
    return slowest + write_latency


def gce(writes: int, *, operation_s: float, per_minute: int = 1500) -> float:
    """GCE refills its write quota at the start of each minute: `per_minute` writes a minute, then
    the last write's operation."""
    minutes_full = max(0, (writes - 1) // per_minute)
    return 60.0 * minutes_full + operation_s
