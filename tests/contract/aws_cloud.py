"""The contract's face of the embedded EC2 cloud: a VPC with two AZ route tables tagged for the
cluster, each with an internet default route (as a VPC with a way out has), and the ways to poke at it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template
from typing import Any

import pytest

from cloudroutes.config import Config
from cloudroutes.providers.base import Provider
from cloudroutes.sim.chaos import Chaos
from cloudroutes.sim.ec2 import Ec2Sim
from cloudroutes.sim.ec2 import seed as ec2_seed
from cloudroutes.sim.ec2.calls import MUTATING
from cloudroutes.sim.ec2.chaos import internal, throttled
from tests.aws import world as aws_world

from .clouds import in_cluster

CIDR_TAG = "cloudroutes.io/pod-cidr"
WRITE_KINDS = {
    "CreateRoute": "route.create",
    "ReplaceRoute": "route.replace",
    "DeleteRoute": "route.delete",
    "CreateTags": "record",
    "DeleteTags": "record",
    "ModifyNetworkInterfaceAttribute": "forwarding",
}
BORN = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = Path(__file__).resolve().parents[2] / "terraform-examples" / "aws" / "iam-policy.json"
USER = "cloudroutes"
CLUSTER = "prod"


def shipped_policy(*, cluster: str, vpc_id: str) -> dict[str, Any]:
    """The shipped IAM policy, filled in as Terraform's templatefile() fills it."""
    text = Template(POLICY.read_text()).substitute(cluster_name=cluster, vpc_id=vpc_id)
    document: dict[str, Any] = json.loads(text)
    return document


def statements() -> dict[str, frozenset[str]]:
    """Each statement of the shipped policy by Sid, with the actions it allows."""
    found = shipped_policy(cluster="c", vpc_id="vpc-1")["Statement"]
    return {s["Sid"]: frozenset(s["Action"] if isinstance(s["Action"], list) else [s["Action"]]) for s in found}


def seed(sim: Ec2Sim, path: Any) -> AwsCloud:
    ec2 = sim.client()
    world = aws_world.World(sim=sim, ec2=ec2, seed=ec2_seed.vpc(ec2, cluster="prod"), path=path)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=world.seed.vpc_id)
    for table in world.seed.table_ids:
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    return AwsCloud(world, igw)


