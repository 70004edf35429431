"""AWS: VPC route tables route each node's subnet to its primary network interface.

The flow of the adapter: observe() reads the VPC, the managed tables and the node instances in
a constant number of filtered, paginated calls; each node carries its primary interface as its
ref, so execute() needs nothing but the action. No route table is re-listed per route.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from ipaddress import ip_address, ip_network
from typing import Any

from cloudroutes import retrying
from cloudroutes.config import AwsConfig, Limits
from cloudroutes.errors import ConfigError, Conflict, Invalid, NotFound, PreflightError
from cloudroutes.model import (
    Action,
    ActionKind,
    Cluster,
    IPNetwork,
    Node,
    NodeName,
    NodeState,
    Observed,
    Route,
    Table,
    TableKey,
    Target,
)
from cloudroutes.providers import aws_targets
from cloudroutes.providers.aws_api import ROUTE_QUOTA_CODE, Ec2Api
from cloudroutes.providers.base import ApiError, Budget, Capabilities, Pending, Settled

CIDR_TAG = "cloudroutes.io/pod-cidr"
CIDR_TAG_V6 = "cloudroutes.io/pod-cidr-v6"
LIVE_STATES = ("pending", "running", "stopping", "stopped")
_STATES = {"pending": NodeState.PENDING, "running": NodeState.RUNNING}
_FOREIGN_TARGETS = (
    "GatewayId",
    "NatGatewayId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
    "EgressOnlyInternetGatewayId",
    "CarrierGatewayId",
    "LocalGatewayId",
    "CoreNetworkArn",
)


def cluster_tag(cluster: str) -> str:
    return f"kubernetes.io/cluster/{cluster}"


class AwsProvider:
    def __init__(
        self, settings: AwsConfig, cluster: Cluster, limits: Limits | None = None, *, api: Ec2Api | None = None
    ) -> None:
        if not settings.vpc_id:
            raise ConfigError("aws.vpc_id is required (env CLOUDROUTES_AWS_VPC_ID)")
        limits = limits or Limits()
        self._settings = settings
        self._cluster = cluster
        self._capabilities = capabilities(limits)
        read = self._capabilities.read_budget
        self._api = api or Ec2Api(
            settings.region,
            profile=settings.profile,
            endpoint=settings.endpoint,
            emulator=settings.emulator,
            policy=retrying.RetryPolicy(attempts=limits.max_attempts, backoff_max=limits.backoff_max),
            reads=read.limiter(),
        )

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
        occupied = self._vpc_ranges()
        instances = self._instances()
        primary = {NodeName(i["InstanceId"]): eni for i in instances if (eni := _primary_eni(i))}
        owners = {
            eni["NetworkInterfaceId"]: NodeName(i["InstanceId"])
            for i in instances
            for eni in i.get("NetworkInterfaces", [])
        }
        limit = self._route_limit()
        raw_tables = self._tables()
        strangers = self._strangers(raw_tables, primary)
        tables = tuple(
            Table(
                key=TableKey(t["RouteTableId"]),
                routes=tuple(
                    r
                    for raw in t.get("Routes", [])
                    if (r := _route(t["RouteTableId"], raw, owners, primary, strangers))
                ),
                limit=limit,
                quota_hint=f"the VPC quota 'Routes per route table' (Service Quotas code {ROUTE_QUOTA_CODE})",
                per_family=True,  # AWS enforces the route limit separately for IPv4 and IPv6
            )
            for t in raw_tables
        )
        calls = {op: n - before.get(op, 0) for op, n in self._api.calls.items() if n > before.get(op, 0)}
        return Observed(nodes=tuple(_node(i) for i in instances), tables=tables, occupied=occupied, api_calls=calls)

    def _vpc_ranges(self) -> tuple[IPNetwork, ...]:
        vpc_id = self._settings.vpc_id
        try:
            vpcs = self._api.read("describe_vpcs", VpcIds=[vpc_id])["Vpcs"]
        except NotFound:
            raise PreflightError(f"VPC {vpc_id} not found in region {self._api.region}") from None
        except Invalid as exc:
            raise PreflightError(f"VPC {vpc_id}: {exc.message}") from None
        if not vpcs:
            raise PreflightError(f"VPC {vpc_id} not found in region {self._api.region}")
        vpc = vpcs[0]
        v4 = [a["CidrBlock"] for a in vpc.get("CidrBlockAssociationSet", []) if _associated(a.get("CidrBlockState"))]
        v6 = [
            a["Ipv6CidrBlock"]
            for a in vpc.get("Ipv6CidrBlockAssociationSet", [])
            if _associated(a.get("Ipv6CidrBlockState"))
        ]
        return tuple(ip_network(c, strict=False) for c in (v4 or [vpc["CidrBlock"]]) + v6)

    def _tables(self) -> list[dict[str, Any]]:
        settings, vpc_id = self._settings, self._settings.vpc_id
        if settings.route_tables:
            try:
                pages = self._api.pages("describe_route_tables", RouteTableIds=list(settings.route_tables))
                tables = [t for page in pages for t in page["RouteTables"]]
            except NotFound as exc:
                raise PreflightError(f"route table not found: {exc.message}") from None
            strays = [t["RouteTableId"] for t in tables if t.get("VpcId") != vpc_id]
            if strays:
                raise PreflightError(f"route table {strays[0]} is not in VPC {vpc_id}")
            return tables
        tag = cluster_tag(self._cluster.name)
        filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "tag-key", "Values": [tag]}]
        tables = [t for page in self._api.pages("describe_route_tables", Filters=filters) for t in page["RouteTables"]]
        if not tables:
            raise PreflightError(
                f"no managed route table in {vpc_id}: tag its tables {tag}=owned or list them in aws.route_tables"
            )
        return tables

    def _instances(self) -> list[dict[str, Any]]:
        filters = [
            {"Name": "vpc-id", "Values": [self._settings.vpc_id]},
            {"Name": "tag-key", "Values": [cluster_tag(self._cluster.name)]},
            {"Name": "instance-state-name", "Values": list(LIVE_STATES)},
            *({"Name": f"tag:{k}", "Values": [v]} for k, v in self._settings.node_tags.items()),
        ]
        pages = self._api.pages("describe_instances", Filters=filters)
        return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]

    def _strangers(
        self, tables: list[dict[str, Any]], primary: Mapping[NodeName, str]
    ) -> dict[str, tuple[Target, str]]:
        """What each instance is that a route in a cluster range delivers to but no node is."""
        wanted = {
            str(raw["InstanceId"])
            for t in tables
            for raw in t.get("Routes", [])
            if raw.get("InstanceId")
            and raw["InstanceId"] not in primary
            and not any(raw.get(k) for k in _FOREIGN_TARGETS)
            and self._near_cluster(raw)
        }
        found: list[dict[str, Any]] = []
        for filters in aws_targets.lookup_filters(wanted):
            pages = self._api.pages("describe_instances", Filters=filters)
            found += [i for page in pages for r in page["Reservations"] for i in r["Instances"]]
        return aws_targets.classify(found, self._cluster.name)

    def _near_cluster(self, raw: Mapping[str, Any]) -> bool:
        dest = raw.get("DestinationCidrBlock") or raw.get("DestinationIpv6CidrBlock")
        if not dest:
            return False
        net = ip_network(dest, strict=False)
        return any(net.version == c.version and net.overlaps(c) for c in self._cluster.cidrs)

    def _route_limit(self) -> int:
        quota = self._api.route_quota()
        return int(quota) if quota else self._settings.route_limit

    # -- execute ---------------------------------------------------------------------------

    def execute(self, action: Action) -> Pending | None:
        """EC2 writes are synchronous: every action is done when its call returns."""
        match action.kind:
            case ActionKind.CLAIM:
                self._claim(action)
            case ActionKind.UNCLAIM:
                keys = [{"Key": CIDR_TAG}, {"Key": CIDR_TAG_V6}]
                self._api.write("delete_tags", Resources=[_instance(action)], Tags=keys)
            case ActionKind.ENABLE_FORWARDING:
                self._api.write(
                    "modify_network_interface_attribute",
                    NetworkInterfaceId=_interface(action),
                    SourceDestCheck={"Value": False},
                )
            case ActionKind.CREATE:
                self._api.write("create_route", **_route_params(action), NetworkInterfaceId=_interface(action))
            case ActionKind.REPLACE:
                self._replace(action)
            case ActionKind.DELETE:
                self._api.write("delete_route", **_route_params(action))
        return None

    def settle(self, pending: Sequence[Pending]) -> Sequence[Settled]:
        return ()

    def _claim(self, action: Action) -> None:
        tags = [{"Key": _tag_for(s), "Value": str(s)} for s in action.subnets]
        self._api.write("create_tags", Resources=[_instance(action)], Tags=tags)
        # A family dropped from cluster.cidr leaves its tag behind, and a stale record would be
        # re-claimed on every pass: it goes, in the same action (only when there is one).
        stale = {_tag_for(s) for s in action.previous} - {t["Key"] for t in tags}
        if stale:
            self._api.write("delete_tags", Resources=[_instance(action)], Tags=[{"Key": k} for k in sorted(stale)])

    def _replace(self, action: Action) -> None:
        """ReplaceRoute, not delete + create: the destination is never without a route."""
        try:
            self._api.write("replace_route", **_route_params(action), NetworkInterfaceId=_interface(action))
        except Invalid as exc:
            if "no route" in exc.message.lower():
                raise Conflict(f"route {action.destination} vanished from {action.table}", code=exc.code) from exc
            raise


MARGIN = 0.95
"""The share of EC2's documented refill rates our buckets run at (why: `capabilities`)."""


