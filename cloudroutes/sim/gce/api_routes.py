"""routes.insert, routes.delete, routes.get, routes.list.

Routes are immutable in GCE (no update), unique by name, and limited by the project's ROUTES quota.
Validation happens at request time and answers with a synchronous 4xx, as GCE does for malformed input.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from functools import partial
from typing import Any

from cloudroutes.sim.gce import errors, links, model, paging, state
from cloudroutes.sim.gce.request import Request
from cloudroutes.sim.gce.state import World

_NAME = re.compile(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?")
# Output-only fields are accepted and ignored on input, as GCE does; anything else unknown is a 400.
_INPUT_FIELDS = model.ROUTE_FIELDS | {"asPaths", "nextHopHub", "nextHopPeering", "params"}
_UNSUPPORTED_HOPS = ("nextHopIlb", "nextHopVpnTunnel", "nextHopNetwork")
_HOPS = ("nextHopInstance", "nextHopGateway", "nextHopIp", *_UNSUPPORTED_HOPS)
_GATEWAY = "default-internet-gateway"


def build_route(world: World, body: Mapping[str, Any], *, check_refs: bool = True) -> model.Route:
    """Validate an insert body into a record. `check_refs=False` (seeding only) skips the checks
    against the instance and subnetwork ranges, so tests can plant routes GCE would now refuse."""
    if unknown := sorted(set(body) - _INPUT_FIELDS):
        raise errors.ApiError(
            400, "invalid", f"Invalid JSON payload received. Unknown name \"{unknown[0]}\" at 'resource'."
        )
    name = _string(body, "name")
    if not _NAME.fullmatch(name):
        raise errors.invalid_value("resource.name", name, f"Must be a match of regex '(?:{_NAME.pattern})'")
    network = _network(world, body)
    dest = _dest_range(world, body, network, check_refs)
    description = body.get("description", "")
    tags = body.get("tags", [])
    if not isinstance(description, str):
        raise errors.invalid_value("resource.description", description, "Must be a string.")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise errors.invalid_value("resource.tags", tags, "Must be a list of strings.")
    return model.Route(
        name=name,
        network=network,
        dest_range=str(dest),
        priority=_priority(body),
        id=world.new_id(),
        created=world.stamp(),
        description=description,
        tags=tuple(tags),
        **_next_hop(world, body, check_refs),
    )


def _string(body: Mapping[str, Any], field: str) -> str:
    value = body.get(field)
    if value is None or value == "":
        raise errors.required(f"resource.{field}")
    if not isinstance(value, str):
        raise errors.invalid_value(f"resource.{field}", value, "Must be a string.")
    return value


def _network(world: World, body: Mapping[str, Any]) -> str:
    value = _string(body, "network")
    ref = links.parse_network(value)
    if ref is None:
        raise errors.invalid_value("resource.network", value, "The URL is malformed.")
    project = ref.project or world.project
    if project != world.project or ref.name not in world.networks:
        raise errors.not_found(links.global_path(project, "networks", ref.name))
    return ref.name


def _dest_range(world: World, body: Mapping[str, Any], network: str, check_refs: bool) -> model.IPNetwork:
    value = _string(body, "destRange")
    field = "resource.destRange"
    try:
        dest = ipaddress.ip_network(value) if "/" in value else None
    except ValueError:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            dest = None
        else:
            raise errors.invalid_value(field, value, "The CIDR range has host bits set; it must be canonical.")
    if dest is None:
        raise errors.invalid_value(field, value, "Must be a valid IPv4 or IPv6 CIDR range.")
    if not check_refs:
        return dest
    # GCE refuses a static route equal to or inside a subnet range ("hides" it); a broader one is fine.
    for subnet in world.subnets_of(network):
        ranges = [("", subnet.cidr)] + [(f" secondary range '{n}'", c) for n, c in subnet.secondary]
        for label, cidr in ranges:
            if dest.version == cidr.version and dest.subnet_of(cidr):  # type: ignore[arg-type]
                why = f"{value} hides the address space of the network's subnetwork '{subnet.name}'{label} ({cidr})."
                raise errors.invalid_value(field, value, why)
    return dest


def _next_hop(world: World, body: Mapping[str, Any], check_refs: bool) -> dict[str, str]:
    given = [hop for hop in _HOPS if body.get(hop)]
    if len(given) != 1:
        why = "Exactly one of nextHopInstance, nextHopGateway, nextHopIp must be specified."
        raise errors.invalid_value("resource.nextHop", ",".join(given), why)
    hop = given[0]
    value = body[hop]
    if hop in _UNSUPPORTED_HOPS or not isinstance(value, str):
        raise errors.bad_request(f"{hop} is not supported by the emulator.")
    if hop == "nextHopIp":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise errors.invalid_value("resource.nextHopIp", value, "Must be an IP address.") from None
        return {"next_hop_ip": value}
    parse = links.parse_instance if hop == "nextHopInstance" else links.parse_gateway
    ref = parse(value)
    if ref is None:
        raise errors.invalid_value(f"resource.{hop}", value, "The URL is malformed.")
    project = ref.project or world.project
    if hop == "nextHopGateway":
        if project != world.project or ref.name != _GATEWAY:
            raise errors.not_found(links.global_path(project, "gateways", ref.name))
        return {"next_hop_gateway": links.link(links.global_path(project, "gateways", ref.name))}
    # A next hop that does not exist is a synchronous 404, the answer GCE gives for any missing
    # referenced resource; an instance deleted later leaves the route with a warning instead.
    missing = project != world.project or (ref.scope, ref.name) not in world.instances
    if check_refs and missing:
        raise errors.not_found(links.zone_path(project, ref.scope, "instances", ref.name))
    return {"next_hop_instance": model.instance_link(project, ref.scope, ref.name)}


def _priority(body: Mapping[str, Any]) -> int:
    value = body.get("priority", 1000)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise errors.invalid_value("resource.priority", value, "Must be an integer between 0 and 65535.")
    return value


def insert_route(world: World, req: Request) -> dict[str, Any]:
    rid = state.request_id(dict(req.query))
    if (replayed := world.replay(req.method_id, rid)) is not None:
        return replayed
    route = build_route(world, req.body or {})
    path = links.global_path(world.project, "routes", route.name)
    # Both checks count inserts still in flight: two racing inserts of one name get one 409.
    if route.name in world.routes or route.name in world.pending_inserts:
        raise errors.already_exists(path)
    if len(world.routes) + len(world.pending_inserts) >= world.routes_quota:
        raise errors.quota_exceeded("ROUTES", world.routes_quota)
    world.pending_inserts.add(route.name)
    return world.start_operation(
        method_id=req.method_id,
        kind="insert",
        target_path=path,
        target_id=route.id,
        apply=partial(world.routes.__setitem__, route.name, route),
        release=partial(world.pending_inserts.discard, route.name),
        request_id=rid,
    )


def delete_route(world: World, req: Request) -> dict[str, Any]:
    rid = state.request_id(dict(req.query))
    if (replayed := world.replay(req.method_id, rid)) is not None:
        return replayed
    name = req.params["route"]
    path = links.global_path(world.project, "routes", name)
    route = world.routes.get(name)
    if route is None and name not in world.pending_inserts:
        raise errors.not_found(path)
    # A route whose insert or delete is still running cannot be deleted yet (GCE: resourceNotReady).
    if route is None or name in world.pending_deletes:
        raise errors.not_ready(path)
    world.pending_deletes.add(name)
    return world.start_operation(
        method_id=req.method_id,
        kind="delete",
        target_path=path,
        target_id=route.id,
        apply=partial(world.routes.pop, name, None),
        release=partial(world.pending_deletes.discard, name),
        request_id=rid,
    )


def get_route(world: World, req: Request) -> dict[str, Any]:
    name = req.params["route"]
    route = world.routes.get(name)
    if route is None:
        raise errors.not_found(links.global_path(world.project, "routes", name))
    return world.render_route(route)


def list_routes(world: World, req: Request) -> dict[str, Any]:
    by_link = world.instances_by_link()
    rendered = [world.render_route(r, by_link) for r in world.routes.values()]
    items, token = paging.select(rendered, req.query, fields=model.ROUTE_FIELDS, key=lambda r: (r["name"],))
    path = f"projects/{world.project}/global/routes"
    return paging.list_body("compute#routeList", links.link(path), path, items, token)