class AwsCloud:
    observation = frozenset({"DescribeVpcs", "DescribeRouteTables", "DescribeInstances", "GetServiceQuota"})
    ACTIVE = "active"
    TARGET_STOPPED = "blackhole"
    TARGET_GONE = "blackhole"
    ROUTE_QUOTA = "L-93826ACB"
    READ_GRANT = "ReadTheNetwork"
    DENIED_CODES = frozenset({"UnauthorizedOperation"})

    def __init__(self, world: aws_world.World, igw: str) -> None:
        self.world = world
        self.ec2 = world.ec2
        self.igw = igw
        self._user: dict[str, str] = {}
        self._strangers: set[str] = set()
        """Destinations add_appliance and add_neighbour routed: never ours."""

    # -- the world -------------------------------------------------------------------------

    def add_nodes(self, count: int, *, forwarding: bool = False) -> list[str]:
        made = ec2_seed.launch(self.ec2, self.world.seed, count)
        for node in made:
            # EC2 reports launch times to the second: set them apart so creation order is observable.
            born = self.world.seed.instance_ids.index(node)
            self.world.sim.set_launch_time(node, BORN + timedelta(minutes=born))
            if forwarding:
                self.ec2.modify_network_interface_attribute(
                    NetworkInterfaceId=self._primary_eni(node), SourceDestCheck={"Value": False}
                )
        return made

    def terminate(self, node: str) -> None:
        self.ec2.terminate_instances(InstanceIds=[node])

    def stop(self, node: str) -> None:
        self.ec2.stop_instances(InstanceIds=[node])

    def start(self, node: str) -> None:
        self.ec2.start_instances(InstanceIds=[node])

    def record(self, node: str, cidr: str) -> None:
        self.ec2.create_tags(Resources=[node], Tags=[{"Key": CIDR_TAG, "Value": cidr}])

    def add_route(self, destination: str, *, to: str) -> None:
        for table in self.tables():
            self.ec2.create_route(
                RouteTableId=table, DestinationCidrBlock=destination, NetworkInterfaceId=self._primary_eni(to)
            )

    def bend(self, destination: str, to: str) -> None:
        for table in self.tables():
            self.ec2.replace_route(
                RouteTableId=table, DestinationCidrBlock=destination, NetworkInterfaceId=self._primary_eni(to)
            )

    def remove_route(self, destination: str) -> None:
        for table in self.tables():
            self.ec2.delete_route(RouteTableId=table, DestinationCidrBlock=destination)

    def add_foreign_route(self, destination: str, *, to: str | None = None) -> str:
        target = {"NetworkInterfaceId": self._primary_eni(to)} if to else {"GatewayId": self.igw}
        for table in self.tables():
            self.ec2.create_route(RouteTableId=table, DestinationCidrBlock=destination, **target)
        return next(iter(target.values()))

    def add_foreign_routes(self, *, via: list[str]) -> list[str]:
        """A peering route inside the cluster range (the internet route is there from the start)."""
        peer = self.ec2.create_vpc(CidrBlock="172.20.0.0/16")["Vpc"]["VpcId"]
        pcx = self.ec2.create_vpc_peering_connection(VpcId=self.world.seed.vpc_id, PeerVpcId=peer)
        self.ec2.create_route(
            RouteTableId=self.tables()[0],
            DestinationCidrBlock="10.244.0.0/24",
            VpcPeeringConnectionId=pcx["VpcPeeringConnection"]["VpcPeeringConnectionId"],
        )
        return ["10.244.0.0/24"]

    def add_appliance(self, destination: str) -> str:
        (appliance,) = self._launch({"Name": "firewall"})
        self._route_everywhere(destination, appliance)
        return appliance

    def add_neighbour(self, cluster: str, subnets: list[str]) -> list[str]:
        tag = {"Key": f"kubernetes.io/cluster/{cluster}", "Value": "owned"}
        self.ec2.create_tags(Resources=self.tables(), Tags=[tag])
        made = []
        for subnet in subnets:
            (vm,) = self._launch({tag["Key"]: "owned", CIDR_TAG: subnet})
            self._route_everywhere(subnet, vm)
            made.append(vm)
        return made

    def leave(self, node: str) -> None:
        self.ec2.delete_tags(Resources=[node], Tags=[{"Key": f"kubernetes.io/cluster/{CLUSTER}"}])

    def _launch(self, tags: dict[str, str]) -> list[str]:
        """A VM in the VPC that is not one of the seed's nodes."""
        spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
        answer = self.ec2.run_instances(
            ImageId=ec2_seed.IMAGE,
            MinCount=1,
            MaxCount=1,
            SubnetId=self.world.seed.subnet_ids[0],
            TagSpecifications=spec,
        )
        return [i["InstanceId"] for i in answer["Instances"]]

    def _route_everywhere(self, destination: str, vm: str) -> None:
        answer = self.ec2.describe_instances(InstanceIds=[vm])["Reservations"][0]["Instances"][0]
        eni = next(e for e in answer["NetworkInterfaces"] if e["Attachment"]["DeviceIndex"] == 0)
        for table in self.tables():
            self.ec2.create_route(
                RouteTableId=table, DestinationCidrBlock=destination, NetworkInterfaceId=eni["NetworkInterfaceId"]
            )
        self._strangers.add(destination)

    def dual_stack(self) -> None:
        self.ec2.associate_vpc_cidr_block(VpcId=self.world.seed.vpc_id, AmazonProvidedIpv6CidrBlock=True)

    def limit_routes(self, room: int) -> None:
        # Routes per table, the internet route included; the table's local route does not count.
        self.world.sim.route_limit = room + 1

    def throttle(self) -> None:
        self.world.sim.throttle_rate = 0.3

    def slow(self) -> None:
        self.world.sim.latency = 0.02

    def chaos(self, *, seed: int, **shares: float) -> None:
        self.world.sim.set_chaos(Chaos(seed=seed, **shares))

    def refuse_each_read_once(self) -> None:
        for number, action in enumerate(sorted(self.observation)):
            self.world.sim.faults.fail_next(action, throttled() if number % 2 else internal())

    def lag_reads(self, seconds: float) -> None:
        self.world.sim.set_read_lag(seconds)

    def trip_after(self, writes: int, action: Callable[[], None]) -> None:
        self.world.sim.trip_after(writes, action)

    def cli_env(self) -> dict[str, str]:
        return self.world.sim.env()

    # -- config and credentials --------------------------------------------------------------

    def config(self, **overrides: Any) -> Config:
        return self.world.config(**_translate(overrides))

    def write_config(self, **overrides: Any) -> str:
        return self.world.write_config(**_translate(overrides))

    def provider(self, **overrides: Any) -> Provider:
        return self.world.provider(**_translate(overrides))

    def settings(self) -> dict[str, str]:
        return {
            "provider": "aws",
            "cluster.name": "prod",
            "cluster.cidr": "10.244.0.0/16",
            "aws.vpc_id": self.world.seed.vpc_id,
            "aws.region": "us-east-1",
        }

    def select_nothing(self) -> list[str]:
        return ["--set", "aws.node_tags=role=nothing-matches"]

    def drop_credentials(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.delenv(key)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    def node_cidr(self, node: str) -> tuple[list[str], dict[str, str]]:
        return ["--instance-id", node], {}

    def overlapping_cidr(self) -> tuple[str, str]:
        return '"10.0.128.0/17"', "10.0.0.0/16"

    def missing_network(self) -> tuple[str, str]:
        return "vpc-0000000000000dead", "VPC vpc-0000000000000dead"

    # -- least privilege ---------------------------------------------------------------------

    def grants(self) -> dict[str, frozenset[str]]:
        return statements()

    def restrict(self, without: str | None = None) -> dict[str, str]:
        sim = self.world.sim
        policy = shipped_policy(cluster="prod", vpc_id=self.world.seed.vpc_id)
        policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != without]
        if not self._user:
            sim.enforce_iam()
            # Reads of the cloud from here on sign as the sim's administrator.
            self.world.ec2 = self.ec2 = sim.client()
            self._user = sim.add_user(USER, policy)
        else:
            sim.set_policy(USER, policy)
        return {
            "AWS_ACCESS_KEY_ID": self._user["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": self._user["aws_secret_access_key"],
        }

    def exercise_every_grant(self) -> None:
        """Nothing to arrange: every EC2 action of the policy is a plain read or write."""

    # -- the cloud, read back ----------------------------------------------------------------

    def tables(self) -> list[str]:
        return list(self.world.seed.table_ids)

    def pod_cidrs(self, version: int = 4) -> dict[str, str]:
        key = CIDR_TAG if version == 4 else f"{CIDR_TAG}-v6"
        return {
            iid: tags[key]
            for iid, instance in self.world.instances().items()
            if instance["State"]["Name"] != "terminated"
            and key in (tags := _tags(instance))
            and f"kubernetes.io/cluster/{CLUSTER}" in tags
        }

    def labels(self, node: str) -> dict[str, str]:
        return _tags(self.world.instances()[node])

    def forwarding(self, node: str) -> bool:
        return self._primary(node)["SourceDestCheck"] is False

    def routes(self) -> dict[str, dict[str, str | None]]:
        owners = {
            eni["NetworkInterfaceId"]: iid
            for iid, instance in self.world.instances().items()
            if instance["State"]["Name"] != "terminated"
            for eni in instance.get("NetworkInterfaces", [])
            if eni["Attachment"]["DeviceIndex"] == 0
        }
        return {
            table: {dest: owners.get(raw.get("NetworkInterfaceId", "")) for dest, raw in routes.items()}
            for table, routes in self._ours().items()
        }

    def route_states(self) -> dict[str, dict[str, str]]:
        return {table: {dest: raw["State"] for dest, raw in routes.items()} for table, routes in self._ours().items()}

    def raw_routes(self) -> dict[str, Any]:
        tables = self.ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [self.world.seed.vpc_id]}])
        return {
            f"{t['RouteTableId']} {r.get('DestinationCidrBlock') or r.get('DestinationIpv6CidrBlock')}": r
            for t in tables["RouteTables"]
            for r in t["Routes"]
        }

    def _ours(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Routes in the cluster range to a VM: in a managed table, those are ours by definition."""
        return {
            table: {
                dest: raw
                for dest, raw in self.world.routes(table).items()
                if in_cluster(dest)
                and ("NetworkInterfaceId" in raw or "InstanceId" in raw)
                and dest not in self._strangers
            }
            for table in self.tables()
        }

    def _primary(self, node: str) -> dict[str, Any]:
        interfaces = self.world.instances()[node]["NetworkInterfaces"]
        return dict(next(e for e in interfaces if e["Attachment"]["DeviceIndex"] == 0))

    def _primary_eni(self, node: str) -> str:
        return str(self._primary(node)["NetworkInterfaceId"])

    # -- the call log ------------------------------------------------------------------------

    def writes(self) -> list[str]:
        return [WRITE_KINDS.get(call.action, call.action) for call in self.world.sim.writes()]

    def calls(self) -> Counter[str]:
        return Counter(call.action for call in self.world.sim.calls)

    def reads(self) -> Counter[str]:
        return Counter(call.action for call in self.world.sim.calls if call.action not in MUTATING)

    def fresh_reads(self, writes: Counter[str]) -> Counter[str]:
        return Counter()

    def forwarded(self) -> list[str]:
        owners = {self._primary_eni(node): node for node in self.world.seed.instance_ids}
        return [
            owners.get(call.params["NetworkInterfaceId"], call.params["NetworkInterfaceId"])
            for call in self.world.sim.writes()
            if call.action == "ModifyNetworkInterfaceAttribute"
        ]

    def throttled(self) -> int:
        return sum(1 for call in self.world.sim.writes() if call.status == 503)

    def reset_calls(self) -> None:
        self.world.sim.reset_calls()

    def provider_id(self, node: str) -> str:
        zone = self.world.instances()[node]["Placement"]["AvailabilityZone"]
        return f"aws:///{zone}/{node}"


def _translate(overrides: dict[str, Any]) -> dict[str, Any]:
    """The contract's `network` is the VPC."""
    return {("vpc_id" if key == "network" else key): value for key, value in overrides.items()}


def _tags(instance: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
