"""Resource records held by the emulator and their GCE JSON renderings.

Records are frozen values; the state replaces them on change (`dataclasses.replace`), so a reader holding
one never sees it half-updated. Rendering is pure: it takes the records it needs and returns plain dicts
in GCE's camelCase shape (int64 ids as strings, full https self links).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cloudroutes.sim.gce import links

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# GCE's labelFingerprint for an empty label set; real clients may have it hard-coded.
EMPTY_LABEL_FINGERPRINT = "42WmSpB8rSM="

# Top-level fields a list filter may name, per collection (subsets of the discovery schemas).
ROUTE_FIELDS = frozenset(
    [
        "creationTimestamp",
        "description",
        "destRange",
        "id",
        "kind",
        "name",
        "network",
        "nextHopGateway",
        "nextHopIlb",
        "nextHopInstance",
        "nextHopIp",
        "nextHopNetwork",
        "nextHopVpnTunnel",
        "priority",
        "routeStatus",
        "routeType",
        "selfLink",
        "tags",
        "warnings",
    ]
)
INSTANCE_FIELDS = frozenset(
    [
        "canIpForward",
        "creationTimestamp",
        "description",
        "fingerprint",
        "id",
        "kind",
        "labelFingerprint",
        "labels",
        "machineType",
        "name",
        "networkInterfaces",
        "selfLink",
        "status",
        "zone",
    ]
)
OPERATION_FIELDS = frozenset(
    [
        "endTime",
        "httpErrorStatusCode",
        "id",
        "insertTime",
        "kind",
        "name",
        "operationType",
        "progress",
        "selfLink",
        "startTime",
        "status",
        "targetId",
        "targetLink",
        "user",
        "zone",
    ]
)
NETWORK_FIELDS = frozenset(
    ["autoCreateSubnetworks", "creationTimestamp", "id", "kind", "mtu", "name", "selfLink", "subnetworks"]
)
SUBNETWORK_FIELDS = frozenset(
    [
        "creationTimestamp",
        "fingerprint",
        "gatewayAddress",
        "id",
        "ipCidrRange",
        "kind",
        "name",
        "network",
        "purpose",
        "region",
        "secondaryIpRanges",
        "selfLink",
        "stackType",
    ]
)


def fingerprint(*parts: object) -> str:
    """An opaque 8-byte base64 fingerprint, like GCE's, derived from `parts`."""
    digest = hashlib.sha256(repr(parts).encode()).digest()[:8]
    return base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True, kw_only=True)
class Network:
    name: str
    id: str
    created: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Subnetwork:
    name: str
    region: str
    network: str
    cidr: IPNetwork
    secondary: tuple[tuple[str, IPNetwork], ...]
    id: str
    created: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Instance:
    name: str
    zone: str
    network: str
    subnetwork: Subnetwork
    ip: str
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    can_ip_forward: bool
    status: str
    id: str
    created: str
    # Bumped on every change so the fingerprint changes even when a value flips back.
    generation: int = 0

    @property
    def fingerprint(self) -> str:
        return fingerprint("instance", self.id, self.generation)

    @property
    def label_fingerprint(self) -> str:
        return fingerprint("labels", sorted(self.labels.items())) if self.labels else EMPTY_LABEL_FINGERPRINT


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    name: str
    network: str
    dest_range: str
    priority: int
    id: str
    created: str
    description: str = ""
    tags: tuple[str, ...] = ()
    next_hop_instance: str | None = None  # full self link
    next_hop_gateway: str | None = None  # full self link
    next_hop_ip: str | None = None


def render_network(project: str, network: Network, subnets: list[Subnetwork]) -> dict[str, Any]:
    return {
        "kind": "compute#network",
        "id": network.id,
        "creationTimestamp": network.created,
        "name": network.name,
        "selfLink": links.link(links.global_path(project, "networks", network.name)),
        "selfLinkWithId": links.link(links.global_path(project, "networks", network.id)),
        "autoCreateSubnetworks": False,
        "subnetworks": [subnetwork_link(project, s) for s in subnets],
        "routingConfig": {"routingMode": "REGIONAL"},
        "mtu": 1460,
        "networkFirewallPolicyEnforcementOrder": "AFTER_CLASSIC_FIREWALL",
    }


def subnetwork_link(project: str, subnet: Subnetwork) -> str:
    return links.link(links.region_path(project, subnet.region, "subnetworks", subnet.name))