def capabilities(limits: Limits) -> Capabilities:
    """EC2 meters API calls in token buckets per account and region, per family of actions
    (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html): route writes share the
    mutating bucket (50 burst, 5/s); CreateTags (100, 10/s) and ModifyNetworkInterfaceAttribute
    (100, 5/s) have buckets of their own; Describe* calls share the non-mutating one (100, 20/s).

    Our refill runs at MARGIN of EC2's: the two buckets tick on different clocks and a call
    reaches EC2 a latency after our bucket let it go, so at exactly EC2's rate two calls now and
    then arrive closer than EC2 allows. Each such refusal costs far more than 5% (a retry, and a
    halved rate while the bucket learns) - measured on the 200-node bench: 3 refusals, 1.5x the floor."""
    routes = Budget(family="mutating", burst=limits.write_burst or 50, rate=limits.write_rate or 5.0 * MARGIN)
    tags = Budget(family="CreateTags", burst=100, rate=10.0 * MARGIN)
    return Capabilities(
        fixes_forwarding=True,
        write_budgets={
            ActionKind.CREATE: routes,
            ActionKind.REPLACE: routes,
            ActionKind.DELETE: routes,
            ActionKind.CLAIM: tags,
            ActionKind.UNCLAIM: tags,
            ActionKind.ENABLE_FORWARDING: Budget(
                family="ModifyNetworkInterfaceAttribute", burst=100, rate=5.0 * MARGIN
            ),
        },
        read_budget=Budget(family="non-mutating", burst=limits.read_burst or 100, rate=limits.read_rate or 20.0),
        provider_id="aws",
    )


