"""What the fabric needs to know of the cloud, parsed from EC2 or Compute Engine API responses.

Pure: takes the dicts boto3 returns (DescribeRouteTables, DescribeInstances), or the GCE REST JSON
of routes and instances, and does no I/O. The view speaks EC2's words (instance states, the
source/destination check); the GCE reader translates into them, so one fabric rule set serves both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

Json = Mapping[str, Any]
Tags = frozenset[tuple[str, str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class CloudInstance:
    """`state` is an EC2 state name; `source_dest_check` on means the VM may only use its own address
    (GCE: canIpForward false). `tags` are the EC2 tags or the GCE labels."""

    instance_id: str  # EC2: i-...; GCE: zone/name
    state: str
    private_ip: IPv4Address | None
    eni_ids: tuple[str, ...] = ()
    source_dest_check: bool = True
    tags: Tags = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class CloudRoute:
    """An IPv4 route of the table; no instance and no ENI means some gateway the lab has not got."""

    destination: IPv4Network
    instance_id: str | None = None
    eni_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CloudView:
    routes: tuple[CloudRoute, ...] = ()
    instances: tuple[CloudInstance, ...] = ()


def select_table(route_tables: Sequence[Json], subnet_id: str) -> Json | None:
    """The table that routes `subnet_id`: its explicit association, else the VPC's main table (AWS rule)."""
    for table in route_tables:
        if any(a.get("SubnetId") == subnet_id for a in table.get("Associations", [])):
            return table
    for table in route_tables:
        if any(a.get("Main") for a in table.get("Associations", [])):
            return table
    return None


def parse_routes(table: Json | None) -> tuple[CloudRoute, ...]:
    routes = []
    for route in (table or {}).get("Routes", []):
        cidr = route.get("DestinationCidrBlock")
        if not cidr:
            continue  # IPv6 or prefix-list destinations: the lab is IPv4 only
        try:
            destination = IPv4Network(cidr)
        except ValueError:
            continue  # moto stores non-canonical CIDRs as written; the fabric cannot route them
        routes.append(
            CloudRoute(
                destination=destination,
                instance_id=route.get("InstanceId"),
                eni_id=route.get("NetworkInterfaceId"),
            )
        )
    return tuple(routes)


def parse_instance(instance: Json) -> CloudInstance:
    enis = instance.get("NetworkInterfaces", [])
    primary = next((e for e in enis if e.get("Attachment", {}).get("DeviceIndex") == 0), enis[0] if enis else {})
    # AWS keeps the instance attribute and the primary ENI's attribute in step; moto does not
    # (ModifyInstanceAttribute changes only the first, ModifyNetworkInterfaceAttribute only the
    # second). A controller may use either call, so the check counts as off if either says off.
    check = bool(instance.get("SourceDestCheck", True)) and bool(primary.get("SourceDestCheck", True))
    address = instance.get("PrivateIpAddress")
    return CloudInstance(
        instance_id=instance["InstanceId"],
        state=instance.get("State", {}).get("Name", "unknown"),
        private_ip=IPv4Address(address) if address else None,
        eni_ids=tuple(e["NetworkInterfaceId"] for e in enis if "NetworkInterfaceId" in e),
        source_dest_check=check,
        tags=frozenset((t["Key"], t.get("Value", "")) for t in instance.get("Tags", [])),
    )


def view_from_ec2(route_tables: Sequence[Json], reservations: Sequence[Json], subnet_id: str) -> CloudView:
    return CloudView(
        routes=parse_routes(select_table(route_tables, subnet_id)),
        instances=tuple(parse_instance(i) for r in reservations for i in r.get("Instances", [])),
    )


# ---- GCE ----------------------------------------------------------------------------------------------
# GCE statuses in EC2's words. TERMINATED is GCE's *stopped* (the VM keeps its canIpForward, as a
# stopped EC2 instance keeps its check); a deleted instance is simply absent from the list.
GCE_STATES = {
    "PROVISIONING": "pending",
    "STAGING": "pending",
    "REPAIRING": "pending",
    "RUNNING": "running",
    "STOPPING": "stopping",
    "SUSPENDING": "stopping",
    "TERMINATED": "stopped",
    "STOPPED": "stopped",
    "SUSPENDED": "stopped",
}
_INSTANCE_LINK = re.compile(r"(?:^|/)zones/([^/]+)/instances/([^/]+)$")


def gce_instance_id(link: str) -> str | None:
    """zone/name of an instance link (full URL or partial path), the id the lab knows GCE VMs by."""
    found = _INSTANCE_LINK.search(link)
    return f"{found[1]}/{found[2]}" if found else None


def _base(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[-1]


def parse_gce_instance(instance: Json) -> CloudInstance:
    nics = instance.get("networkInterfaces", [])
    address = nics[0].get("networkIP") if nics else None
    return CloudInstance(
        instance_id=f"{_base(instance.get('zone', ''))}/{instance['name']}",
        state=GCE_STATES.get(instance.get("status", ""), "unknown"),
        private_ip=IPv4Address(address) if address else None,
        source_dest_check=not instance.get("canIpForward", False),
        tags=frozenset(instance.get("labels", {}).items()),
    )


def parse_gce_routes(routes: Sequence[Json], network: str) -> tuple[CloudRoute, ...]:
    """The routes of `network` that decide each destRange: per destination, the lowest priority
    number wins, as in GCE (ties, which GCE spreads by ECMP, go to the first name: one next hop).
    A winner that is not an instance (a gateway, an IP, an ILB) is a route the lab has not got."""
    best: dict[IPv4Network, tuple[int, str, CloudRoute]] = {}
    for route in routes:
        if _base(route.get("network", "")) != network:
            continue
        try:
            destination = IPv4Network(route.get("destRange", ""))
        except ValueError:
            continue
        parsed = CloudRoute(destination=destination, instance_id=gce_instance_id(route.get("nextHopInstance", "")))
        rank = (int(route.get("priority", 1000)), str(route.get("name", "")), parsed)
        if destination not in best or rank[:2] < best[destination][:2]:
            best[destination] = rank
    return tuple(best[d][2] for d in sorted(best))


def view_from_gce(routes: Sequence[Json], instances: Sequence[Json], network: str) -> CloudView:
    """`routes` and `instances` as routes.list and instances.aggregatedList give them (REST JSON)."""
    return CloudView(
        routes=parse_gce_routes(routes, network),
        instances=tuple(
            parse_gce_instance(i)
            for i in instances
            if any(_base(nic.get("network", "")) == network for nic in i.get("networkInterfaces", [])[:1])
        ),
    )
