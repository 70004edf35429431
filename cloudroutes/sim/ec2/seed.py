"""Build a cluster's worth of AWS in any EC2 endpoint, through the public API only.

Used by the demo, `cloudroutes sim aws` and the tests. Everything goes through boto3, so a
seeded sim looks exactly like a VPC someone built by hand. Never here: a reach into moto or the sim
(an import-linter contract keeps it so), so seeding works against any EC2 endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

IMAGE = "ami-12c6146b"  # one of moto's built-in images


@dataclass(slots=True, kw_only=True)
class Seed:
    cluster: str
    vpc_id: str
    subnet_ids: list[str]
    table_ids: list[str]
    instance_ids: list[str] = field(default_factory=list)
    foreign: dict[str, str] = field(default_factory=dict)
    """Foreign routes seeded, destination -> target, which must survive every run."""


def vpc(ec2: Any, *, cluster: str, cidr: str = "10.0.0.0/16", azs: int = 2, tag_tables: bool = True) -> Seed:
    """A VPC with one subnet and one route table per AZ (the normal private-subnet layout)."""
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    region = ec2.meta.region_name
    subnets, tables = [], []
    for index in range(azs):
        subnet = ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=f"10.0.{index + 1}.0/24", AvailabilityZone=f"{region}{'abcdef'[index]}"
        )["Subnet"]["SubnetId"]
        table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        if tag_tables:
            ec2.create_tags(Resources=[table], Tags=[{"Key": f"kubernetes.io/cluster/{cluster}", "Value": "owned"}])
        subnets.append(subnet)
        tables.append(table)
    return Seed(cluster=cluster, vpc_id=vpc_id, subnet_ids=subnets, table_ids=tables)


def launch(ec2: Any, seed: Seed, count: int, *, interfaces: int = 1, name_from: int | None = None) -> list[str]:
    """Node instances tagged for the cluster, spread over the AZ subnets."""
    start = len(seed.instance_ids) + 1 if name_from is None else name_from
    launched = []
    for index in range(count):
        subnet = seed.subnet_ids[(start + index - 1) % len(seed.subnet_ids)]
        tags = [
            {"Key": f"kubernetes.io/cluster/{seed.cluster}", "Value": "owned"},
            {"Key": "Name", "Value": f"node-{start + index}"},
        ]
        params: dict[str, Any] = {
            "ImageId": IMAGE,
            "MinCount": 1,
            "MaxCount": 1,
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}],
        }
        if interfaces > 1:
            params["NetworkInterfaces"] = [{"DeviceIndex": i, "SubnetId": subnet} for i in range(interfaces)]
        else:
            params["SubnetId"] = subnet
        launched.append(ec2.run_instances(**params)["Instances"][0]["InstanceId"])
    seed.instance_ids += launched
    return launched


def foreign_routes(ec2: Any, seed: Seed, *, inside: str = "10.244.200.0/24") -> None:
    """An internet gateway default route, and a peering route inside the cluster range."""
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=seed.vpc_id)
    peer_vpc = ec2.create_vpc(CidrBlock="172.20.0.0/16")["Vpc"]["VpcId"]
    pcx = ec2.create_vpc_peering_connection(VpcId=seed.vpc_id, PeerVpcId=peer_vpc)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"
    ]
    for table in seed.table_ids:
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.create_route(RouteTableId=seed.table_ids[0], DestinationCidrBlock=inside, VpcPeeringConnectionId=pcx)
    seed.foreign.update({"0.0.0.0/0": igw, inside: pcx})


def cluster(ec2: Any, *, cluster: str = "demo", nodes: int = 6, multi_interface: int = 1, azs: int = 2) -> Seed:
    """The demo's world: AZ tables tagged for the cluster, foreign routes, nodes (some multi-ENI)."""
    seed = vpc(ec2, cluster=cluster, azs=azs)
    foreign_routes(ec2, seed)
    launch(ec2, seed, nodes - multi_interface)
    launch(ec2, seed, multi_interface, interfaces=2)
    return seed
