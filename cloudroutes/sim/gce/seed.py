"""Putting resources straight into the world, bypassing the API (no operations, no quota, no calls).

This is the emulator's test and demo surface. Misuse raises ValueError: these are programming errors
in a test, not API answers.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from cloudroutes.sim.gce import api_instances, api_routes, errors, links, model
from cloudroutes.sim.gce.state import World

STATUSES = frozenset(
    ["PROVISIONING", "STAGING", "RUNNING", "STOPPING", "STOPPED", "SUSPENDING", "SUSPENDED", "REPAIRING", "TERMINATED"]
)


def add_network(world: World, name: str) -> str:
    if name in world.networks:
        raise ValueError(f"network {name!r} already exists")
    world.networks[name] = model.Network(name=name, id=world.new_id(), created=world.stamp())
    return links.link(links.global_path(world.project, "networks", name))


def add_subnetwork(
    world: World, network: str, *, region: str, name: str, cidr: str, secondary: Mapping[str, str] | None = None
) -> str:
    if network not in world.networks:
        raise ValueError(f"no network {network!r}")
    if (region, name) in world.subnetworks:
        raise ValueError(f"subnetwork {name!r} already exists in {region}")
    primary = ipaddress.ip_network(cidr)
    extra = tuple((n, ipaddress.ip_network(c)) for n, c in (secondary or {}).items())
    taken = [(s.name, r) for s in world.subnets_of(network) for r in [s.cidr, *(c for _, c in s.secondary)]]
    for new in [primary, *(c for _, c in extra)]:
        for owner, old in taken:
            if new.overlaps(old):
                raise ValueError(f"{new} overlaps {old} of subnetwork {owner!r}")
    world.subnetworks[(region, name)] = model.Subnetwork(
        name=name,
        region=region,
        network=network,
        cidr=primary,
        secondary=extra,
        id=world.new_id(),
        created=world.stamp(),
    )
    return links.link(links.region_path(world.project, region, "subnetworks", name))


def add_instance(
    world: World,
    name: str,
    *,
    zone: str,
    network: str = "default",
    ip: str | None = None,
    labels: Mapping[str, str] | None = None,
    can_ip_forward: bool = False,
    status: str = "RUNNING",
) -> str:
    if (zone, name) in world.instances:
        raise ValueError(f"instance {name!r} already exists in {zone}")
    _check_status(status)
    subnet, address = _place(world, network, links.region_of(zone), ip)
    try:
        checked = api_instances.check_labels(dict(labels or {}))
    except errors.ApiError as exc:
        raise ValueError(exc.message) from None
    world.instances[(zone, name)] = model.Instance(
        name=name,
        zone=zone,
        network=network,
        subnetwork=subnet,
        ip=address,
        labels=MappingProxyType(checked),
        can_ip_forward=can_ip_forward,
        status=status,
        id=world.new_id(),
        created=world.stamp(),
    )
    world.zones.add(zone)
    return model.instance_link(world.project, zone, name)


def _place(world: World, network: str, region: str, ip: str | None) -> tuple[model.Subnetwork, str]:
    """The subnetwork an address falls in, or the next free address of the region's first subnetwork."""
    subnets = [s for s in world.subnets_of(network) if s.region == region]
    if not subnets:
        raise ValueError(f"network {network!r} has no subnetwork in region {region}")
    used = {i.ip for i in world.instances.values()}
    if ip is not None:
        for subnet in subnets:
            if ipaddress.ip_address(ip) in subnet.cidr:
                return subnet, ip
        raise ValueError(f"{ip} is in no subnetwork of {network!r} in {region}")
    # GCE reserves the network and gateway addresses (.0, .1) and the last two of each range.
    cidr = subnets[0].cidr
    hosts = (str(cidr.network_address + k) for k in range(2, cidr.num_addresses - 2))
    free = next((a for a in hosts if a not in used), None)
    if free is None:
        raise ValueError(f"subnetwork {subnets[0].name!r} is full")
    return subnets[0], free


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {sorted(STATUSES)}, not {status!r}")


def _existing(world: World, zone: str, name: str) -> model.Instance:
    instance = world.instances.get((zone, name))
    if instance is None:
        raise ValueError(f"no instance {name!r} in {zone}")
    return instance


def set_instance_status(world: World, zone: str, name: str, status: str) -> None:
    _check_status(status)
    current = _existing(world, zone, name)
    world.instances[(zone, name)] = dataclasses.replace(current, status=status, generation=current.generation + 1)


def delete_instance(world: World, zone: str, name: str) -> None:
    """The VM goes; routes through it stay, now warned NEXT_HOP_INSTANCE_NOT_FOUND, as in GCE."""
    _existing(world, zone, name)
    del world.instances[(zone, name)]


def add_route(
    world: World,
    *,
    name: str,
    dest_range: str,
    next_hop_instance: str | None = None,
    next_hop_gateway: str | None = None,
    next_hop_ip: str | None = None,
    description: str = "",
    priority: int = 1000,
    network: str = "default",
    tags: Iterable[str] = (),
) -> str:
    """Plant a route as if someone else had made it. Skips the quota and the subnet-range and next-hop
    existence checks, so a test can seed a route to a VM that is already gone."""
    if name in world.routes or name in world.pending_inserts:
        raise ValueError(f"route {name!r} already exists")
    body = {
        "name": name,
        "destRange": dest_range,
        "network": network if "/" in network else f"global/networks/{network}",
        "priority": priority,
        "description": description,
        "tags": list(tags),
        "nextHopInstance": _instance_ref(world, next_hop_instance),
        "nextHopGateway": next_hop_gateway
        and (next_hop_gateway if "/" in next_hop_gateway else f"global/gateways/{next_hop_gateway}"),
        "nextHopIp": next_hop_ip,
    }
    try:
        given = {k: v for k, v in body.items() if v not in (None, "", [])}
        route = api_routes.build_route(world, given, check_refs=False)
    except errors.ApiError as exc:
        raise ValueError(exc.message) from None
    world.routes[name] = route
    return links.link(links.global_path(world.project, "routes", name))


def remove_route(world: World, name: str) -> None:
    """Take a route away as someone else would (a person in the console), with no operation."""
    if name not in world.routes:
        raise ValueError(f"no route {name!r}")
    del world.routes[name]


def _instance_ref(world: World, value: str | None) -> str | None:
    """Accept a bare instance name too, when exactly one instance has it."""
    if value is None or "/" in value:
        return value
    zones = [zone for zone, name in world.instances if name == value]
    if len(zones) != 1:
        raise ValueError(f"cannot tell which instance {value!r} is; pass zones/ZONE/instances/{value}")
    return f"zones/{zones[0]}/instances/{value}"
