"""The embedded EC2 cloud's own rules: what moto lacks and the sim adds, checked through boto3."""

from __future__ import annotations

import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from cloudroutes.sim.ec2 import Ec2Sim, seed


@pytest.fixture
def cloud():
    with Ec2Sim(route_limit=3) as sim:
        ec2 = sim.client()
        world = seed.vpc(ec2, cluster="t", azs=1)
        yield sim, ec2, world


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
    _sim, ec2, world = cloud
    (node,) = seed.launch(ec2, world, 1)
    table, eni = world.table_ids[0], eni_of(ec2, node)
    for n in range(3):
        ec2.create_route(RouteTableId=table, DestinationCidrBlock=f"10.244.{n}.0/24", NetworkInterfaceId=eni)
    code = error_code(
        lambda: ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.244.9.0/24", NetworkInterfaceId=eni)
    )
    assert code == "RouteLimitExceeded"


def test_destination_inside_the_vpc_is_rejected(cloud):
    _sim, ec2, world = cloud
    (node,) = seed.launch(ec2, world, 1)
    call = lambda: ec2.create_route(  # noqa: E731
        RouteTableId=world.table_ids[0], DestinationCidrBlock="10.0.200.0/24", NetworkInterfaceId=eni_of(ec2, node)
    )
    assert error_code(call) == "InvalidParameterValue"


def test_destination_is_canonicalised(cloud):
    _sim, ec2, world = cloud
    (node,) = seed.launch(ec2, world, 1)
    ec2.create_route(
        RouteTableId=world.table_ids[0], DestinationCidrBlock="10.244.3.7/24", NetworkInterfaceId=eni_of(ec2, node)
    )
    routes = ec2.describe_route_tables(RouteTableIds=world.table_ids)["RouteTables"][0]["Routes"]
    assert "10.244.3.0/24" in {r.get("DestinationCidrBlock") for r in routes}


def test_one_route_per_destination_whatever_the_target(cloud):
    _sim, ec2, world = cloud
    first, second = seed.launch(ec2, world, 2)
    table = world.table_ids[0]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.244.1.0/24", NetworkInterfaceId=eni_of(ec2, first))
    call = lambda: ec2.create_route(  # noqa: E731
        RouteTableId=table, DestinationCidrBlock="10.244.1.0/24", NetworkInterfaceId=eni_of(ec2, second)
    )
    assert error_code(call) == "RouteAlreadyExists"


def test_instance_target_on_a_multi_interface_instance_is_rejected(cloud):
    _sim, ec2, world = cloud
    (node,) = seed.launch(ec2, world, 1, interfaces=2)

    def route():
        return ec2.create_route(RouteTableId=world.table_ids[0], DestinationCidrBlock="10.244.1.0/24", InstanceId=node)

    attribute = lambda: ec2.modify_instance_attribute(InstanceId=node, SourceDestCheck={"Value": False})  # noqa: E731
    assert error_code(route) == "InvalidInstanceID"
    assert error_code(attribute) == "InvalidInstanceID"


def test_routes_to_stopped_or_terminated_targets_are_blackholes(cloud):
    _sim, ec2, world = cloud
    stopped, gone = seed.launch(ec2, world, 2)
    table = world.table_ids[0]
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
    _sim, ec2, world = cloud
    by_instance, by_interface = seed.launch(ec2, world, 2)
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
    sim, ec2, world = cloud
    sim.reset_calls()
    sim.throttle_rate = 1.0
    code = error_code(lambda: ec2.create_tags(Resources=[world.vpc_id], Tags=[{"Key": "a", "Value": "b"}]))
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


def test_a_destination_that_is_no_cidr_is_invalid(cloud):
    _sim, ec2, world = cloud
    (node,) = seed.launch(ec2, world, 1)
    call = lambda: ec2.create_route(  # noqa: E731
        RouteTableId=world.table_ids[0], DestinationCidrBlock="10.244.300.0/24", NetworkInterfaceId=eni_of(ec2, node)
    )
    assert error_code(call) == "InvalidParameterValue"


def test_the_route_limit_counts_each_family_apart_and_not_the_local_route(cloud):
    _sim, ec2, world = cloud
    (node,) = seed.launch(ec2, world, 1)
    table, eni = world.table_ids[0], eni_of(ec2, node)
    for n in range(3):  # the limit is 3, and the local route is already there
        ec2.create_route(RouteTableId=table, DestinationCidrBlock=f"10.244.{n}.0/24", NetworkInterfaceId=eni)
    ec2.create_route(RouteTableId=table, DestinationIpv6CidrBlock="2600:1f18:aa::/64", NetworkInterfaceId=eni)


def test_replace_and_delete_canonicalise_the_destination_and_replace_checks_the_vpc(cloud):
    _sim, ec2, world = cloud
    first, second = seed.launch(ec2, world, 2)
    table = world.table_ids[0]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.244.1.0/24", NetworkInterfaceId=eni_of(ec2, first))
    ec2.replace_route(RouteTableId=table, DestinationCidrBlock="10.244.1.9/24", NetworkInterfaceId=eni_of(ec2, second))
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert {r.get("DestinationCidrBlock"): r.get("NetworkInterfaceId") for r in routes}["10.244.1.0/24"] == eni_of(
        ec2, second
    )
    with pytest.raises(ClientError) as info:  # moto alone says InvalidParameterValue too, for no such route
        ec2.replace_route(RouteTableId=table, DestinationCidrBlock="10.0.1.0/24", NetworkInterfaceId=eni_of(ec2, first))
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "more specific than one of this VPC's CIDR blocks" in info.value.response["Error"]["Message"]
    ec2.delete_route(RouteTableId=table, DestinationCidrBlock="10.244.1.77/24")
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert "10.244.1.0/24" not in {r.get("DestinationCidrBlock") for r in routes}


def test_a_missing_table_or_instance_is_not_found(cloud):
    _sim, ec2, world = cloud
    (node,) = seed.launch(ec2, world, 1)
    no_table = lambda: ec2.create_route(  # noqa: E731
        RouteTableId="rtb-00000000000000000", DestinationCidrBlock="10.244.1.0/24", NetworkInterfaceId=eni_of(ec2, node)
    )
    no_instance = lambda: ec2.create_route(  # noqa: E731
        RouteTableId=world.table_ids[0], DestinationCidrBlock="10.244.1.0/24", InstanceId="i-00000000000000000"
    )
    assert error_code(no_table) == "InvalidRouteTableID.NotFound"
    assert error_code(no_instance) == "InvalidInstanceID.NotFound"


def test_a_route_to_a_detached_or_deleted_interface_is_a_blackhole(cloud):
    _sim, ec2, world = cloud
    table = world.table_ids[0]
    eni = ec2.create_network_interface(SubnetId=world.subnet_ids[0])["NetworkInterface"]["NetworkInterfaceId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.244.1.0/24", NetworkInterfaceId=eni)

    def state() -> str:
        routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
        return next(r["State"] for r in routes if r.get("DestinationCidrBlock") == "10.244.1.0/24")

    assert state() == "blackhole"
    ec2.delete_network_interface(NetworkInterfaceId=eni)
    assert state() == "blackhole"


def test_the_package_face_and_a_seed_that_needs_no_moto():
    import cloudroutes.sim.ec2 as package

    assert sorted(package.__all__) == ["Call", "Ec2Sim", "seed"]
    assert package.Ec2Sim is Ec2Sim and package.seed is seed
    # Seeds work against any EC2 endpoint, so importing them must not start moto's machinery.
    code = (
        "import sys\nfrom cloudroutes.sim.ec2 import seed\nprint([m for m in ('moto', 'werkzeug') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
