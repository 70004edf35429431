"""The REST surface: (HTTP method, path template) → discovery method id and handler."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudroutes.sim.gce import api_instances, api_network, api_operations, api_routes, errors
from cloudroutes.sim.gce.request import Request
from cloudroutes.sim.gce.state import World

Handler = Callable[[World, Request], dict[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    http_method: str
    template: str  # e.g. /compute/v1/projects/{project}/global/routes/{route}
    method_id: str
    handler: Handler
    # A blocking handler manages the lock itself (operations.wait sleeps without holding it).
    blocking: bool = False
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        object.__setattr__(self, "pattern", re.compile(regex))

    @property
    def is_write(self) -> bool:
        """Mutating calls: the ones rate limits count. Waiting on an operation mutates nothing."""
        return self.http_method != "GET" and not self.method_id.endswith(".wait")


_P = "/compute/v1/projects/{project}"
_GLOBAL_OP = _P + "/global/operations/{operation}"
_ZONE_OP = _P + "/zones/{zone}/operations/{operation}"
_INSTANCE = _P + "/zones/{zone}/instances/{instance}"
_SUBNET = _P + "/regions/{region}/subnetworks/{subnetwork}"


def _endpoint(http_method: str, template: str, method_id: str, handler: Handler, blocking: bool = False) -> Endpoint:
    return Endpoint(http_method=http_method, template=template, method_id=method_id, handler=handler, blocking=blocking)


ENDPOINTS: tuple[Endpoint, ...] = (
    _endpoint("GET", _P, "projects.get", api_network.get_project),
    _endpoint("GET", _P + "/global/routes", "routes.list", api_routes.list_routes),
    _endpoint("POST", _P + "/global/routes", "routes.insert", api_routes.insert_route),
    _endpoint("GET", _P + "/global/routes/{route}", "routes.get", api_routes.get_route),
    _endpoint("DELETE", _P + "/global/routes/{route}", "routes.delete", api_routes.delete_route),
    _endpoint("GET", _P + "/global/operations", "globalOperations.list", api_operations.list_operations),
    _endpoint("GET", _GLOBAL_OP, "globalOperations.get", api_operations.get_operation),
    _endpoint("POST", _GLOBAL_OP + "/wait", "globalOperations.wait", api_operations.wait_operation, True),
    _endpoint("GET", _P + "/zones/{zone}/operations", "zoneOperations.list", api_operations.list_operations),
    _endpoint("GET", _ZONE_OP, "zoneOperations.get", api_operations.get_operation),
    _endpoint("POST", _ZONE_OP + "/wait", "zoneOperations.wait", api_operations.wait_operation, True),
    _endpoint("GET", _P + "/aggregated/instances", "instances.aggregatedList", api_instances.aggregated_list),
    _endpoint("GET", _P + "/zones/{zone}/instances", "instances.list", api_instances.list_instances),
    _endpoint("GET", _INSTANCE, "instances.get", api_instances.get_instance),
    _endpoint("PUT", _INSTANCE, "instances.update", api_instances.update_instance),
    _endpoint("DELETE", _INSTANCE, "instances.delete", api_instances.delete_instance),
    _endpoint("POST", _INSTANCE + "/setLabels", "instances.setLabels", api_instances.set_labels),
    _endpoint("GET", _P + "/global/networks", "networks.list", api_network.list_networks),
    _endpoint("GET", _P + "/global/networks/{network}", "networks.get", api_network.get_network),
    _endpoint("GET", _P + "/regions/{region}/subnetworks", "subnetworks.list", api_network.list_subnetworks),
    _endpoint("GET", _SUBNET, "subnetworks.get", api_network.get_subnetwork),
    _endpoint("GET", _P + "/aggregated/subnetworks", "subnetworks.aggregatedList", api_network.aggregated_subnetworks),
)


def match(http_method: str, path: str) -> tuple[Endpoint, Mapping[str, str]]:
    for endpoint in ENDPOINTS:
        if endpoint.http_method == http_method and (found := endpoint.pattern.fullmatch(path)):
            return endpoint, found.groupdict()
    raise errors.unknown_url(http_method, path)
