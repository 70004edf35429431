"""Against a plain moto server in its own process (none of the sim's rules), and a VPC built by
someone else through the public API: apply converges and an immediate plan wants nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from tests.cli_output import parse_json

CLI = [sys.executable, "-m", "cloudroutes"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def moto_server():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_apply_converges_on_plain_moto(moto_server, tmp_path: Path):
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    ec2 = boto3.client(
        "ec2", endpoint_url=moto_server, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    vpc = ec2.create_vpc(CidrBlock="172.16.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="172.16.1.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "kubernetes.io/cluster/edge", "Value": "owned"}]}]
    nodes = [
        i["InstanceId"]
        for i in ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=3, MaxCount=3, SubnetId=subnet, TagSpecifications=tags
        )["Instances"]
    ]
    config = tmp_path / "cloudroutes.toml"
    config.write_text(
        f'provider = "aws"\n[cluster]\nname = "edge"\ncidr = "10.100.0.0/16"\n'
        f'[aws]\nregion = "eu-west-1"\nvpc_id = "{vpc}"\nroute_tables = ["{table}"]\n'
    )

    applied = subprocess.run(
        [*CLI, "apply", "--yes", "-c", str(config)], env=env, capture_output=True, text=True, timeout=120
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr

    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    ours = {r["DestinationCidrBlock"]: r["NetworkInterfaceId"] for r in routes if r.get("NetworkInterfaceId")}
    assert sorted(ours) == ["10.100.0.0/24", "10.100.1.0/24", "10.100.2.0/24"]
    assert any(r.get("GatewayId") == igw for r in routes), "the foreign default route is intact"
    instances = [i for r in ec2.describe_instances(InstanceIds=nodes)["Reservations"] for i in r["Instances"]]
    for instance in instances:
        eni = instance["NetworkInterfaces"][0]
        assert eni["SourceDestCheck"] is False
        assert (
            ours[{t["Key"]: t["Value"] for t in instance["Tags"]}["cloudroutes.io/pod-cidr"]]
            == eni["NetworkInterfaceId"]
        )

    again = subprocess.run(
        [*CLI, "plan", "--detailed-exitcode", "-o", "json", "-c", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    calls = parse_json("plan", again.stdout)["api_calls"]
    assert set(calls) <= {"DescribeVpcs", "DescribeRouteTables", "DescribeInstances", "GetServiceQuota"}
