"""The EC2 sim's IAM mode: the policy evaluation moto leaves out, and the shipped policy enforced.

The evaluator is checked on its own (tables of statements, resources and condition keys), then
through boto3 against the sim: the shipped policy allows cloudroutes' calls on the cluster's
resources and refuses the same calls anywhere else, as IAM does on AWS.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudroutes.sim.ec2 import Ec2Sim, seed
from cloudroutes.sim.ec2.iam import Resource, Unsupported, denied
from tests.contract.aws_cloud import shipped_policy

TABLE = "arn:aws:ec2:us-east-1:123456789012:route-table/rtb-1"
TAG = "ec2:ResourceTag/kubernetes.io/cluster/prod"
TAGGED = {TAG.lower(): ("owned",)}
OURS = {"aws:tagkeys": ("cloudroutes.io/pod-cidr", "cloudroutes.io/pod-cidr-v6")}
MIXED = {"aws:tagkeys": ("cloudroutes.io/pod-cidr", "Name")}
VPC = "arn:aws:ec2:*:*:vpc/vpc-1"
TEAM = "ec2:ResourceTag/team"
ALL_OURS = {
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "ec2:CreateRoute",
            "Resource": "arn:aws:ec2:*:*:route-table/*",
            "Condition": {"ForAllValues:StringLike": {"aws:TagKeys": "cloudroutes.io/*"}},
        }
    ]
}
IN_VPC = {"ec2:vpc": ("arn:aws:ec2:us-east-1:1:vpc/vpc-1",)}
IN_OTHER_VPC = {"ec2:vpc": ("arn:aws:ec2:us-east-1:1:vpc/vpc-2",)}
DENY_ALL = {"Effect": "Deny", "Action": "*", "Resource": "*"}


def allow(condition: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": "ec2:CreateRoute", "Resource": "arn:aws:ec2:*:*:route-table/*"}
    return {"Statement": [{**statement, **fields, **({"Condition": condition} if condition else {})}]}


@pytest.mark.parametrize(
    ("policy", "context", "allowed"),
    [
        # Action and Resource
        pytest.param(allow(), {}, True, id="action and resource match"),
        pytest.param(allow(Action="ec2:create*"), {}, True, id="action wildcard, any case"),
        pytest.param(allow(Action="ec2:DeleteRoute"), {}, False, id="another action"),
        pytest.param(allow(Resource="arn:aws:ec2:*:*:instance/*"), {}, False, id="another resource type"),
        pytest.param(allow(Resource="arn:aws:ec2:*:*:route-table/rtb-2"), {}, False, id="another table"),
        pytest.param(allow(NotAction="ec2:Describe*", Action=None), {}, True, id="NotAction"),
        # Conditions
        pytest.param(allow({"Null": {TAG: "false"}}), TAGGED, True, id="tag present"),
        pytest.param(allow({"Null": {TAG: "false"}}), {}, False, id="tag absent"),
        pytest.param(allow({"StringEquals": {TAG.upper(): "owned"}}), TAGGED, True, id="key names ignore case"),
        pytest.param(allow({"StringEquals": {TAG: "shared"}}), TAGGED, False, id="other value"),
        pytest.param(allow({"StringNotEquals": {TEAM: "x"}}), {}, True, id="negated, key absent: true"),
        pytest.param(allow({"StringLikeIfExists": {TEAM: "x*"}}), {}, True, id="IfExists, key absent"),
        pytest.param(allow({"StringLike": {TEAM: "x*"}}), {}, False, id="key absent: false"),
        pytest.param(ALL_OURS, OURS, True, id="all keys ours"),
        pytest.param(ALL_OURS, MIXED, False, id="one key not ours"),
        pytest.param(allow({"ForAnyValue:StringEquals": {"aws:TagKeys": "Name"}}), MIXED, True, id="any value"),
        pytest.param(allow({"ArnLike": {"ec2:Vpc": VPC}}), IN_VPC, True, id="ArnLike"),
        pytest.param(allow({"ArnLike": {"ec2:Vpc": VPC}}), IN_OTHER_VPC, False, id="ArnLike, other VPC"),
        # Deny wins
        pytest.param({"Statement": [*allow()["Statement"], DENY_ALL]}, {}, False, id="explicit deny wins"),
    ],
)  # fmt: skip
def test_the_evaluator_decides_as_iam(
    policy: dict[str, Any], context: dict[str, tuple[str, ...]], allowed: bool
) -> None:
    statements = [{k: v for k, v in s.items() if v is not None} for s in policy["Statement"]]
    refused = denied([{"Statement": statements}], "ec2:CreateRoute", [Resource(arn=TABLE, context=context)])
    assert (refused is None) == allowed


def test_an_operator_the_evaluator_does_not_know_is_refused_not_guessed() -> None:
    policy = allow({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})
    with pytest.raises(Unsupported, match="DateGreaterThan"):
        denied([policy], "ec2:CreateRoute", [Resource(arn=TABLE, context={})])


# -- the sim in IAM mode, under the shipped policy ---------------------------------------------


@pytest.fixture
def world() -> Iterator[World]:
    with Ec2Sim() as sim:
        ec2 = sim.client()
        ours = seed.vpc(ec2, cluster="prod")
        nodes = seed.launch(ec2, ours, 1)
        theirs = _untagged_vpc(ec2)
        stranger = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=theirs.subnet)
        sim.enforce_iam()
        keys = sim.add_user("cloudroutes", shipped_policy(cluster="prod", vpc_id=ours.vpc_id))
        client = boto3.client(
            "ec2",
            endpoint_url=sim.endpoint,
            region_name=sim.region,
            config=Config(retries={"total_max_attempts": 1}),
            **keys,
        )
        yield World(sim, client, ours, nodes[0], theirs, stranger["Instances"][0]["InstanceId"])


@dataclass
class World:
    """The cluster's VPC with one node, and another VPC with an instance nothing tags for it."""

    sim: Ec2Sim
    ec2: Any  # a client signing as the user with only the shipped policy
    ours: Any
    node: str
    theirs: Any
    stranger: str


