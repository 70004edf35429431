"""What the fabric needs to know of the cloud, parsed from EC2 API responses.

Pure: takes the dicts boto3 returns (DescribeRouteTables, DescribeInstances), does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

Json = Mapping[str, Any]
Tags = frozenset[tuple[str, str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class CloudInstance:
    instance_id: str
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
        routes.append(CloudRoute(
            destination=destination,
            instance_id=route.get("InstanceId"),
            eni_id=route.get("NetworkInterfaceId"),
        ))
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
