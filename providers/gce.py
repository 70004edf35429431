"""GCE: one route per node subnet in the VPC network, next hop = the node's instance.

The adapter's flow. observe() reads the project quota, the network, its subnet ranges, every
node in one aggregated list and every route of the network in one filtered list, whatever the
cluster size: no per-node instances.get, no per-zone probing. Routes are immutable, so moving a
subnet is delete (wait) then insert; names are derived from the destination (gce_names), so a
409 on insert means someone holds that subnet: we read that route and compare, never assume.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from ipaddress import ip_address, ip_network
from typing import Any

from cloudroutes.config import Config
from cloudroutes.errors import ConfigError, Conflict, Invalid, NotFound, PreflightError, Transient
from cloudroutes.model import Action, ActionKind, Node, NodeName, NodeState, Observed, Route, Table, TableKey
from cloudroutes.providers import gce_names as names
from cloudroutes.providers.gce_api import PAGE_SIZE, ComputeApi
from cloudroutes.providers.gce_errors import operation_error

_STATES = {"RUNNING": NodeState.RUNNING, "PROVISIONING": NodeState.PENDING, "STAGING": NodeState.PENDING}
_GONE = frozenset({"NEXT_HOP_INSTANCE_NOT_FOUND", "NEXT_HOP_NOT_RUNNING"})
QUOTA_HINT = "the project's ROUTES quota (compute.googleapis.com/routes)"


def _base(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


class GceProvider:
    def __init__(self, config: Config, api: ComputeApi | None = None) -> None:
        if not config.gce.project:
            raise ConfigError("gce.project is required (env CLOUDROUTES_GCE_PROJECT)")
        self._config = config
        self._gce = config.gce
        self._cluster = config.cluster.name
        self._api = api or ComputeApi(
            config.gce.project,
            config.gce.endpoint,
            poll_burst=self._gce.op_poll_burst,
            poll_rate=self._gce.op_poll_rate,
        )
        self._selector = dict(config.gce.node_labels) or {names.CLUSTER_LABEL: self._cluster}
        self._instances: dict[NodeName, Any] = {}
        self._network_url = ""
        self._request_ids: dict[tuple[Action, str], str] = {}

    @property
    def api_calls(self) -> Mapping[str, int]:
        return dict(self._api.calls)

    # -- observe ---------------------------------------------------------------------------

    def observe(self) -> Observed:
        before = dict(self._api.calls)
        limit, usage = self._quota()
        self._network_url = self._network()
        occupied = self._subnet_ranges()
        instances = self._nodes()
        self._instances = _by_name(instances)
        raw_routes = self._routes()
        routes = tuple(self._route(r) for r in raw_routes if r.dest_range)
        others = usage - len(raw_routes)  # routes of other networks in the project use the same quota
        table = Table(
            key=TableKey(self._gce.network),
            routes=routes,
            limit=None if limit is None else max(0, int(limit - others)),
            quota_hint=QUOTA_HINT,
        )
        calls = {op: n - before.get(op, 0) for op, n in self._api.calls.items() if n > before.get(op, 0)}
        return Observed(nodes=tuple(_node(i) for i in instances), tables=(table,), occupied=occupied, api_calls=calls)

    def _quota(self) -> tuple[float | None, float]:
        try:
            project = self._api.call("projects.get", self._api.projects.get, project=self._api.project)
        except NotFound:
            raise PreflightError(f"project {self._api.project} not found") from None
        quota = next((q for q in project.quotas if q.metric == "ROUTES"), None)
        return (quota.limit, quota.usage) if quota else (None, 0.0)

    def _network(self) -> str:
        try:
            network = self._api.call(
                "networks.get", self._api.networks.get, project=self._api.project, network=self._gce.network
            )
        except NotFound:
            raise PreflightError(f"network {self._gce.network} not found in project {self._api.project}") from None
        return str(network.self_link)

    def _subnet_ranges(self) -> tuple[Any, ...]:
        ranges = []
        request = {"project": self._api.project, "max_results": PAGE_SIZE}
        for page in self._api.pages(
            "subnetworks.aggregatedList", self._api.subnetworks.aggregated_list, request=request
        ):
            for scoped in page.items.values():
                for subnet in scoped.subnetworks:
                    if _base(subnet.network) == self._gce.network:
                        ranges.append(ip_network(subnet.ip_cidr_range))
                        ranges += [ip_network(s.ip_cidr_range) for s in subnet.secondary_ip_ranges]
        return tuple(ranges)

    def _nodes(self) -> list[Any]:
        selector = " AND ".join(f'labels.{k} = "{v}"' for k, v in sorted(self._selector.items()))
        request = {"project": self._api.project, "filter": selector, "max_results": PAGE_SIZE}
        found = []
        for page in self._api.pages("instances.aggregatedList", self._api.instances.aggregated_list, request=request):
            for scoped in page.items.values():
                found += [i for i in scoped.instances if self._selected(i)]
        return found

    def _selected(self, instance: Any) -> bool:
        nics = list(instance.network_interfaces)
        in_network = bool(nics) and _base(nics[0].network) == self._gce.network
        in_zone = not self._gce.zones or _base(instance.zone) in self._gce.zones
        return in_network and in_zone  # a stopped VM (TERMINATED) is still a node: it keeps its subnet

    def _routes(self) -> list[Any]:
        request = {"project": self._api.project, "filter": f'network = "{self._network_url}"', "max_results": PAGE_SIZE}
        pages = self._api.pages("routes.list", self._api.routes.list, request=request)
        return [r for page in pages for r in page.items if _base(r.network) == self._gce.network]

    def _route(self, raw: Any) -> Route:
        node = None
        if raw.next_hop_instance:
            zone, name = _zone_and_name(raw.next_hop_instance)
            instance = self._instances.get(NodeName(name))
            node = NodeName(name) if instance is not None and _base(instance.zone) == zone else None
        hop = raw.next_hop_instance or raw.next_hop_gateway or raw.next_hop_ip or raw.next_hop_network or ""
        return Route(
            table=TableKey(self._gce.network),
            destination=ip_network(raw.dest_range),
            node=node,
            to_vm=bool(raw.next_hop_instance),
            marked=names.is_marked(raw.name, raw.description, self._cluster),
            blackhole=any(w.code in _GONE for w in raw.warnings) if raw.warnings else False,
            hop="/".join(hop.split("/")[-4:]) if raw.next_hop_instance else _base(hop),
            ref=raw.name,
        )

    # -- execute ---------------------------------------------------------------------------

    def execute(self, action: Action) -> None:
        match action.kind:
            case ActionKind.CLAIM | ActionKind.UNCLAIM:
                self._label(action)
            case ActionKind.ENABLE_FORWARDING:
                self._forward(action)
            case ActionKind.CREATE:
                self._insert(action)
            case ActionKind.REPLACE:
                # Routes are immutable and the name follows the destination: the old route must be
                # gone before the new one can take its name.
                self._delete(action, missing_ok=True)
                self._insert(action)
            case ActionKind.DELETE:
                self._delete(action)

    def _request_id(self, action: Action, step: str) -> str:
        """One id per action and step, reused by its retries: GCE runs a replayed request once."""
        return self._request_ids.setdefault((action, step), str(uuid.uuid4()))

    def _run(self, action: Action, step: str, method: Any, request_type: str, *, zone: str = "", **fields: Any) -> None:
        from google.cloud import compute_v1

        zonal = {"zone": zone} if zone else {}
        request = getattr(compute_v1, request_type)(**fields, **zonal, request_id=self._request_id(action, step))
        operation = self._api.call(step, method, request=request)
        # A failed wait call leaves the operation running: the retry replays it under the same id.
        failure = operation_error(self._api.wait(operation, zone=zone))
        if failure is not None:
            # The operation itself failed: a replay of its request id would only return that failure,
            # whether the executor retries this action now or a later round plans it again.
            self._request_ids.pop((action, step), None)
            raise failure

    def _instance(self, action: Action) -> Any:
        instance = self._instances.get(action.node) if action.node else None
        if instance is None:
            raise Conflict(f"{action.node} is not in the last snapshot")
        return instance

    def _label(self, action: Action) -> None:
        from google.cloud import compute_v1

        instance = self._instance(action)
        labels = {k: v for k, v in instance.labels.items() if k not in (names.CIDR_LABEL, names.CIDR_LABEL_V6)}
        labels |= {names.label_key(s): names.label_value(s) for s in action.subnets}
        body = compute_v1.InstancesSetLabelsRequest(labels=labels, label_fingerprint=instance.label_fingerprint)
        zone = _base(instance.zone)
        self._run(
            action,
            "instances.setLabels",
            self._api.instances.set_labels_unary,
            "SetLabelsInstanceRequest",
            zone=zone,
            project=self._api.project,
            instance=instance.name,
            instances_set_labels_request_resource=body,
        )

    def _forward(self, action: Action) -> None:
        if not self._gce.fix_forwarding:
            raise Invalid(f"{action.node}: canIpForward is off and fix_forwarding is false")
        current = self._instance(action)
        # instances.update is a PUT of the whole resource: send what we read, fingerprint included,
        # so a change made since then is refused (412) instead of overwritten.
        instance = type(current).deserialize(type(current).serialize(current))
        instance.can_ip_forward = True
        zone = _base(instance.zone)
        self._run(
            action,
            "instances.update",
            self._api.instances.update_unary,
            "UpdateInstanceRequest",
            zone=zone,
            project=self._api.project,
            instance=instance.name,
            instance_resource=instance,
        )

    def _insert(self, action: Action) -> None:
        from google.cloud import compute_v1

        assert action.destination is not None
        instance = self._instance(action)
        name = names.route_name(self._cluster, action.destination)
        route = compute_v1.Route(
            name=name,
            network=self._network_url,
            dest_range=str(action.destination),
            next_hop_instance=f"projects/{self._api.project}/zones/{_base(instance.zone)}/instances/{instance.name}",
            priority=self._gce.priority,
            description=names.marker(self._cluster),
        )
        try:
            self._run(
                action,
                "routes.insert",
                self._api.routes.insert_unary,
                "InsertRouteRequest",
                project=self._api.project,
                route_resource=route,
            )
        except Conflict:
            self._settle_conflict(name, route)

    def _settle_conflict(self, name: str, wanted: Any) -> None:
        """409 on our deterministic name: done only if the route there is the one we wanted."""
        try:
            existing = self._api.call("routes.get", self._api.routes.get, project=self._api.project, route=name)
        except NotFound:
            # The name is taken by an insert still in flight (another run's), or the route went
            # between the 409 and the read: neither same nor different yet, so try the insert again.
            raise Transient(f"route {name} is held by an unfinished insert or delete") from None
        same_hop = existing.next_hop_instance.endswith(
            wanted.next_hop_instance.split("projects/", 1)[-1].split("/", 1)[-1]
        )
        if existing.dest_range == wanted.dest_range and same_hop:
            return
        raise Conflict(
            f"route {name} exists with {existing.dest_range} -> {_base(existing.next_hop_instance) or 'another hop'}"
        )

    def _delete(self, action: Action, *, missing_ok: bool = False) -> None:
        assert action.destination is not None
        name = action.ref or names.route_name(self._cluster, action.destination)
        try:
            self._run(
                action,
                "routes.delete",
                self._api.routes.delete_unary,
                "DeleteRouteRequest",
                project=self._api.project,
                route=name,
            )
        except NotFound:
            if not missing_ok:
                raise


def _by_name(instances: list[Any]) -> dict[NodeName, Any]:
    """Nodes are known by instance name (as Kubernetes knows them), which GCE keeps unique only per
    zone: two nodes sharing a name would shadow each other and one would lose its route."""
    found: dict[NodeName, Any] = {}
    for instance in instances:
        other = found.setdefault(NodeName(instance.name), instance)
        if other is not instance:
            raise PreflightError(
                f"two nodes are named {instance.name} ({_base(other.zone)} and {_base(instance.zone)}); "
                "node names must be unique across zones (narrow gce.zones or gce.node_labels)"
            )
    return found


def _zone_and_name(url: str) -> tuple[str, str]:
    parts = url.rstrip("/").split("/")
    return (parts[-3], parts[-1]) if len(parts) >= 3 else ("", parts[-1])


def _node(instance: Any) -> Node:
    labels = dict(instance.labels)
    created = instance.creation_timestamp
    try:
        launched = datetime.fromisoformat(created) if created else datetime.fromtimestamp(0, UTC)
    except ValueError:
        launched = datetime.fromtimestamp(0, UTC)
    nics = list(instance.network_interfaces)
    address = nics[0].network_i_p if nics and nics[0].network_i_p else None
    recorded = (
        names.parse_label(labels.get(names.CIDR_LABEL), 4),
        names.parse_label(labels.get(names.CIDR_LABEL_V6), 6),
    )
    return Node(
        name=NodeName(instance.name),
        state=_STATES.get(instance.status, NodeState.STOPPED),
        launched_at=launched,
        address=ip_address(address) if address else None,
        forwarding=bool(instance.can_ip_forward),
        recorded=tuple(s for s in recorded if s is not None),
        display="",  # the instance name is the node name already
    )
