"""The EC2 sim's read lag (EC2's eventual consistency), through boto3: writes land at once, reads
show what they changed only `read_lag` seconds later. Time is a fake clock the test moves."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from cloudroutes.sim.ec2 import Ec2Sim, seed

LAG = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cloud():
    clock = Clock()
    with Ec2Sim(clock=clock) as sim:
        ec2 = sim.client()
        world = seed.vpc(ec2, cluster="t", azs=1)
        nodes = seed.launch(ec2, world, 2)
        sim.set_read_lag(LAG)  # after seeding, as the docstring says
        sim.reset_calls()
        yield sim, ec2, world, nodes, clock


def eni_of(ec2, instance_id: str) -> str:
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return instance["NetworkInterfaces"][0]["NetworkInterfaceId"]


def routes(ec2, table: str) -> dict[str, str]:
    answer = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    return {r["DestinationCidrBlock"]: r.get("NetworkInterfaceId", r.get("GatewayId")) for r in answer}


def instance(ec2, instance_id: str) -> dict:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def tags(resource: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def test_route_writes_show_only_after_the_lag_but_writes_see_them_at_once(cloud):
    _sim, ec2, world, (node, other), clock = cloud
    table, eni = world.table_ids[0], eni_of(ec2, node)
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.244.1.0/24", NetworkInterfaceId=eni)
    assert "10.244.1.0/24" not in routes(ec2, table)
    # The write path sees the truth: EC2's compare-and-swap still holds while reads lag.
    with pytest.raises(ClientError) as info:
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.244.1.0/24", NetworkInterfaceId=eni)
    assert info.value.response["Error"]["Code"] == "RouteAlreadyExists"
    clock.now += LAG - 0.5
    assert "10.244.1.0/24" not in routes(ec2, table)
    clock.now += 0.5
    assert routes(ec2, table)["10.244.1.0/24"] == eni

    ec2.replace_route(RouteTableId=table, DestinationCidrBlock="10.244.1.0/24", NetworkInterfaceId=eni_of(ec2, other))
    assert routes(ec2, table)["10.244.1.0/24"] == eni
    clock.now += LAG
    assert routes(ec2, table)["10.244.1.0/24"] == eni_of(ec2, other)

    ec2.delete_route(RouteTableId=table, DestinationCidrBlock="10.244.1.0/24")
    assert "10.244.1.0/24" in routes(ec2, table)
    clock.now += LAG
    assert "10.244.1.0/24" not in routes(ec2, table)


def test_a_read_shows_the_state_as_it_was_lag_seconds_ago(cloud):
    _sim, ec2, world, (node, _other), clock = cloud
    table, eni = world.table_ids[0], eni_of(ec2, node)
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.244.1.0/24", NetworkInterfaceId=eni)
    clock.now += 10
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.244.2.0/24", NetworkInterfaceId=eni)
    clock.now += LAG - 5  # 5 s after the first write's lag ended, 25 s into the second's
    shown = routes(ec2, table)
    assert "10.244.1.0/24" in shown
    assert "10.244.2.0/24" not in shown


def test_tag_writes_lag_on_instances_and_tables(cloud):
    _sim, ec2, world, (node, _other), clock = cloud
    table = world.table_ids[0]
    ec2.create_tags(Resources=[node, table], Tags=[{"Key": "claim", "Value": "10.244.1.0/24"}])
    ec2.delete_tags(Resources=[node], Tags=[{"Key": "Name"}])
    assert tags(instance(ec2, node)) == {"kubernetes.io/cluster/t": "owned", "Name": "node-1"}
    assert "claim" not in tags(ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0])
    clock.now += LAG
    assert tags(instance(ec2, node)) == {"kubernetes.io/cluster/t": "owned", "claim": "10.244.1.0/24"}
    assert "claim" in tags(ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0])


def test_source_dest_check_lags_on_the_instance_and_its_interface(cloud):
    _sim, ec2, _world, (node, _other), clock = cloud
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni_of(ec2, node), SourceDestCheck={"Value": False})
    shown = instance(ec2, node)
    assert shown["SourceDestCheck"] is True
    assert shown["NetworkInterfaces"][0]["SourceDestCheck"] is True
    clock.now += LAG
    shown = instance(ec2, node)
    assert shown["SourceDestCheck"] is False
    assert shown["NetworkInterfaces"][0]["SourceDestCheck"] is False


def test_only_what_the_write_changed_lags(cloud):
    _sim, ec2, _world, (node, _other), _clock = cloud
    ec2.create_tags(Resources=[node], Tags=[{"Key": "claim", "Value": "x"}])
    ec2.stop_instances(InstanceIds=[node])  # not a lagged write: shows at once, beside the lagging tags
    shown = instance(ec2, node)
    assert shown["State"]["Name"] == "stopped"
    assert "claim" not in tags(shown)


def test_tag_filters_judge_the_tags_a_read_shows(cloud):
    _sim, ec2, world, (node, other), clock = cloud
    table = world.table_ids[0]
    fresh = ec2.create_route_table(VpcId=world.vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_tags(Resources=[fresh], Tags=[{"Key": "kubernetes.io/cluster/t", "Value": "owned"}])
    ec2.delete_tags(Resources=[table, node], Tags=[{"Key": "kubernetes.io/cluster/t"}])
    table_filters = [
        {"Name": "vpc-id", "Values": [world.vpc_id]},
        {"Name": "tag-key", "Values": ["kubernetes.io/cluster/t"]},
    ]
    node_filters = [
        {"Name": "tag-key", "Values": ["kubernetes.io/cluster/t"]},
        {"Name": "instance-state-name", "Values": ["running"]},
    ]

    def tables() -> list[str]:
        return [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=table_filters)["RouteTables"]]

    def nodes() -> list[str]:
        answer = ec2.describe_instances(Filters=node_filters)["Reservations"]
        return sorted(i["InstanceId"] for r in answer for i in r["Instances"])

    assert tables() == [table]  # still tagged, as far as reads know; the fresh one not yet
    assert nodes() == sorted([node, other])
    ec2.stop_instances(InstanceIds=[node])  # a filter on anything but tags is judged on the state now
    assert nodes() == [other]
    clock.now += LAG
    assert tables() == [fresh]
    assert nodes() == [other]


def test_a_failed_write_leaves_no_stale_view(cloud):
    _sim, ec2, world, (node, _other), clock = cloud
    table = world.table_ids[0]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.244.1.0/24", NetworkInterfaceId=eni_of(ec2, node))
    clock.now += LAG
    with pytest.raises(ClientError):
        ec2.delete_route(RouteTableId=table, DestinationCidrBlock="10.244.9.0/24")  # moto: InvalidRoute.NotFound
    ec2.terminate_instances(InstanceIds=[node])
    state = {
        r["DestinationCidrBlock"]: r["State"]
        for r in ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    }
    assert state["10.244.1.0/24"] == "blackhole"


def test_setting_the_lag_to_zero_shows_the_truth_and_the_call_log_holds_only_client_calls(cloud):
    sim, ec2, world, (node, _other), _clock = cloud
    table = world.table_ids[0]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.244.1.0/24", NetworkInterfaceId=eni_of(ec2, node))
    assert "10.244.1.0/24" not in routes(ec2, table)
    assert sim.read_lag == LAG
    sim.set_read_lag(0)
    assert "10.244.1.0/24" in routes(ec2, table)
    sim.set_read_lag(LAG)  # re-arming does not bring the past back
    assert "10.244.1.0/24" in routes(ec2, table)
    assert [c.action for c in sim.calls] == [
        "DescribeInstances",
        "CreateRoute",
        "DescribeRouteTables",
        "DescribeRouteTables",
        "DescribeRouteTables",
    ]


def test_the_lag_is_set_at_construction_and_refuses_a_negative_time():
    clock = Clock()
    with Ec2Sim(read_lag=LAG, clock=clock) as sim:
        ec2 = sim.client()
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_tags(Resources=[table], Tags=[{"Key": "k", "Value": "v"}])
        assert tags(ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]) == {}
        clock.now += LAG
        assert tags(ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]) == {"k": "v"}
        with pytest.raises(ValueError, match="read lag"):
            sim.set_read_lag(-1)