def render_subnetwork(project: str, subnet: Subnetwork) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "kind": "compute#subnetwork",
        "id": subnet.id,
        "creationTimestamp": subnet.created,
        "name": subnet.name,
        "network": links.link(links.global_path(project, "networks", subnet.network)),
        "ipCidrRange": str(subnet.cidr),
        "gatewayAddress": str(subnet.cidr.network_address + 1),
        "region": links.link(links.region_path(project, subnet.region)),
        "selfLink": subnetwork_link(project, subnet),
        "fingerprint": fingerprint("subnetwork", subnet.id),
        "privateIpGoogleAccess": False,
        "purpose": "PRIVATE",
        "stackType": "IPV4_ONLY",
    }
    if subnet.secondary:
        rendered["secondaryIpRanges"] = [{"rangeName": n, "ipCidrRange": str(c)} for n, c in subnet.secondary]
    return rendered


def render_instance(project: str, instance: Instance) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "kind": "compute#instance",
        "id": instance.id,
        "creationTimestamp": instance.created,
        "name": instance.name,
        "zone": links.link(links.zone_path(project, instance.zone)),
        "machineType": links.link(links.zone_path(project, instance.zone, "machineTypes", "e2-small")),
        "status": instance.status,
        "canIpForward": instance.can_ip_forward,
        "networkInterfaces": [
            {
                "kind": "compute#networkInterface",
                "name": "nic0",
                "network": links.link(links.global_path(project, "networks", instance.network)),
                "subnetwork": subnetwork_link(project, instance.subnetwork),
                "networkIP": instance.ip,
                "fingerprint": fingerprint("nic0", instance.id),
                "stackType": "IPV4_ONLY",
            }
        ],
        "labelFingerprint": instance.label_fingerprint,
        "fingerprint": instance.fingerprint,
        "deletionProtection": False,
        "selfLink": instance_link(project, instance.zone, instance.name),
    }
    if instance.labels:
        rendered["labels"] = dict(instance.labels)
    return rendered


def instance_link(project: str, zone: str, name: str) -> str:
    return links.link(links.zone_path(project, zone, "instances", name))


def render_route(project: str, route: Route, instances: Mapping[str, Instance]) -> dict[str, Any]:
    """`instances` maps instance self links to records; it decides the route's warnings."""
    rendered: dict[str, Any] = {
        "kind": "compute#route",
        "id": route.id,
        "creationTimestamp": route.created,
        "name": route.name,
        "network": links.link(links.global_path(project, "networks", route.network)),
        "destRange": route.dest_range,
        "priority": route.priority,
        "routeType": "STATIC",
        "selfLink": links.link(links.global_path(project, "routes", route.name)),
    }
    if route.description:
        rendered["description"] = route.description
    if route.tags:
        rendered["tags"] = list(route.tags)
    for key, value in (
        ("nextHopInstance", route.next_hop_instance),
        ("nextHopGateway", route.next_hop_gateway),
        ("nextHopIp", route.next_hop_ip),
    ):
        if value is not None:
            rendered[key] = value
    if warnings := route_warnings(route, instances):
        rendered["warnings"] = warnings
    return rendered


def route_warnings(route: Route, instances: Mapping[str, Instance]) -> list[dict[str, Any]]:
    """GCE's analogue of an AWS blackhole: the route stays, with a warning saying why it cannot work."""
    hop = route.next_hop_instance
    if hop is None:
        return []
    instance = instances.get(hop)
    checks = (
        (instance is None, "NEXT_HOP_INSTANCE_NOT_FOUND", "does not exist"),
        (
            instance is not None and instance.network != route.network,
            "NEXT_HOP_INSTANCE_NOT_ON_NETWORK",
            "is not on the route's network",
        ),
        (instance is not None and not instance.can_ip_forward, "NEXT_HOP_CANNOT_IP_FORWARD", "cannot ip forward"),
        (instance is not None and instance.status != "RUNNING", "NEXT_HOP_NOT_RUNNING", "is not running"),
    )
    return [
        {"code": code, "message": f"Next hop instance '{hop}' {why}.", "data": [{"key": "instance", "value": hop}]}
        for failed, code, why in checks
        if failed
    ]


def render_project(
    project: str, project_id: str, created: str, quotas: list[tuple[str, float, float]]
) -> dict[str, Any]:
    return {
        "kind": "compute#project",
        "id": project_id,
        "creationTimestamp": created,
        "name": project,
        "selfLink": links.link(links.project_path(project)),
        "quotas": [{"metric": m, "limit": float(limit), "usage": float(usage)} for m, limit, usage in quotas],
        "defaultNetworkTier": "PREMIUM",
        "defaultServiceAccount": f"{project_id[:12]}-compute@developer.gserviceaccount.com",
        "xpnProjectStatus": "UNSPECIFIED_XPN_PROJECT_STATUS",
    }
