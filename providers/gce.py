"""GCE: one route per node subnet in the VPC network, next hop = the node's instance.

The adapter's flow. observe() reads the project quota, the network's subnet ranges, every node
in one aggregated list and every route of the network in one filtered list, whatever the cluster
size: no per-node instances.get, no per-zone probing, no networks.get (the network's URL is
derived from its name, and a network that does not exist shows no subnet and no route): a pass
over 1,000 nodes is six calls, pages of 500 included. Each node's ref carries what a
write to it needs (zone, name, labels and their fingerprint), so execute() stands on the action
alone. Writes return operations: execute() hands back a Pending when one is still running and
settle() learns, in batches, when it ends. Routes are immutable, so a re-point is delete, then
(once that operation ends) insert; names are derived from the destination (gce_names), so a 409
on insert means someone holds that subnet: we read that route and compare, never assume.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from ipaddress import ip_address, ip_network
from typing import Any

from cloudroutes import retrying
from cloudroutes.config import GceConfig, Limits
from cloudroutes.errors import CloudError, ConfigError, Conflict, Invalid, NotFound, PreflightError, Transient
from cloudroutes.model import (
    Action,
    ActionKind,
    Cluster,
    Node,
    NodeName,
    NodeState,
    Observed,
    Route,
    Table,
    TableKey,
    Target,
)
from cloudroutes.providers import gce_names as names
from cloudroutes.providers import gce_targets
from cloudroutes.providers.base import ApiError, Budget, Capabilities, Pending, Settled
from cloudroutes.providers.gce_api import GLOBAL, PAGE_SIZE, ComputeApi
from cloudroutes.providers.gce_errors import operation_error

_STATES = {"RUNNING": NodeState.RUNNING, "PROVISIONING": NodeState.PENDING, "STAGING": NodeState.PENDING}
_GONE = frozenset({"NEXT_HOP_INSTANCE_NOT_FOUND", "NEXT_HOP_NOT_RUNNING"})
QUOTA_HINT = "the project's ROUTES quota (compute.googleapis.com/routes)"
API_BASE = "https://www.googleapis.com/compute/v1/"
QUOTA_PER_MINUTE = 1500
"""The assumed per-minute quota of each request group (reads, writes): see `capabilities`."""
_INSERT, _DELETE, _REPOINT, _LABELS, _FORWARD = "insert", "delete", "repoint-delete", "labels", "forward"
_CALLS = {
    _INSERT: "routes.insert",
    _DELETE: "routes.delete",
    _REPOINT: "routes.delete",
    _LABELS: "instances.setLabels",
    _FORWARD: "instances.update",
}
"""The API method each step of an action calls (the call counter's name for it)."""


def _base(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def capabilities(settings: GceConfig, limits: Limits) -> Capabilities:
    """Compute Engine meters requests per project and per minute, in groups, and refills each group
    at the start of the next minute (https://cloud.google.com/compute/api-quota). Today's defaults
    are shown per project in the console, not published; the documented ones were 1,500 mutation
    requests and 1,500 reads a minute, which we assume. A project with a raised quota can say so in
    [limits] (write_burst / write_rate, read_burst / read_rate: a token bucket in place of the quota)."""
    writes = _per_minute("writes", limits.write_burst, limits.write_rate)
    return Capabilities(
        fixes_forwarding=settings.fix_forwarding,
        write_budgets={kind: writes for kind in ActionKind},
        read_budget=_per_minute("reads", limits.read_burst, limits.read_rate),
        provider_id="gce",
        # instances.update is a PUT of the whole instance guarded by its fingerprint, which a label
        # write changes: forwarding must have finished before the labels go.
        node_write_order=(ActionKind.ENABLE_FORWARDING, ActionKind.CLAIM),
    )


def _per_minute(family: str, burst: int | None, rate: float | None) -> Budget:
    """GCE's meter, a quota per minute; [limits] may set a bucket (burst, rate) in its place."""
    if burst is None and rate is None:
        return Budget(family=family, burst=QUOTA_PER_MINUTE, rate=QUOTA_PER_MINUTE / 60, window=60.0)
    return Budget(family=family, burst=burst or 50, rate=rate or QUOTA_PER_MINUTE / 60)


class GceProvider:
    def __init__(
        self, settings: GceConfig, cluster: Cluster, limits: Limits | None = None, *, api: ComputeApi | None = None
    ) -> None:
        if not settings.project:
            raise ConfigError("gce.project is required (env CLOUDROUTES_GCE_PROJECT)")
        limits = limits or Limits()
        self._settings = settings
        self._cluster = cluster.name
        self._cidrs = cluster.cidrs
        self._capabilities = capabilities(settings, limits)
        read = self._capabilities.read_budget
        self._api = api or ComputeApi(
            settings.project,
            settings.endpoint,
            anonymous=settings.emulator,
            policy=retrying.RetryPolicy(attempts=limits.max_attempts, backoff_max=limits.backoff_max),
            reads=read.limiter(),
            polls=Budget(family="polls", burst=settings.op_poll_burst, rate=settings.op_poll_rate).limiter(),
            pool=limits.concurrency + 2,  # the workers, and the poll and the read-back beside them
        )
        self._selector = dict(settings.node_labels) or {names.CLUSTER_LABEL: self._cluster}
        self._network = f"{API_BASE}projects/{settings.project}/global/networks/{settings.network}"
        self._request_ids: dict[tuple[Action, str], str] = {}

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def api_calls(self) -> Mapping[str, int]:
        return dict(self._api.calls)

    @property
    def api_errors(self) -> Mapping[ApiError, int]:
        return dict(self._api.errors)

    # -- observe ---------------------------------------------------------------------------

    def observe(self) -> Observed:
        before = dict(self._api.calls)
        limit, usage = self._quota()
        occupied = self._subnet_ranges()
        instances = self._nodes()
        zones = {NodeName(i.name): _base(i.zone) for i in _unique_by_name(instances)}
        raw_routes = self._routes(self._network)
        if not occupied and not raw_routes:
            raise PreflightError(
                f"network {self._settings.network} not found in project {self._api.project} (no subnetwork, no route)"
            )
        established = any(_node(i).recorded for i in instances)
        strangers = self._strangers(raw_routes, zones, established=established)
        routes = tuple(self._route(r, zones, strangers) for r in raw_routes if r.dest_range)
        others = usage - len(raw_routes)  # routes of other networks in the project use the same quota
        table = Table(
            key=TableKey(self._settings.network),
            routes=routes,
            limit=None if limit is None else max(0, int(limit - others)),
            quota_hint=QUOTA_HINT,
        )
        calls = {op: n - before.get(op, 0) for op, n in self._api.calls.items() if n > before.get(op, 0)}
        return Observed(nodes=tuple(_node(i) for i in instances), tables=(table,), occupied=occupied, api_calls=calls)

    def _quota(self) -> tuple[float | None, float]:
        try:
            project = self._api.read("projects.get", self._api.projects.get, project=self._api.project)
        except NotFound:
            raise PreflightError(f"project {self._api.project} not found") from None
        quota = next((q for q in project.quotas if q.metric == "ROUTES"), None)
        return (quota.limit, quota.usage) if quota else (None, 0.0)

    def _subnet_ranges(self) -> tuple[Any, ...]:
        ranges = []
        request = {"project": self._api.project, "max_results": PAGE_SIZE}
        pages = self._api.pages("subnetworks.aggregatedList", self._api.subnetworks.aggregated_list, request=request)
        for page in pages:
            for scoped in page.items.values():
                for subnet in scoped.subnetworks:
                    if _base(subnet.network) == self._settings.network:
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
        in_network = bool(nics) and _base(nics[0].network) == self._settings.network
        in_zone = not self._settings.zones or _base(instance.zone) in self._settings.zones
        return in_network and in_zone  # a stopped VM (TERMINATED) is still a node: it keeps its subnet

    def _routes(self, network_url: str) -> list[Any]:
        request = {"project": self._api.project, "filter": f'network = "{network_url}"', "max_results": PAGE_SIZE}
        pages = self._api.pages("routes.list", self._api.routes.list, request=request)
        return [r for page in pages for r in page.items if _base(r.network) == self._settings.network]

    def _strangers(
        self, raw_routes: list[Any], zones: Mapping[NodeName, str], *, established: bool
    ) -> dict[tuple[str, str], tuple[Target, str]]:
        """What each instance is that a route in a cluster range delivers to but no node is. An
        unmarked route is foreign whatever its VM is: it is looked up only while the cluster is new
        (another cluster's routes in its range refuse it), so a neighbour costs a steady pass nothing."""
        wanted = set()
        for raw in raw_routes:
            if not raw.next_hop_instance or not raw.dest_range or _gone(raw):
                continue
            if established and not names.is_marked(raw.name, raw.description, self._cluster):
                continue
            zone, name = _zone_and_name(raw.next_hop_instance)
            dest = ip_network(raw.dest_range)
            if zones.get(NodeName(name)) != zone and any(
                dest.version == c.version and dest.overlaps(c) for c in self._cidrs
            ):
                wanted.add(name)
        found: list[Any] = []
        for selector in gce_targets.lookup_filters(wanted):
            request = {"project": self._api.project, "filter": selector, "max_results": PAGE_SIZE}
            pages = self._api.pages("instances.aggregatedList", self._api.instances.aggregated_list, request=request)
            found += [i for page in pages for scoped in page.items.values() for i in scoped.instances]
        return gce_targets.by_place(found, _base, self._cluster)

    def _route(
        self, raw: Any, zones: Mapping[NodeName, str], strangers: Mapping[tuple[str, str], tuple[Target, str]]
    ) -> Route:
        node = None
        target, other = Target.GONE, ""
        if raw.next_hop_instance:
            zone, name = _zone_and_name(raw.next_hop_instance)
            node = NodeName(name) if zones.get(NodeName(name)) == zone else None
            target, other = strangers.get((zone, name), (Target.GONE, ""))
        hop = raw.next_hop_instance or raw.next_hop_gateway or raw.next_hop_ip or raw.next_hop_network or ""
        return Route(
            table=TableKey(self._settings.network),
            destination=ip_network(raw.dest_range),
            node=node,
            to_vm=bool(raw.next_hop_instance),
            target=target,
            target_cluster=other,
            marked=names.is_marked(raw.name, raw.description, self._cluster),
            blackhole=any(w.code in _GONE for w in raw.warnings) if raw.warnings else False,
            hop="/".join(hop.split("/")[-4:]) if raw.next_hop_instance else _base(hop),
            ref=raw.name,
        )

    # -- execute ---------------------------------------------------------------------------

    def execute(self, action: Action) -> Pending | None:
        match action.kind:
            case ActionKind.CLAIM | ActionKind.UNCLAIM:
                return self._label(action)
            case ActionKind.ENABLE_FORWARDING:
                return self._forward(action)
            case ActionKind.CREATE:
                return self._insert(action)
            case ActionKind.REPLACE:
                # Routes are immutable and the name follows the destination: the old route must be
                # gone before the new one can take its name.
                return self._delete(action, step=_REPOINT) or self._insert(action)
            case ActionKind.DELETE:
                return self._delete(action, step=_DELETE)
        raise Invalid(f"{action.describe()}: not a GCE action")

    def settle(self, pending: Sequence[Pending]) -> Sequence[Settled]:
        from google.cloud import compute_v1

        states = self._api.operations(p.handle for p in pending)
        settled = []
        for item in pending:
            operation = states.get(item.handle)
            if operation is None or operation.status != compute_v1.Operation.Status.DONE:
                continue  # still running (or not listed yet): asked about again later
            settled.append(self._finished(item, operation_error(operation)))
        return settled

    def _finished(self, item: Pending, failure: CloudError | None) -> Settled:
        """What a DONE operation means for its action: done, failed, or the next step started."""
        if failure is not None:
            # A replay of a failed operation's request id would only return that failure again.
            self._request_ids.pop((item.action, item.step), None)
        try:
            if item.step == _REPOINT and (failure is None or isinstance(failure, NotFound)):
                return Settled(pending=item, next=self._insert(item.action))
            if item.step == _INSERT and isinstance(failure, Conflict):
                self._settle_conflict(item.action)
                return Settled(pending=item)
        except CloudError as exc:
            return Settled(pending=item, error=exc)
        return Settled(pending=item, error=failure)

    def _request_id(self, action: Action, step: str) -> str:
        """One id per action and step, reused by its retries: GCE runs a replayed request once."""
        return self._request_ids.setdefault((action, step), str(uuid.uuid4()))

    def _run(
        self, action: Action, step: str, method: Any, request_type: str, *, zone: str = "", **fields: Any
    ) -> Pending | None:
        from google.cloud import compute_v1

        zonal = {"zone": zone} if zone else {}
        request = getattr(compute_v1, request_type)(**fields, **zonal, request_id=self._request_id(action, step))
        operation = self._api.write(_CALLS[step], method, request=request)
        if operation.status != compute_v1.Operation.Status.DONE:
            return Pending(action=action, handle=f"{zone or GLOBAL}/{operation.name}", step=step)
        failure = operation_error(operation)
        if failure is not None:
            self._request_ids.pop((action, step), None)
            raise failure
        return None

    def _label(self, action: Action) -> Pending | None:
        from google.cloud import compute_v1

        ref = _NodeRef.parse(action)
        labels = {k: v for k, v in ref.labels.items() if k not in (names.CIDR_LABEL, names.CIDR_LABEL_V6)}
        labels |= {names.label_key(s): names.label_value(s) for s in action.subnets}
        body = compute_v1.InstancesSetLabelsRequest(labels=labels, label_fingerprint=ref.label_fingerprint)
        return self._run(
            action, _LABELS, self._api.instances.set_labels_unary, "SetLabelsInstanceRequest", zone=ref.zone,
            project=self._api.project, instance=ref.name, instances_set_labels_request_resource=body,
        )  # fmt: skip

    def _forward(self, action: Action) -> Pending | None:
        if not self._settings.fix_forwarding:
            raise Invalid(f"{action.node}: canIpForward is off and fix_forwarding is false")
        ref = _NodeRef.parse(action)
        # instances.update is a PUT of the whole resource: read it fresh and send it back with its
        # fingerprint, so a change made in between is refused (412) instead of overwritten.
        instance = self._api.read(
            "instances.get", self._api.instances.get, project=self._api.project, zone=ref.zone, instance=ref.name
        )
        instance.can_ip_forward = True
        return self._run(
            action, _FORWARD, self._api.instances.update_unary, "UpdateInstanceRequest", zone=ref.zone,
            project=self._api.project, instance=ref.name, instance_resource=instance,
        )  # fmt: skip

    def _wanted(self, action: Action) -> Any:
        from google.cloud import compute_v1

        if action.destination is None:
            raise Invalid(f"{action.describe()}: no destination")
        ref = _NodeRef.parse(action)
        return compute_v1.Route(
            name=names.route_name(self._cluster, action.destination),
            network=self._network,
            dest_range=str(action.destination),
            next_hop_instance=f"projects/{self._api.project}/zones/{ref.zone}/instances/{ref.name}",
            priority=self._settings.priority,
            description=names.marker(self._cluster),
        )

    def _insert(self, action: Action) -> Pending | None:
        route = self._wanted(action)
        try:
            return self._run(
                action, _INSERT, self._api.routes.insert_unary, "InsertRouteRequest",
                project=self._api.project, route_resource=route,
            )  # fmt: skip
        except Conflict:
            self._settle_conflict(action)
            return None

    def _settle_conflict(self, action: Action) -> None:
        """409 on our deterministic name: done only if the route there is the one we wanted."""
        wanted = self._wanted(action)
        try:
            existing = self._api.read("routes.get", self._api.routes.get, project=self._api.project, route=wanted.name)
        except NotFound:
            # The name is taken by an insert still in flight (another run's), or the route went
            # between the 409 and the read: neither same nor different yet, so try the insert again.
            raise Transient(f"route {wanted.name} is held by an unfinished insert or delete") from None
        wanted_hop = wanted.next_hop_instance.split("projects/", 1)[-1].split("/", 1)[-1]
        if existing.dest_range == wanted.dest_range and existing.next_hop_instance.endswith(wanted_hop):
            return
        hop = _base(existing.next_hop_instance) or "another hop"
        raise Conflict(f"route {wanted.name} exists with {existing.dest_range} -> {hop}")

    def _delete(self, action: Action, *, step: str) -> Pending | None:
        if action.destination is None:
            raise Invalid(f"{action.describe()}: no destination")
        name = action.ref or names.route_name(self._cluster, action.destination)
        try:
            return self._run(
                action, step, self._api.routes.delete_unary, "DeleteRouteRequest", project=self._api.project, route=name
            )
        except NotFound:
            if step == _REPOINT:
                return None  # already gone: the insert may go ahead
            raise


class _NodeRef:
    """What a write to a node needs, carried in Node.ref as JSON: the engine never reads it."""

    def __init__(self, zone: str, name: str, labels: Mapping[str, str], label_fingerprint: str) -> None:
        self.zone, self.name, self.labels, self.label_fingerprint = zone, name, dict(labels), label_fingerprint

    @classmethod
    def of(cls, instance: Any) -> str:
        doc = {
            "zone": _base(instance.zone),
            "name": instance.name,
            "labels": dict(instance.labels),
            "labelFingerprint": instance.label_fingerprint,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"))

    @classmethod
    def parse(cls, action: Action) -> _NodeRef:
        try:
            doc = json.loads(action.node_ref)
            return cls(doc["zone"], doc["name"], doc.get("labels", {}), doc.get("labelFingerprint", ""))
        except (ValueError, KeyError, TypeError):
            raise Invalid(f"{action.describe()}: no usable instance reference") from None


def _unique_by_name(instances: list[Any]) -> list[Any]:
    """Nodes are known by instance name (as Kubernetes knows them), which GCE keeps unique only per
    zone: two nodes sharing a name would shadow each other and one would lose its route."""
    found: dict[str, Any] = {}
    for instance in instances:
        other = found.setdefault(instance.name, instance)
        if other is not instance:
            raise PreflightError(
                f"two nodes are named {instance.name} ({_base(other.zone)} and {_base(instance.zone)}); "
                "node names must be unique across zones (narrow gce.zones or gce.node_labels)"
            )
    return instances


def _gone(raw: Any) -> bool:
    """GCE itself says the next hop instance does not exist."""
    return any(w.code == "NEXT_HOP_INSTANCE_NOT_FOUND" for w in raw.warnings) if raw.warnings else False


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
        ref=_NodeRef.of(instance),
    )