def _tag_for(subnet: IPNetwork) -> str:
    return CIDR_TAG if subnet.version == 4 else CIDR_TAG_V6


def _instance(action: Action) -> str:
    if action.node is None:
        raise Invalid(f"{action.describe()}: no node")
    return str(action.node)


def _interface(action: Action) -> str:
    """Routes and the forwarding flag go to the node's primary interface, which its ref names."""
    if not action.node_ref:
        raise Invalid(f"{action.describe()}: {action.node} has no primary network interface")
    return action.node_ref


def _route_params(action: Action) -> dict[str, str]:
    if action.destination is None or action.table is None:
        raise Invalid(f"{action.describe()}: route action without table or destination")
    key = "DestinationCidrBlock" if action.destination.version == 4 else "DestinationIpv6CidrBlock"
    return {"RouteTableId": action.table, key: str(action.destination)}


def _route(
    table: str,
    raw: dict[str, Any],
    owners: dict[str, NodeName],
    primary: dict[NodeName, str],
    strangers: Mapping[str, tuple[Target, str]],
) -> Route | None:
    dest = raw.get("DestinationCidrBlock") or raw.get("DestinationIpv6CidrBlock")
    if not dest or raw.get("Origin") == "CreateRouteTable":
        return None  # prefix-list routes name no range; local routes are the VPC CIDRs, already occupied
    eni, instance = raw.get("NetworkInterfaceId"), raw.get("InstanceId")
    to_vm = bool(eni or instance) and not any(raw.get(k) for k in _FOREIGN_TARGETS)
    node = owners.get(eni) if eni else (NodeName(instance) if instance in primary else None)
    hop = eni or instance or next((raw[k] for k in _FOREIGN_TARGETS if raw.get(k)), "")
    blackhole = raw.get("State") == "blackhole"
    if instance:
        target, other = strangers.get(instance, (Target.GONE, ""))
    else:
        # Only an interface, no instance: a live one is attached to something that is not an instance.
        target, other = (Target.GONE if blackhole else Target.UNRECORDED), ""
    return Route(
        table=TableKey(table),
        destination=ip_network(dest, strict=False),
        node=node,
        to_vm=to_vm,
        target=target,
        target_cluster=other,
        exact=node is not None and eni == primary.get(node),
        blackhole=blackhole,
        hop=str(hop),
        counted=raw.get("Origin") != "EnableVgwRoutePropagation",
    )


def _associated(state: Any) -> bool:
    return not state or state.get("State") in ("associated", "associating")


def _primary_interface(instance: dict[str, Any]) -> dict[str, Any] | None:
    """The interface at device index 0: the one routes target and whose check must be off."""
    return next(
        (e for e in instance.get("NetworkInterfaces", []) if e.get("Attachment", {}).get("DeviceIndex") == 0), None
    )


def _primary_eni(instance: dict[str, Any]) -> str | None:
    primary = _primary_interface(instance)
    return str(primary["NetworkInterfaceId"]) if primary else None


def _node(instance: dict[str, Any]) -> Node:
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    primary = _primary_interface(instance)
    check = primary.get("SourceDestCheck", True) if primary else instance.get("SourceDestCheck", True)
    launched = instance.get("LaunchTime") or datetime.fromtimestamp(0, UTC)
    address = instance.get("PrivateIpAddress")
    return Node(
        name=NodeName(instance["InstanceId"]),
        state=_STATES.get(instance["State"]["Name"], NodeState.STOPPED),
        launched_at=launched,
        address=ip_address(address) if address else None,
        forwarding=not check,
        recorded=tuple(s for key in (CIDR_TAG, CIDR_TAG_V6) if (s := _parse(tags.get(key)))),
        display=tags.get("Name", ""),
        ref=str(primary["NetworkInterfaceId"]) if primary else "",
    )


def _parse(text: str | None) -> IPNetwork | None:
    """A hand-edited or truncated tag is not a claim; the planner will rewrite it."""
    if not text:
        return None
    try:
        return ip_network(text, strict=True)
    except ValueError:
        return None
