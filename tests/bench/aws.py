"""AWS converges, side by side, against the embedded EC2 cloud with EC2's own limits switched on.

The sim enforces EC2's token buckets (route writes share the mutating bucket, 50 burst 5/s;
CreateTags 100, 10/s; ModifyNetworkInterfaceAttribute 100, 5/s) and answers reads in 30 ms and
writes in 60 ms, so the numbers show what a real account's limits do to each strategy. N new
nodes, two AZ route tables, the route quota raised to 1,000 (as a big cluster's account would).
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from ipaddress import ip_network
from typing import Any

from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from cloudroutes import config as config_mod
from cloudroutes import engine, providers
from cloudroutes.sim.ec2 import Ec2Sim
from cloudroutes.sim.ec2.calls import MUTATING
from tests.bench import floors

READ_S, WRITE_S = 0.03, 0.06
CLUSTER = "bench"
CLUSTER_CIDR = "10.64.0.0/14"
"""1,024 blocks of /24: room for the 1,000-node run."""
TAG = f"kubernetes.io/cluster/{CLUSTER}"


class World:
    """A VPC with two /20 subnets (room for 1,000 nodes), a tagged table per subnet, N nodes."""

    def __init__(self, nodes: int, tables: int = 2, *, metered: bool = True) -> None:
        self.sim = Ec2Sim(route_limit=1000).start()
        self.ec2 = self.sim.client()
        self.vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.tables: list[str] = []
        self.instances: list[str] = []
        for i in range(tables):
            subnet = self.ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.0.{16 * i}.0/20")["Subnet"]["SubnetId"]
            table = self.ec2.create_route_table(VpcId=self.vpc)["RouteTable"]["RouteTableId"]
            self.ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
            self.ec2.create_tags(Resources=[table], Tags=[{"Key": TAG, "Value": "owned"}])
            self.tables.append(table)
            share = nodes // tables + (1 if i < nodes % tables else 0)
            if share:
                spec = [{"ResourceType": "instance", "Tags": [{"Key": TAG, "Value": "owned"}]}]
                made = self.ec2.run_instances(
                    ImageId="ami-12c6146b", MinCount=share, MaxCount=share, SubnetId=subnet, TagSpecifications=spec
                )
                self.instances += [i["InstanceId"] for i in made["Instances"]]
        first = self.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [self.vpc]}])["Subnets"][0]
        appliance = self.ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=first["SubnetId"])
        self.appliance = appliance["Instances"][0]["InstanceId"]
        """An instance that is no node: what the noisy neighbour writes to."""
        # EC2's limits from here on: setting the world up is not what is measured.
        if metered:
            self.sim.latency, self.sim.write_latency = READ_S, WRITE_S
            self.sim.set_write_bucket((50, 5.0))
        self.sim.reset_calls()

    def client(self, retries: dict[str, Any], pool: int = 10) -> Any:
        import boto3

        return boto3.client(
            "ec2",
            endpoint_url=self.sim.endpoint,
            region_name=self.sim.region,
            aws_access_key_id="sim",
            aws_secret_access_key="sim",
            config=BotoConfig(retries=retries, max_pool_connections=pool),
        )

    def config_text(self) -> str:
        return (
            f'provider = "aws"\n[cluster]\nname = "{CLUSTER}"\ncidr = "{CLUSTER_CIDR}"\n'
            f'[aws]\nregion = "{self.sim.region}"\nvpc_id = "{self.vpc}"\nendpoint = "{self.sim.endpoint}"\n'
            "emulator = true\n"
        )

    def config(self) -> config_mod.Config:
        return config_mod.from_text(self.config_text())

    def row(self, strategy: str, seconds: float, converged: bool, **extra: Any) -> dict[str, object]:
        calls = self.sim.calls
        writes = [c for c in calls if c.action in MUTATING]
        floor = floors.aws(len(self.instances), len(self.tables), write_latency=WRITE_S)
        return {
            "strategy": strategy,
            "nodes": len(self.instances),
            "seconds": round(seconds, 1),
            "x floor": round(seconds / floor, 2),
            "reads": len(calls) - len(writes),
            "writes": len(writes),
            "throttled": sum(1 for c in writes if c.status == 503),
            "converged": converged,
            **extra,
        }

    def stop(self) -> None:
        self.sim.stop()


def floor_row(nodes: int, tables: int = 2) -> dict[str, object]:
    return {
        "strategy": "floor (EC2's buckets, each family in parallel)",
        "nodes": nodes,
        "seconds": round(floors.aws(nodes, tables, write_latency=WRITE_S), 1),
        "x floor": 1.0,
        "reads": "",
        "writes": nodes * (tables + 2),
        "throttled": 0,
        "converged": "",
    }


def cloudroutes(nodes: int, *, neighbour: float = 0.0) -> dict[str, object]:
    """`neighbour`: another client of the account spends this many mutating calls a second."""
    world = World(nodes)
    noisy = _Neighbour(world, neighbour) if neighbour else None
    cfg = world.config()
    provider = providers.create("aws", cfg)
    started = time.monotonic()
    report = engine.apply(provider, cfg, engine.make_plan(provider, cfg))
    seconds = time.monotonic() - started
    neighbour_calls = noisy.stop() if noisy else 0
    label = "cloudroutes" + (f", neighbour spending {neighbour:g}/s" if neighbour else "")
    result = world.row(label, seconds, report.converged, **({"neighbour calls": neighbour_calls} if noisy else {}))
    world.stop()
    return result


def kubernetes(nodes: int) -> dict[str, object]:
    """The Kubernetes AWS provider's call pattern per route (kubernetes/cloud-provider-aws
    pkg/providers/v1/aws_routes.go), re-created: DescribeInstances for the node, then
    ModifyInstanceAttribute(SourceDestCheck=false) on every create, a full DescribeRouteTables,
    CreateRoute; up to 200 routes in flight (the route controller's semaphore), botocore's standard
    retries, no client-side limit; what fails waits for the next pass 10 s later. It manages one
    table; here it runs for each table, as two controllers would."""
    world = World(nodes)
    ec2 = world.client({"mode": "standard"}, pool=200)
    pending = {(iid, table): _block(n) for n, iid in enumerate(world.instances) for table in world.tables}
    started, passes = time.monotonic(), 0

    def one(key: tuple[str, str]) -> bool:
        iid, table = key
        try:
            ec2.describe_instances(InstanceIds=[iid])
            ec2.modify_instance_attribute(InstanceId=iid, SourceDestCheck={"Value": False})
            ec2.describe_route_tables()
            ec2.create_route(RouteTableId=table, DestinationCidrBlock=pending[key], InstanceId=iid)
            return True
        except ClientError as exc:
            return exc.response["Error"]["Code"] == "RouteAlreadyExists"

    while pending and passes < 60:
        passes += 1
        with ThreadPoolExecutor(max_workers=200) as pool:
            done = dict(zip(list(pending), pool.map(one, list(pending)), strict=True))
        pending = {key: cidr for key, cidr in pending.items() if not done[key]}
        if pending:
            time.sleep(10)  # --route-reconciliation-period
    result = world.row(
        "Kubernetes AWS provider pattern (re-created)", time.monotonic() - started, not pending, passes=passes
    )
    world.stop()
    return result


def serial(nodes: int) -> dict[str, object]:
    """A shell script's shape: for each node, the forwarding flag, the tag, a route per table, one
    call at a time with the AWS CLI's default (legacy) retries. The CLI's own start-up, about 0.4 s
    a call measured on this machine, is left out: this is the script's floor, not its time."""
    world = World(nodes)
    ec2 = world.client({"mode": "legacy", "total_max_attempts": 5})
    started, failed = time.monotonic(), 0
    for n, iid in enumerate(world.instances):
        found = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        eni = found["NetworkInterfaces"][0]["NetworkInterfaceId"]
        steps: list[tuple[str, dict[str, Any]]] = [
            ("modify_network_interface_attribute", {"NetworkInterfaceId": eni, "SourceDestCheck": {"Value": False}}),
            ("create_tags", {"Resources": [iid], "Tags": [{"Key": "cloudroutes.io/pod-cidr", "Value": _block(n)}]}),
            *(
                ("create_route", {"RouteTableId": t, "DestinationCidrBlock": _block(n), "NetworkInterfaceId": eni})
                for t in world.tables
            ),
        ]
        for operation, params in steps:
            try:
                getattr(ec2, operation)(**params)
            except ClientError:
                failed += 1
    result = world.row("serial script (one call at a time)", time.monotonic() - started, failed == 0)
    world.stop()
    return result


def _block(n: int) -> str:
    """The n-th /24 of the cluster range, as the scripts hand them out."""
    return str(_blocks()[n])


@cache
def _blocks() -> list[Any]:
    return list(ip_network(CLUSTER_CIDR).subnets(new_prefix=24))


class _Neighbour:
    """Another tool in the account: it spends mutating calls at a steady rate, refusals included."""

    def __init__(self, world: World, rate: float) -> None:
        self._ec2 = world.client({"total_max_attempts": 1})
        self._target = world.appliance
        self._interval = 1.0 / rate
        self._stop = threading.Event()
        self.calls = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with contextlib.suppress(ClientError):  # a refusal spends the account's bucket all the same
                self._ec2.modify_instance_attribute(InstanceId=self._target, SourceDestCheck={"Value": True})
            self.calls += 1

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.calls


def reads_per_pass(nodes: int) -> dict[str, object]:
    """A converged cluster observed once more: reads are pages, not nodes; nothing is written."""
    world = World(nodes, metered=False)
    cfg = world.config()
    unmetered = config_mod.from_text(
        world.config_text() + "[limits]\nwrite_burst = 100000\nwrite_rate = 100000.0\n"
    )  # setting the cluster up is not what is measured
    engine.apply(
        providers.create("aws", unmetered), unmetered, engine.make_plan(providers.create("aws", unmetered), unmetered)
    )
    world.sim.reset_calls()
    started = time.monotonic()
    planned = engine.make_plan(providers.create("aws", cfg), cfg)
    seconds = time.monotonic() - started
    result = {
        "cloud": "AWS",
        "nodes": nodes,
        "read calls": len(world.sim.calls),
        "writes": len([c for c in world.sim.calls if c.action in MUTATING]),
        "plan empty": planned.plan.empty,
        "seconds": round(seconds, 2),
    }
    world.stop()
    return result
