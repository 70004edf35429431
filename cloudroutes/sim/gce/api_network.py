"""Read-only calls: projects.get, networks.list/get, subnetworks.list/get/aggregatedList."""

from __future__ import annotations

from typing import Any

from cloudroutes.sim.gce import errors, links, model, paging
from cloudroutes.sim.gce.request import Request
from cloudroutes.sim.gce.state import World


def get_project(world: World, req: Request) -> dict[str, Any]:
    return model.render_project(world.project, world.project_id, world.created, world.quotas())


def _render_network(world: World, network: model.Network) -> dict[str, Any]:
    return model.render_network(world.project, network, world.subnets_of(network.name))


def list_networks(world: World, req: Request) -> dict[str, Any]:
    rendered = [_render_network(world, n) for n in world.networks.values()]
    items, token = paging.select(rendered, req.query, fields=model.NETWORK_FIELDS, key=lambda r: (r["name"],))
    path = f"projects/{world.project}/global/networks"
    return paging.list_body("compute#networkList", links.link(path), path, items, token)


def get_network(world: World, req: Request) -> dict[str, Any]:
    network = world.networks.get(req.params["network"])
    if network is None:
        raise errors.not_found(links.global_path(world.project, "networks", req.params["network"]))
    return _render_network(world, network)


def _region_key(rendered: dict[str, Any]) -> tuple[str, str]:
    return (rendered["region"].rsplit("/", 1)[-1], rendered["name"])


def list_subnetworks(world: World, req: Request) -> dict[str, Any]:
    region = req.params["region"]
    rendered = [model.render_subnetwork(world.project, s) for s in world.subnetworks.values() if s.region == region]
    items, token = paging.select(rendered, req.query, fields=model.SUBNETWORK_FIELDS, key=_region_key)
    path = links.region_path(world.project, region) + "/subnetworks"
    return paging.list_body("compute#subnetworkList", links.link(path), path, items, token)


def get_subnetwork(world: World, req: Request) -> dict[str, Any]:
    region, name = req.params["region"], req.params["subnetwork"]
    subnet = world.subnetworks.get((region, name))
    if subnet is None:
        raise errors.not_found(links.region_path(world.project, region, "subnetworks", name))
    return model.render_subnetwork(world.project, subnet)


def aggregated_subnetworks(world: World, req: Request) -> dict[str, Any]:
    rendered = [model.render_subnetwork(world.project, s) for s in world.subnetworks.values()]
    page, token = paging.select(rendered, req.query, fields=model.SUBNETWORK_FIELDS, key=_region_key)
    items: dict[str, Any] = {}
    for region in world.known_regions():
        found = [s for s in page if _region_key(s)[0] == region]
        scope = f"regions/{region}"
        items[scope] = {"subnetworks": found} if found else {"warning": paging.no_results(scope)}
    path = f"projects/{world.project}/aggregated/subnetworks"
    body = {"kind": "compute#subnetworkAggregatedList", "id": path, "items": items, "selfLink": links.link(path)}
    if token:
        body["nextPageToken"] = token
    return body
