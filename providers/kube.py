"""Kubernetes Node objects as a second ledger: the contract, its values, and the adapter's flow.

Kubernetes reads a node's pod subnet from `spec.podCIDR(s)` (kubenet, the bridge/host-local CNI,
flannel's kube subnet manager, Calico) and keeps pods off a node whose `NetworkUnavailable` condition
is True. `[kubernetes] mode = "publish"` tells the Node what cloudroutes assigned; `"adopt"` takes the
Node's podCIDRs (kube-controller-manager --allocate-node-cidrs) as the assignment. Either way the route
controller's condition is written once a node's routes are in place, so cloudroutes can stand in for it.

The adapter decides nothing about subnets: it reads Nodes, writes what it is told, and refuses only
what the API server would refuse anyway (a podCIDR, once set, never changes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import ip_network
from typing import TYPE_CHECKING, Any, Protocol

from cloudroutes import errors
from cloudroutes.model import IPNetwork
from cloudroutes.providers.base import ApiError
from cloudroutes.providers.kube_api import MERGE_PATCH, STRATEGIC_PATCH, KubeApi, resolve
from cloudroutes.ratelimit import TokenBucket

NETWORK_UNAVAILABLE = "NetworkUnavailable"
# (status, reason, message) exactly as k8s.io/cloud-provider's route controller writes them
# (controllers/route/route_controller.go, updateNetworkingCondition).
ROUTES_CREATED = ("False", "RouteCreated", "RouteController created a route")
ROUTES_MISSING = ("True", "NoRouteCreated", "RouteController failed to create a route")

PAGE_SIZE = 500
WRITE_BURST, WRITE_RATE = 10, 5.0
"""client-go's default client-side limit (burst 10, 5 per second): the API server's fair share for one
controller, kept here for writes so a large first publish does not crowd out the kubelets."""

_AWS_ID = re.compile(r"aws://(?:/(?P<zone>[^/]*))?/(?P<instance>i-[^/]+)")
_GCE_ID = re.compile(r"gce://(?P<project>[^/]+)/(?P<zone>[^/]+)/(?P<instance>[^/]+)")


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeCondition:
    status: str
    """"True", "False" or "Unknown", as the API spells it."""
    reason: str = ""
    message: str = ""
    last_transition_time: datetime | None = None
    last_heartbeat_time: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class KubeNode:
    name: str
    provider_id: str
    """spec.providerID: aws:///<zone>/<instance-id> or gce://<project>/<zone>/<name>; "" before the
    cloud controller fills it in. `instance_of` reads it."""
    pod_cidrs: tuple[IPNetwork, ...]
    """spec.podCIDRs (spec.podCIDR on servers that predate the list): at most one per family."""
    network_unavailable: NodeCondition | None
    resource_version: str
    """What the node's writes name as their precondition: a stale one is a Conflict."""


class NodeLedger(Protocol):
    """The Kubernetes side, as the engine sees it: one read, two writes, cloudroutes' error kinds."""

    def list_nodes(self) -> tuple[KubeNode, ...]:
        """Every Node (of the selector), from one paginated list: a consistent snapshot."""
        ...

    def publish_pod_cidrs(self, node: KubeNode, cidrs: Sequence[IPNetwork]) -> None:
        """Set spec.podCIDR and spec.podCIDRs on a Node that has none, guarded by its resourceVersion.
        Raises Conflict when the Node changed since it was read or already holds other podCIDRs (the
        API server lets them change only from empty); nothing is written then."""
        ...

    def set_network_unavailable(self, node: KubeNode, unavailable: bool) -> None:
        """Write the NetworkUnavailable condition as the route controller does; other conditions stay."""
        ...

    @property
    def api_calls(self) -> Mapping[str, int]:
        """Kubernetes API calls made so far, by operation (nodes.list counts pages)."""
        ...

    @property
    def api_errors(self) -> Mapping[ApiError, int]:
        """Those of `api_calls` that failed, by operation and code."""
        ...


def instance_of(provider_id: str) -> tuple[str, str, str] | None:
    """(cloud, zone, instance) of a Node's spec.providerID: ("aws", zone, instance id) from
    aws:///<zone>/<id> (the zone may be empty: aws:////<id>), ("gce", zone, name) from
    gce://<project>/<zone>/<name>. None for anything else (another cloud, not yet set, malformed):
    such a Node has no VM here."""
    if found := _AWS_ID.fullmatch(provider_id):
        return "aws", found.group("zone") or "", found.group("instance")
    if found := _GCE_ID.fullmatch(provider_id):
        return "gce", found.group("zone"), found.group("instance")
    return None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _stamp(moment: datetime) -> str:
    """metav1.Time on the wire: RFC 3339, UTC, whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(raw: Mapping[str, Any]) -> NodeCondition:
    return NodeCondition(
        status=str(raw.get("status", "")),
        reason=str(raw.get("reason", "")),
        message=str(raw.get("message", "")),
        last_transition_time=_time(raw.get("lastTransitionTime")),
        last_heartbeat_time=_time(raw.get("lastHeartbeatTime")),
    )


def parse_node(item: Mapping[str, Any]) -> KubeNode:
    """A Node's JSON, as list and get return it, to the value the engine reads."""
    meta, spec, status = item.get("metadata", {}), item.get("spec", {}), item.get("status", {})
    name = str(meta.get("name", ""))
    raw = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
    try:
        cidrs = tuple(ip_network(c, strict=False) for c in raw)
    except (TypeError, ValueError) as exc:
        raise errors.Invalid(f"node {name}: podCIDRs {raw} are not CIDRs: {exc}", code="InvalidPodCIDR") from exc
    condition = next((c for c in status.get("conditions") or [] if c.get("type") == NETWORK_UNAVAILABLE), None)
    return KubeNode(
        name=name,
        provider_id=str(spec.get("providerID", "")),
        pod_cidrs=cidrs,
        network_unavailable=None if condition is None else _condition(condition),
        resource_version=str(meta.get("resourceVersion", "")),
    )


