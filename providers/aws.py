"""AWS: VPC route tables route each node's subnet to its primary network interface.

The flow of the adapter: observe() reads the VPC, the managed tables and the node instances in
a constant number of filtered, paginated calls, and keeps the node -> primary ENI map it needs
to translate actions back into EC2 calls. No route table is re-listed per route.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from ipaddress import ip_address, ip_network
from typing import Any, ClassVar

from cloudroutes.config import Config
from cloudroutes.errors import CloudError, ConfigError, Conflict, Invalid, NotFound, PreflightError
from cloudroutes.model import (
    Action,
    ActionKind,
    IPNetwork,
    Node,
    NodeName,
    NodeState,
    Observed,
    Route,
    Table,
    TableKey,
)
from cloudroutes.providers.aws_api import ROUTE_QUOTA_CODE, Ec2Api

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
    write_budgets: ClassVar[Mapping[ActionKind, tuple[int, float]]] = {
        # EC2 meters these outside the mutating bucket that route writes share (burst, per second):
        # CreateTags and ModifyNetworkInterfaceAttribute are "uncategorized" actions with their own.
        ActionKind.CLAIM: (100, 10.0),
        ActionKind.UNCLAIM: (100, 10.0),
        ActionKind.ENABLE_FORWARDING: (100, 5.0),
    }
    """Write buckets the executor keeps apart from limits.write_burst/write_rate (reference/cloud-api-facts.md)."""

    def __init__(self, config: Config, api: Ec2Api | None = None) -> None:
        if not config.aws.vpc_id:
            raise ConfigError("aws.vpc_id is required (env CLOUDROUTES_AWS_VPC_ID)")
        self._config = config
        self._api = api or Ec2Api(config.aws.region)
        self._primary_eni: dict[NodeName, str] = {}
        self._cidr_tags: dict[NodeName, set[str]] = {}

    @property
    def api_calls(self) -> Mapping[str, int]:
        return dict(self._api.calls)

    # -- observe ---------------------------------------------------------------------------

    def observe(self) -> Observed:
        before = dict(self._api.calls)
        occupied = self._vpc_ranges()
        instances = self._instances()
        self._primary_eni = {NodeName(i["InstanceId"]): eni for i in instances if (eni := _primary_eni(i))}
        self._cidr_tags = {
            NodeName(i["InstanceId"]): {t["Key"] for t in i.get("Tags", []) if t["Key"] in (CIDR_TAG, CIDR_TAG_V6)}
            for i in instances
        }
        owners = {
            eni["NetworkInterfaceId"]: NodeName(i["InstanceId"])
            for i in instances
            for eni in i.get("NetworkInterfaces", [])
        }
        limit = self._route_limit()
        tables = tuple(
            Table(
                key=TableKey(t["RouteTableId"]),
                routes=tuple(r for raw in t.get("Routes", []) if (r := self._route(t["RouteTableId"], raw, owners))),
                limit=limit,
                quota_hint=f"the VPC quota 'Routes per route table' (Service Quotas code {ROUTE_QUOTA_CODE})",
                per_family=True,  # AWS enforces the route limit separately for IPv4 and IPv6
            )
            for t in self._tables()
        )
        calls = {op: n - before.get(op, 0) for op, n in self._api.calls.items() if n > before.get(op, 0)}
        return Observed(nodes=tuple(_node(i) for i in instances), tables=tables, occupied=occupied, api_calls=calls)

    def _vpc_ranges(self) -> tuple[IPNetwork, ...]:
        vpc_id = self._config.aws.vpc_id
        try:
            vpcs = self._api.call("describe_vpcs", VpcIds=[vpc_id])["Vpcs"]
        except NotFound:
            raise PreflightError(f"VPC {vpc_id} not found in region {self._api.ec2.meta.region_name}") from None
        except Invalid as exc:
            raise PreflightError(f"VPC {vpc_id}: {exc.message}") from None
        if not vpcs:
            raise PreflightError(f"VPC {vpc_id} not found in region {self._api.ec2.meta.region_name}")
        vpc = vpcs[0]
        v4 = [a["CidrBlock"] for a in vpc.get("CidrBlockAssociationSet", []) if _associated(a.get("CidrBlockState"))]
        v6 = [
            a["Ipv6CidrBlock"]
            for a in vpc.get("Ipv6CidrBlockAssociationSet", [])
            if _associated(a.get("Ipv6CidrBlockState"))
        ]
        return tuple(ip_network(c, strict=False) for c in (v4 or [vpc["CidrBlock"]]) + v6)

    def _tables(self) -> list[dict[str, Any]]:
        aws, vpc_id = self._config.aws, self._config.aws.vpc_id
        if aws.route_tables:
            try:
                tables = [
                    t
                    for page in self._api.pages("describe_route_tables", RouteTableIds=list(aws.route_tables))
                    for t in page["RouteTables"]
                ]
            except NotFound as exc:
                raise PreflightError(f"route table not found: {exc.message}") from None
            strays = [t["RouteTableId"] for t in tables if t.get("VpcId") != vpc_id]
            if strays:
                raise PreflightError(f"route table {strays[0]} is not in VPC {vpc_id}")
            return tables
        filters = [
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "tag-key", "Values": [cluster_tag(self._config.cluster.name)]},
        ]
        tables = [t for page in self._api.pages("describe_route_tables", Filters=filters) for t in page["RouteTables"]]
        if not tables:
            raise PreflightError(
                f"no managed route table in {vpc_id}: tag its tables {cluster_tag(self._config.cluster.name)}=owned "
                "or list them in aws.route_tables"
            )
        return tables

    def _instances(self) -> list[dict[str, Any]]:
        filters = [
            {"Name": "vpc-id", "Values": [self._config.aws.vpc_id]},
            {"Name": "tag-key", "Values": [cluster_tag(self._config.cluster.name)]},
            {"Name": "instance-state-name", "Values": list(LIVE_STATES)},
            *({"Name": f"tag:{k}", "Values": [v]} for k, v in self._config.aws.node_tags.items()),
        ]
        pages = self._api.pages("describe_instances", Filters=filters)
        return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]

    def _route_limit(self) -> int:
        quota = self._api.route_quota()
        return int(quota) if quota else self._config.aws.route_limit

    def _route(self, table: str, raw: dict[str, Any], owners: dict[str, NodeName]) -> Route | None:
        dest = raw.get("DestinationCidrBlock") or raw.get("DestinationIpv6CidrBlock")
        if not dest or raw.get("Origin") == "CreateRouteTable":
            return None  # prefix-list routes name no range; local routes are the VPC CIDRs, already occupied
        eni, instance = raw.get("NetworkInterfaceId"), raw.get("InstanceId")
        to_vm = bool(eni or instance) and not any(raw.get(k) for k in _FOREIGN_TARGETS)
        node = owners.get(eni) if eni else (NodeName(instance) if instance in self._primary_eni else None)
        hop = eni or instance or next((raw[k] for k in _FOREIGN_TARGETS if raw.get(k)), "")
        return Route(
            table=TableKey(table),
            destination=ip_network(dest, strict=False),
            node=node,
            to_vm=to_vm,
            exact=node is not None and eni == self._primary_eni.get(node),
            blackhole=raw.get("State") == "blackhole",
            hop=str(hop),
            counted=raw.get("Origin") != "EnableVgwRoutePropagation",
        )

    # -- execute ---------------------------------------------------------------------------

    def execute(self, action: Action) -> None:
        match action.kind:
            case ActionKind.CLAIM:
                self._claim(action)
            case ActionKind.UNCLAIM:
                keys = [{"Key": CIDR_TAG}, {"Key": CIDR_TAG_V6}]
                self._api.call("delete_tags", Resources=[self._node(action)], Tags=keys)
            case ActionKind.ENABLE_FORWARDING:
                self._api.call(
                    "modify_network_interface_attribute",
                    NetworkInterfaceId=self._eni(action),
                    SourceDestCheck={"Value": False},
                )
            case ActionKind.CREATE:
                self._api.call("create_route", **self._route_params(action), NetworkInterfaceId=self._eni(action))
            case ActionKind.REPLACE:
                self._replace(action)
            case ActionKind.DELETE:
                self._api.call("delete_route", **self._route_params(action))

    def _claim(self, action: Action) -> None:
        tags = [{"Key": CIDR_TAG if s.version == 4 else CIDR_TAG_V6, "Value": str(s)} for s in action.subnets]
        self._api.call("create_tags", Resources=[self._node(action)], Tags=tags)
        # A family dropped from cluster.cidr leaves its tag behind, and a stale record would be
        # re-claimed on every pass: it goes, in the same action (only when there is one).
        stale = self._cidr_tags.get(NodeName(self._node(action)), set()) - {t["Key"] for t in tags}
        if stale:
            self._api.call("delete_tags", Resources=[self._node(action)], Tags=[{"Key": k} for k in sorted(stale)])

    def _replace(self, action: Action) -> None:
        """ReplaceRoute, not delete + create: the destination is never without a route."""
        try:
            self._api.call("replace_route", **self._route_params(action), NetworkInterfaceId=self._eni(action))
        except Invalid as exc:
            if "no route" in exc.message.lower():
                raise Conflict(f"route {action.destination} vanished from {action.table}", code=exc.code) from exc
            raise

    def _node(self, action: Action) -> str:
        if action.node is None:
            raise Invalid(f"{action.describe()}: no node")
        return str(action.node)

    def _eni(self, action: Action) -> str:
        try:
            return self._primary_eni[self._node(action)]  # type: ignore[index]
        except KeyError:
            raise Conflict(f"{action.node} has no primary network interface in the last snapshot") from None

    @staticmethod
    def _route_params(action: Action) -> dict[str, str]:
        if action.destination is None or action.table is None:
            raise CloudError(f"{action.describe()}: route action without table or destination")
        key = "DestinationCidrBlock" if action.destination.version == 4 else "DestinationIpv6CidrBlock"
        return {"RouteTableId": action.table, key: str(action.destination)}


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
    )


def _parse(text: str | None) -> IPNetwork | None:
    """A hand-edited or truncated tag is not a claim; the planner will rewrite it."""
    if not text:
        return None
    try:
        return ip_network(text, strict=True)
    except ValueError:
        return None
