"""The permission mode: given a role's permission list, a call outside it gets GCE's 403.

Each Compute method needs IAM permissions on a resource (https://cloud.google.com/vpc/docs/audit-logging
and https://cloud.google.com/compute/docs/reference/rest/v1 list them per method); routes.insert needs
two, compute.routes.create and compute.networks.updatePolicy on the route's network. A missing one is
answered as GCE answers it: 403, reason "forbidden", "Required 'compute.routes.create' permission for
'projects/p/global/routes/r'" (the shape Google sends, e.g. hashicorp/terraform#18873). With no list
given (the default) every call is allowed, as for an owner.

Never here: HTTP, the world's state, or what a method does once allowed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cloudroutes.sim.gce import errors, links

Where = Callable[[Mapping[str, str], Any], str]
"""The resource a permission is checked on, from the path parameters and the JSON body."""


def _project(p: Mapping[str, str], _: Any) -> str:
    return links.project_path(p["project"])


def _zone(p: Mapping[str, str], _: Any) -> str:
    return links.zone_path(p["project"], p["zone"])


def _instance(p: Mapping[str, str], _: Any) -> str:
    return links.zone_path(p["project"], p["zone"], "instances", p["instance"])


def _route(p: Mapping[str, str], body: Any) -> str:
    name = p.get("route") or (body.get("name", "") if isinstance(body, dict) else "")
    return links.global_path(p["project"], "routes", name)


def _route_network(p: Mapping[str, str], body: Any) -> str:
    url = str(body.get("network", "")) if isinstance(body, dict) else ""
    ref = links.parse_network(url)
    return links.global_path(p["project"], "networks", ref.name if ref else url.rsplit("/", 1)[-1])


def _network(p: Mapping[str, str], _: Any) -> str:
    return links.global_path(p["project"], "networks", p["network"])


def _region(p: Mapping[str, str], _: Any) -> str:
    return links.region_path(p["project"], p["region"])


def _subnetwork(p: Mapping[str, str], _: Any) -> str:
    return links.region_path(p["project"], p["region"], "subnetworks", p["subnetwork"])


def _global_op(p: Mapping[str, str], _: Any) -> str:
    return links.global_path(p["project"], "operations", p["operation"])


def _zone_op(p: Mapping[str, str], _: Any) -> str:
    return links.zone_path(p["project"], p["zone"], "operations", p["operation"])


REQUIRED: dict[str, tuple[tuple[str, Where], ...]] = {
    # discovery method id -> (permission, the resource it is checked on), in the order GCE checks
    "projects.get": (("compute.projects.get", _project),),
    "routes.list": (("compute.routes.list", _project),),
    "routes.get": (("compute.routes.get", _route),),
    "routes.insert": (("compute.routes.create", _route), ("compute.networks.updatePolicy", _route_network)),
    "routes.delete": (("compute.routes.delete", _route),),
    "globalOperations.list": (("compute.globalOperations.list", _project),),
    "globalOperations.get": (("compute.globalOperations.get", _global_op),),
    "globalOperations.wait": (("compute.globalOperations.get", _global_op),),
    "zoneOperations.list": (("compute.zoneOperations.list", _zone),),
    "zoneOperations.get": (("compute.zoneOperations.get", _zone_op),),
    "zoneOperations.wait": (("compute.zoneOperations.get", _zone_op),),
    "instances.aggregatedList": (("compute.instances.list", _project),),
    "instances.list": (("compute.instances.list", _zone),),
    "instances.get": (("compute.instances.get", _instance),),
    "instances.update": (("compute.instances.update", _instance),),
    "instances.delete": (("compute.instances.delete", _instance),),
    "instances.setLabels": (("compute.instances.setLabels", _instance),),
    "networks.list": (("compute.networks.list", _project),),
    "networks.get": (("compute.networks.get", _network),),
    "subnetworks.list": (("compute.subnetworks.list", _region),),
    "subnetworks.get": (("compute.subnetworks.get", _subnetwork),),
    "subnetworks.aggregatedList": (("compute.subnetworks.list", _project),),
}


def forbidden(permission: str, resource: str) -> errors.ApiError:
    return errors.ApiError(403, "forbidden", f"Required '{permission}' permission for '{resource}'")


class Permissions:
    """Thread-safe: the server checks from many threads while a test changes the grant."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._granted: frozenset[str] | None = None

    def grant(self, permissions: Iterable[str] | None) -> None:
        """Only these permissions from now on (None: every call allowed again)."""
        with self._lock:
            self._granted = None if permissions is None else frozenset(permissions)

    @property
    def granted(self) -> frozenset[str] | None:
        with self._lock:
            return self._granted

    def check(self, method_id: str, params: Mapping[str, str], body: Any) -> None:
        granted = self.granted
        if granted is None:
            return
        for permission, where in REQUIRED[method_id]:
            if permission not in granted:
                raise forbidden(permission, where(params, body))