def _check_families(cidrs: Sequence[IPNetwork]) -> None:
    """What the API server's validation would refuse, refused before any call (a caller's bug)."""
    families = [c.version for c in cidrs]
    if not cidrs or len(families) != len(set(families)):
        raise ValueError(f"podCIDRs need one CIDR and at most one per IP family, not {[str(c) for c in cidrs]}")


class KubeNodes:
    """The NodeLedger over a Kubernetes API server, reached as kubectl would reach it."""

    def __init__(
        self,
        *,
        kubeconfig: str = "",
        context: str = "",
        label_selector: str = "",
        page_size: int = PAGE_SIZE,
        writes: TokenBucket | None = None,
        api: KubeApi | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """`kubeconfig`/`context`: "" for kubectl's defaults. `writes`: the bucket every write spends
        from (client-go's 10 burst, 5/s by default). Raises ConfigError when no credentials are found."""
        if api is None:
            config, source = resolve(kubeconfig, context)
            bucket = writes or TokenBucket(burst=WRITE_BURST, rate=WRITE_RATE)
            api = KubeApi(config, writes=bucket, source=source)
        self._api = api
        self._selector = label_selector
        self._page_size = page_size
        self._clock = clock

    @property
    def api_calls(self) -> Mapping[str, int]:
        return dict(self._api.calls)

    @property
    def api_errors(self) -> Mapping[ApiError, int]:
        return dict(self._api.errors)

    def close(self) -> None:
        self._api.close()

    def list_nodes(self) -> tuple[KubeNode, ...]:
        nodes: list[KubeNode] = []
        token = ""
        while True:
            page = self._api.list_page(limit=self._page_size, token=token, selector=self._selector)
            nodes.extend(parse_node(item) for item in page.get("items") or [])
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return tuple(nodes)

    def publish_pod_cidrs(self, node: KubeNode, cidrs: Sequence[IPNetwork]) -> None:
        wanted = tuple(cidrs)
        _check_families(wanted)
        if node.pod_cidrs:
            if set(node.pod_cidrs) == set(wanted):
                return  # already told: nothing to write
            raise errors.Conflict(_held_message(node.name, node.pod_cidrs, wanted), code="PodCIDRHeld")
        body: dict[str, Any] = {"spec": {"podCIDR": str(wanted[0]), "podCIDRs": [str(c) for c in wanted]}}
        if node.resource_version:
            body["metadata"] = {"resourceVersion": node.resource_version}
        try:
            # A merge patch: the lists become exactly these (a strategic merge would union them).
            self._api.patch(node.name, body, media_type=MERGE_PATCH)
        except errors.Conflict as exc:
            raise errors.Conflict(
                f"node {node.name} changed since it was read (resourceVersion {node.resource_version}):"
                f" read it again and decide again ({exc})",
                code=exc.code,
            ) from exc
        except errors.Invalid as exc:
            if "podCIDR" not in str(exc):
                raise
            # The API server's 422 for a podCIDR that is no longer empty: name what the Node holds now.
            raise errors.Conflict(_held_message(node.name, self._held(node.name), wanted), code=exc.code) from exc

    def _held(self, name: str) -> tuple[IPNetwork, ...]:
        try:
            return parse_node(self._api.get(name)).pod_cidrs
        except errors.CloudError:
            return ()

    def set_network_unavailable(self, node: KubeNode, unavailable: bool) -> None:
        status, reason, message = ROUTES_MISSING if unavailable else ROUTES_CREATED
        current = node.network_unavailable
        if current is not None and (current.status, current.reason) == (status, reason):
            return  # the route controller skips a write that would change nothing but the times
        now = _stamp(self._clock())
        condition = {
            "type": NETWORK_UNAVAILABLE,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": now,
            "lastHeartbeatTime": now,
        }
        # Strategic merge on the status subresource, like the route controller's PatchStatus: conditions
        # merge by type, so the kubelet's and the CNI's stay as they are. No resourceVersion: kubelets
        # rewrite node status every few seconds, and the merge cannot lose their changes anyway.
        self._api.patch(node.name, {"status": {"conditions": [condition]}}, media_type=STRATEGIC_PATCH, status=True)


def _held_message(name: str, held: Sequence[IPNetwork], wanted: Sequence[IPNetwork]) -> str:
    holds = ", ".join(map(str, held)) or "another podCIDR"
    return (
        f"node {name} already holds podCIDR {holds}, not {', '.join(map(str, wanted))}: the API server lets"
        " a podCIDR change only from empty, so it is left as it is"
    )


if TYPE_CHECKING:

    def _is_a_node_ledger(nodes: KubeNodes) -> NodeLedger:
        return nodes  # mypy proves here that KubeNodes keeps the contract