@dataclass
class _Vpc:
    vpc_id: str
    subnet: str
    table_ids: list[str]


def _untagged_vpc(ec2: Any) -> _Vpc:
    """Another VPC, nothing in it tagged for the cluster."""
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    return _Vpc(vpc_id=vpc, subnet=subnet, table_ids=[table])


def refusal(call: Any) -> str:
    with pytest.raises(ClientError) as info:
        call()
    error = info.value.response["Error"]
    return f"{error['Code']}: {error['Message']}"


def primary_eni(sim: Ec2Sim, instance_id: str) -> str:
    found = sim.client().describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return str(next(e for e in found["NetworkInterfaces"] if e["Attachment"]["DeviceIndex"] == 0)["NetworkInterfaceId"])


def test_route_writes_only_in_tables_tagged_for_the_cluster(world: World) -> None:
    sim, ec2, ours, node, theirs = world.sim, world.ec2, world.ours, world.node, world.theirs
    eni = primary_eni(sim, node)
    ec2.create_route(RouteTableId=ours.table_ids[0], DestinationCidrBlock="10.244.0.0/24", NetworkInterfaceId=eni)

    said = refusal(
        lambda: ec2.create_route(
            RouteTableId=theirs.table_ids[0], DestinationCidrBlock="10.244.0.0/24", NetworkInterfaceId=eni
        )
    )

    assert said.startswith("UnauthorizedOperation: You are not authorized to perform this operation.")
    assert f"ec2:CreateRoute on resource: arn:aws:ec2:us-east-1:123456789012:route-table/{theirs.table_ids[0]}" in said
    assert [c.status for c in sim.calls if c.action == "CreateRoute"] == [200, 403]


