"""The lab's cloud: start the embedded EC2, seed the lab's VPC, read back what the fabric follows.

`open_cloud` picks the provider; the GCE counterpart of this module is cloud_gce.py. The daemon
drives either through `LabCloud`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cloudroutes.sim.lab import names
from cloudroutes.sim.lab.cloudview import CloudView, view_from_ec2
from cloudroutes.sim.lab.errors import LabError
from cloudroutes.sim.lab.names import VmSpec

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "lab", "AWS_SECRET_ACCESS_KEY": "lab", "AWS_DEFAULT_REGION": names.REGION}
CLUSTER_TAG = f"kubernetes.io/cluster/{names.CLUSTER}"
IMAGE_ID = "ami-12c6146b"  # moto's default AMI; any id the embedded cloud knows will do


class RunningCloud(Protocol):
    """What the lab needs of a cloud: where it listens, and how to stop it."""

    @property
    def endpoint(self) -> str: ...

    def stop(self) -> None: ...


class LabCloud(Protocol):
    """A started and seeded embedded cloud, as the lab daemon drives it."""

    @property
    def endpoint(self) -> str: ...

    def observe(self) -> CloudView:
        """One look at what the fabric follows; cheap, as the daemon looks every SYNC_INTERVAL_S."""
        ...

    def lab_fields(self) -> dict[str, str]:
        """The provider's own LabInfo fields (vpc_id ... or project, network), and provider itself."""
        ...

    def vm_ids(self) -> tuple[tuple[str, str], ...]:
        """(instance id, ENI id or "") of each VM, in VM order."""
        ...

    def node_ids(self) -> tuple[tuple[str, str], ...]:
        """(Node name, spec.providerID) of each VM, in VM order, as its kubelet would register it."""
        ...

    def stop(self) -> None: ...


def open_cloud(provider: str, vms: Sequence[VmSpec]) -> LabCloud:
    if provider == "aws":
        return Ec2LabCloud(vms)
    if provider == "gce":
        from cloudroutes.sim.lab.cloud_gce import ComputeLabCloud

        return ComputeLabCloud(vms)
    raise LabError(f"the lab has no embedded cloud {provider!r} (one of: {', '.join(names.PROVIDERS)})")


class Ec2LabCloud:
    """The embedded EC2 with the lab's VPC in it."""

    def __init__(self, vms: Sequence[VmSpec]) -> None:
        self._cloud = start_cloud()
        try:
            self._ec2 = ec2_client(self._cloud.endpoint)
            self._seeded = seed(self._ec2, vms)
        except BaseException:
            self._cloud.stop()
            raise

    @property
    def endpoint(self) -> str:
        return self._cloud.endpoint

    def observe(self) -> CloudView:
        view = observe(self._ec2, self._seeded.vpc_id, self._seeded.subnet_id)
        forget_calls(self._cloud)
        return view

    def lab_fields(self) -> dict[str, str]:
        return {
            "provider": "aws",
            "vpc_id": self._seeded.vpc_id,
            "subnet_id": self._seeded.subnet_id,
            "route_table_id": self._seeded.route_table_id,
            "region": names.REGION,
        }

    def vm_ids(self) -> tuple[tuple[str, str], ...]:
        return tuple(zip(self._seeded.instance_ids, self._seeded.eni_ids, strict=True))

    def node_ids(self) -> tuple[tuple[str, str], ...]:
        # A kubelet on EC2 names its Node by the instance's private DNS name (ip-10-0-1-11.ec2.internal).
        found = self._ec2.describe_instances(InstanceIds=list(self._seeded.instance_ids))["Reservations"]
        by_id = {i["InstanceId"]: i for r in found for i in r["Instances"]}
        return tuple(
            (
                by_id[iid].get("PrivateDnsName") or iid,
                f"aws:///{by_id[iid]['Placement']['AvailabilityZone']}/{iid}",
            )
            for iid in self._seeded.instance_ids
        )

    def stop(self) -> None:
        self._cloud.stop()


def start_cloud() -> RunningCloud:
    """The one seam that picks the embedded cloud: the product's EC2 sim (moto plus the AWS rules
    moto lacks). Plain moto would be `ThreadedMotoServer(ip_address="127.0.0.1", port=0)` started
    here, with the werkzeug logger set to ERROR."""
    from cloudroutes.sim.ec2 import Ec2Sim

    return Ec2Sim().start()


def forget_calls(cloud: RunningCloud) -> None:
    """Empty the sim's call log, if it keeps one: the lab reads the cloud ten times a second and,
    unlike a test, never looks at the log, which would otherwise grow for as long as the lab is up."""
    reset = getattr(cloud, "reset_calls", None)
    if reset is not None:
        reset()


def ec2_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "ec2",
        endpoint_url=endpoint,
        region_name=names.REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Seeded:
    vpc_id: str
    subnet_id: str
    route_table_id: str
    instance_ids: tuple[str, ...]
    eni_ids: tuple[str, ...]


def _tags(kind: str, **tags: str) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def seed(ec2: Any, vms: Sequence[VmSpec]) -> Seeded:
    """The VPC the lab emulates: one subnet, one cluster-owned route table, one instance per VM."""
    owned = {CLUSTER_TAG: "owned"}
    vpc_id = ec2.create_vpc(CidrBlock=str(names.VPC_CIDR))["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=str(names.SUBNET_CIDR))["Subnet"]["SubnetId"]
    table_id = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=_tags("route-table", **owned))["RouteTable"][
        "RouteTableId"
    ]
    ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
    instances = [
        ec2.run_instances(
            ImageId=IMAGE_ID,
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            SubnetId=subnet_id,
            PrivateIpAddress=str(vm.address),
            TagSpecifications=_tags("instance", Name=vm.name, **owned),
        )["Instances"][0]
        for vm in vms
    ]
    return Seeded(
        vpc_id=vpc_id,
        subnet_id=subnet_id,
        route_table_id=table_id,
        instance_ids=tuple(i["InstanceId"] for i in instances),
        eni_ids=tuple(i["NetworkInterfaces"][0]["NetworkInterfaceId"] for i in instances),
    )


def observe(ec2: Any, vpc_id: str, subnet_id: str) -> CloudView:
    """One look at the cloud: the VPC's tables and instances (two calls, filtered client-side)."""
    vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    tables = ec2.describe_route_tables(Filters=vpc)["RouteTables"]
    reservations = ec2.describe_instances(Filters=vpc)["Reservations"]
    return view_from_ec2(tables, reservations, subnet_id)
