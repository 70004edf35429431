"""What only AWS has, end to end through the engine against the embedded EC2 cloud: a node is
routed at its primary network interface, a route at another interface is repointed in place
(ReplaceRoute), and a route table the cluster does not manage is none of our business.

The scenarios every cloud shares live in tests/contract/. Assertions read the cloud back (routes,
tags, flags) and count calls at the sim, never the engine's own claims about what it did.
"""

from __future__ import annotations

from typing import Any

from cloudroutes import engine
from cloudroutes.sim.ec2 import seed


def converge(world: Any, **kwargs: Any) -> engine.Report:
    cfg = world.config(**kwargs)
    provider = world.provider(**kwargs)
    return engine.apply(provider, cfg, engine.make_plan(provider, cfg))


def primary_eni(instance: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in instance["NetworkInterfaces"] if e["Attachment"]["DeviceIndex"] == 0)


def test_every_node_is_routed_at_its_primary_interface_and_only_that_one_forwards(world):
    seed.launch(world.ec2, world.seed, 3)
    seed.launch(world.ec2, world.seed, 1, interfaces=2)

    report = converge(world)

    assert report.converged
    cidrs = world.pod_cidrs()
    assert sorted(cidrs.values()) == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"]
    instances = world.instances()
    for table in world.seed.table_ids:
        routes = world.routes(table)
        for iid, cidr in cidrs.items():
            assert routes[cidr]["NetworkInterfaceId"] == primary_eni(instances[iid])["NetworkInterfaceId"]
            assert routes[cidr]["State"] == "active"
    for instance in instances.values():
        assert primary_eni(instance)["SourceDestCheck"] is False
        secondary = [e for e in instance["NetworkInterfaces"] if e["Attachment"]["DeviceIndex"] != 0]
        assert all(e["SourceDestCheck"] is True for e in secondary), "only the primary interface forwards"
    assert "ModifyInstanceAttribute" not in world.sim.count(), "the flag is the interface's, not the instance's"


def test_a_route_to_a_secondary_interface_is_repointed_with_replace_route(world):
    (node,) = seed.launch(world.ec2, world.seed, 1, interfaces=2)
    converge(world)
    cidr = world.pod_cidrs()[node]
    instance = world.instances()[node]
    secondary = next(e for e in instance["NetworkInterfaces"] if e["Attachment"]["DeviceIndex"] == 1)
    table = world.seed.table_ids[0]
    world.ec2.replace_route(
        RouteTableId=table, DestinationCidrBlock=cidr, NetworkInterfaceId=secondary["NetworkInterfaceId"]
    )
    world.sim.reset_calls()

    assert converge(world).converged

    assert [c.action for c in world.sim.writes()] == ["ReplaceRoute"]
    assert world.routes(table)[cidr]["NetworkInterfaceId"] == primary_eni(instance)["NetworkInterfaceId"]


def test_an_unmanaged_table_is_never_touched_and_its_routes_hold_no_range_of_ours(world):
    loner = world.ec2.create_route_table(VpcId=world.seed.vpc_id)["RouteTable"]["RouteTableId"]
    (outsider,) = world.ec2.run_instances(
        ImageId=seed.IMAGE, MinCount=1, MaxCount=1, SubnetId=world.seed.subnet_ids[0]
    )["Instances"]
    world.ec2.create_route(RouteTableId=loner, DestinationCidrBlock="10.244.0.0/24", InstanceId=outsider["InstanceId"])
    seed.launch(world.ec2, world.seed, 2)
    before = world.routes(loner)

    report = converge(world)

    assert report.converged
    assert world.routes(loner) == before, "an unmanaged table is never touched"
    assert sorted(world.pod_cidrs().values()) == ["10.244.0.0/24", "10.244.1.0/24"]
    assert not any("10.244.0.0/24" in p.message for p in report.first.problems), "nor reported as foreign"


def test_reads_ask_for_the_largest_pages_ec2_allows(world):
    """DescribeInstances pages up to 1,000 instances, DescribeRouteTables up to 100 tables: a pass
    over 1,000 nodes is DescribeVpcs, one page of tables, one of instances and GetServiceQuota."""
    seed.launch(world.ec2, world.seed, 3)
    world.sim.reset_calls()
    engine.make_plan(world.provider(), world.config())
    pages = {c.action: c.params.get("MaxResults") for c in world.sim.calls if c.action.startswith("Describe")}
    assert pages == {"DescribeVpcs": None, "DescribeRouteTables": "100", "DescribeInstances": "1000"}