def test_tag_writes_only_for_our_keys_on_instances_tagged_for_the_cluster(world: World) -> None:
    ec2, node, stranger = world.ec2, world.node, world.stranger
    ec2.create_tags(Resources=[node], Tags=[{"Key": "cloudroutes.io/pod-cidr", "Value": "10.244.0.0/24"}])
    ec2.delete_tags(Resources=[node], Tags=[{"Key": "cloudroutes.io/pod-cidr"}])

    assert "ec2:CreateTags" in refusal(lambda: ec2.create_tags(Resources=[node], Tags=[{"Key": "Name", "Value": "x"}]))
    assert "ec2:DeleteTags" in refusal(lambda: ec2.delete_tags(Resources=[node]))  # every tag: keys unnamed
    theirs_said = refusal(
        lambda: ec2.create_tags(
            Resources=[stranger], Tags=[{"Key": "cloudroutes.io/pod-cidr", "Value": "10.244.1.0/24"}]
        )
    )
    assert f"instance/{stranger}" in theirs_said


def test_forwarding_only_on_interfaces_of_the_clusters_vpc(world: World) -> None:
    sim, ec2, node, stranger = world.sim, world.ec2, world.node, world.stranger
    ec2.modify_network_interface_attribute(NetworkInterfaceId=primary_eni(sim, node), SourceDestCheck={"Value": False})

    said = refusal(
        lambda: ec2.modify_network_interface_attribute(
            NetworkInterfaceId=primary_eni(sim, stranger), SourceDestCheck={"Value": False}
        )
    )
    assert "ec2:ModifyNetworkInterfaceAttribute" in said


def test_an_unknown_key_is_refused_and_the_switch_is_left_off(world: World) -> None:
    sim = world.sim
    stranger = boto3.client(
        "ec2",
        endpoint_url=sim.endpoint,
        region_name=sim.region,
        aws_access_key_id="AKIANOBODY",
        aws_secret_access_key="x",
    )
    assert refusal(stranger.describe_vpcs).startswith("AuthFailure:")
    sim.stop()
    from moto import settings
    from moto.ec2.responses import EC2Response

    assert float("inf") == settings.INITIAL_NO_AUTH_ACTION_COUNT, "moto's switch is process-wide: left off"
    assert "_authenticate_and_authorize_normal_action" not in EC2Response.__dict__


def _reference() -> dict[str, Any]:
    """AWS's Service Authorization Reference as parliament ships it (iam_definition.json). Read
    directly: parliament's own module imports pkg_resources, which setuptools 81 removed."""
    spec = importlib.util.find_spec("parliament")
    if spec is None or not spec.submodule_search_locations:
        print("skipping: parliament (AWS's action reference) is not installed")
        pytest.skip("parliament is not installed")
    data = Path(next(iter(spec.submodule_search_locations))) / "iam_definition.json"
    return {service["prefix"]: service for service in json.loads(data.read_text())}


def test_the_shipped_policy_names_only_real_actions_resources_and_condition_keys() -> None:
    """Every action exists, each Resource is of a type the action authorizes, and each condition
    key is one the action (or that resource type) accepts: a misspelt key would never match on AWS."""
    reference = _reference()
    for statement in shipped_policy(cluster="prod", vpc_id="vpc-0123456789abcdef0")["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        keys = {k for block in statement.get("Condition", {}).values() for k in block}
        for action in actions:
            prefix, name = action.split(":")
            service = reference[prefix]
            [privilege] = [p for p in service["privileges"] if p["privilege"] == name]
            types = {r["resource_type"].rstrip("*"): r["condition_keys"] for r in privilege["resource_types"]}
            arns = {r["resource"]: r["arn"] for r in service["resources"]}
            kind = "" if statement["Resource"] == "*" else statement["Resource"].split(":", 5)[5].split("/")[0]
            assert kind in types, f"{action} does not authorize {kind or '*'} (only {sorted(types)})"
            if kind:
                assert arns[kind].endswith(f":{kind}/${{{kind.title().replace('-', '')}Id}}"), arns[kind]
            accepted = {_generic(k) for k in [*types[kind], *types.get("", [])]}
            assert {_generic(k) for k in keys} <= accepted, f"{action} on {kind}: {keys} not all in {accepted}"


def _generic(key: str) -> str:
    """ec2:ResourceTag/kubernetes.io/cluster/prod -> ec2:ResourceTag/${TagKey}, as the reference lists it."""
    head, slash, _ = key.partition("/")
    return f"{head}/${{TagKey}}" if slash else key
