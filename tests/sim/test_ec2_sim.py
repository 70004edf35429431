"""The embedded EC2 cloud's own rules: what moto lacks and the sim adds, checked through boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from cloudroutes.sim import ec2_seed
from cloudroutes.sim.ec2 import Ec2Sim


@pytest.fixture
def cloud():
    with Ec2Sim(route_limit=3) as sim:
        ec2 = sim.client()
        seed = ec2_seed.vpc(ec2, cluster="t", azs=1)
        yield sim, ec2, seed


def error_code(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


def eni_of(ec2, instance_id: str, index: int = 0) -> str:
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return next(
        e["NetworkInterfaceId"] for e in instance["NetworkInterfaces"] if e["Attachment"]["DeviceIndex"] == index
    )


def test_routes_per_table_limit(cloud):
    _sim, ec2, seed = cloud
    (node,) = ec2_seed.launch(ec2, seed, 1)
    table, eni = seed.table_ids[0], eni_of(ec2, node)
    for n in range(3):
        ec2.create_route(RouteTableId=table, DestinationCidrBlock=f"10.244.{n}.0/24", NetworkInterfaceId=eni)
    code = error_code(
        lambda: ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.244.9.0/24", NetworkInterfaceId=eni)
    )
    assert code == "RouteLimitExceeded"


def test_destination_inside_the_vpc_is_rejected(cloud):
    _sim, ec2, seed = cloud
    (node,) = ec2_seed.launch(ec2, seed, 1)
    call = lambda: ec2.create_route(  # noqa: E731
        RouteTableId=seed.table_ids[0], DestinationCidrBlock="10.0.200.0/24", NetworkInterfaceId=eni_of(ec2, node)
    )
    assert error_code(call) == "InvalidParameterValue"


def test_destination_is_canonicalised(cloud):
    _sim, ec2, seed = cloud
    (node,) = ec2_seed.launch(ec2, seed, 1)
    ec2.create_route(
        RouteTableId=seed.table_ids[0], DestinationCidrBlock="10.244.3.7/24", NetworkInterfaceId=eni_of(ec2, node)
    )
    routes = ec2.describe_route_tables(RouteTableIds=seed.table_ids)["RouteTables"][0]["Routes"]
    assert "10.244.3.0/24" in {r.get("DestinationCidrBlock") for r in routes}


def test_one_route_per_destination_whatever_the_target(cloud):
    _sim, ec2, seed = cloud
    first, second = ec2_seed.launch(ec2, seed, 2)
    table = seed.table_ids[0]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.244.1.0/24", NetworkInterfaceId=eni_of(ec2, first))
    call = lambda: ec2.create_route(  # noqa: E731
        RouteTableId=table, DestinationCidrBlock="10.244.1.0/24", NetworkInterfaceId=eni_of(ec2, second)
    )
    assert error_code(call) == "RouteAlreadyExists"


def test_instance_target_on_a_multi_interface_instance_is_rejected(cloud):
    _sim, ec2, seed = cloud
    (node,) = ec2_seed.launch(ec2, seed, 1, interfaces=2)

    def route():
        return ec2.create_route(RouteTableId=seed.table_ids[0], DestinationCidrBlock="10.244.1.0/24", InstanceId=node)

    attribute = lambda: ec2.modify_instance_attribute(InstanceId=node, SourceDestCheck={"Value": False})  # noqa: E731
    assert error_code(route) == "InvalidInstanceID"
    assert error_code(attribute) == "InvalidInstanceID"


def test_routes_to_stopped_or_terminated_targets_are_blackholes(cloud):
    _sim, ec2, seed = cloud
    stopped, gone = ec2_seed.launch(ec2, seed, 2)
    table = seed.table_ids[0]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.244.1.0/24", NetworkInterfaceId=eni_of(ec2, stopped))
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.244.2.0/24", NetworkInterfaceId=eni_of(ec2, gone))

    def states():
        routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
        return {r.get("DestinationCidrBlock"): r["State"] for r in routes}

    assert states()["10.244.1.0/24"] == states()["10.244.2.0/24"] == "active"
    ec2.stop_instances(InstanceIds=[stopped])
    ec2.terminate_instances(InstanceIds=[gone])
    assert states()["10.244.1.0/24"] == states()["10.244.2.0/24"] == "blackhole"


def test_instance_and_primary_interface_source_dest_check_stay_in_step(cloud):
    _sim, ec2, seed = cloud
    by_instance, by_interface = ec2_seed.launch(ec2, seed, 2)
    ec2.modify_instance_attribute(InstanceId=by_instance, SourceDestCheck={"Value": False})
    ec2.modify_network_interface_attribute(
        NetworkInterfaceId=eni_of(ec2, by_interface), SourceDestCheck={"Value": False}
    )
    for node in (by_instance, by_interface):
        attribute = ec2.describe_instance_attribute(InstanceId=node, Attribute="sourceDestCheck")["SourceDestCheck"]
        instance = ec2.describe_instances(InstanceIds=[node])["Reservations"][0]["Instances"][0]
        assert attribute["Value"] is False
        assert instance["NetworkInterfaces"][0]["SourceDestCheck"] is False


def test_throttling_and_the_call_log(cloud):
    sim, ec2, seed = cloud
    sim.reset_calls()
    sim.throttle_rate = 1.0
    code = error_code(lambda: ec2.create_tags(Resources=[seed.vpc_id], Tags=[{"Key": "a", "Value": "b"}]))
    assert code == "RequestLimitExceeded"
    ec2.describe_vpcs()  # reads are never throttled by the sim's write faults
    assert [(c.action, c.status) for c in sim.calls] == [("CreateTags", 503), ("DescribeVpcs", 200)]
    assert [c.action for c in sim.writes()] == ["CreateTags"]


def test_the_mutating_bucket_refuses_a_burst_beyond_its_size_but_tags_have_their_own():
    with Ec2Sim(write_bucket=(3, 0.001)) as sim:
        ec2 = sim.client()
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        outcomes = []
        for n in range(5):
            try:
                ec2.delete_route(RouteTableId=table, DestinationCidrBlock=f"10.244.{n}.0/24")
            except ClientError as exc:
                outcomes.append(exc.response["Error"]["Code"])
        assert outcomes == ["InvalidRoute.NotFound"] * 3 + ["RequestLimitExceeded"] * 2
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "k", "Value": "v"}])  # CreateTags: EC2 meters it apart


def test_service_quotas_reports_the_sims_route_limit(cloud):
    sim, _ec2, _seed = cloud
    quota = sim.client("service-quotas").get_service_quota(ServiceCode="vpc", QuotaCode="L-93826ACB")
    assert quota["Quota"]["Value"] == 3.0
