"""AWS behaviour end to end through the engine, against the embedded EC2 cloud.

Assertions read the cloud back (routes, tags, flags) and count calls at the sim, never the
engine's own claims about what it did.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from cloudroutes import engine
from cloudroutes.sim.ec2 import seed

READS = {"DescribeVpcs", "DescribeRouteTables", "DescribeInstances", "GetServiceQuota"}


def converge(world: Any, **kwargs: Any) -> engine.Report:
    cfg = world.config(**kwargs)
    provider = world.provider(**kwargs)
    return engine.apply(provider, cfg, engine.make_plan(provider, cfg))


def primary_eni(instance: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in instance["NetworkInterfaces"] if e["Attachment"]["DeviceIndex"] == 0)


def test_converges_one_subnet_per_node_routed_in_every_table(world):
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


def test_second_pass_makes_zero_writes_and_a_constant_number_of_reads(world):
    seed.launch(world.ec2, world.seed, 4)
    converge(world)
    world.sim.reset_calls()

    planned = engine.make_plan(world.provider(), world.config())

    assert planned.plan.empty
    assert world.sim.writes() == []
    assert world.sim.count() == {op: 1 for op in READS}


def test_reads_do_not_grow_with_the_node_count(world):
    seed.launch(world.ec2, world.seed, 30)
    world.sim.reset_calls()
    engine.make_plan(world.provider(), world.config())
    assert world.sim.count() == {op: 1 for op in READS}


def test_reads_ask_for_the_largest_pages_ec2_allows(world):
    """DescribeInstances pages up to 1,000 instances, DescribeRouteTables up to 100 tables: a pass
    over 1,000 nodes is DescribeVpcs, one page of tables, one of instances and GetServiceQuota."""
    seed.launch(world.ec2, world.seed, 3)
    world.sim.reset_calls()
    engine.make_plan(world.provider(), world.config())
    pages = {c.action: c.params.get("MaxResults") for c in world.sim.calls if c.action.startswith("Describe")}
    assert pages == {"DescribeVpcs": None, "DescribeRouteTables": "100", "DescribeInstances": "1000"}


def test_converge_writes_once_per_missing_route_and_once_per_node(world):
    seed.launch(world.ec2, world.seed, 5)
    world.sim.reset_calls()

    converge(world)

    counts = world.sim.count()
    tables = len(world.seed.table_ids)
    assert counts["CreateRoute"] == 5 * tables
    assert counts["CreateTags"] == 5
    assert counts["ModifyNetworkInterfaceAttribute"] == 5
    # One observation to plan and one to verify: nothing re-listed per route.
    assert counts["DescribeRouteTables"] == 2
    assert "ModifyInstanceAttribute" not in counts and "ReplaceRoute" not in counts


def test_forwarding_is_changed_only_where_it_is_on(world):
    nodes = seed.launch(world.ec2, world.seed, 3)
    eni = primary_eni(world.instances()[nodes[0]])["NetworkInterfaceId"]
    world.ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, SourceDestCheck={"Value": False})
    world.sim.reset_calls()

    converge(world)

    changed = [
        c.params["NetworkInterfaceId"] for c in world.sim.writes() if c.action == "ModifyNetworkInterfaceAttribute"
    ]
    assert len(changed) == 2 and eni not in changed


def test_a_terminated_nodes_route_goes_and_newcomers_do_not_move_anyone(world):
    nodes = seed.launch(world.ec2, world.seed, 3)
    converge(world)
    before = world.pod_cidrs()
    world.ec2.terminate_instances(InstanceIds=[nodes[0]])
    born = seed.launch(world.ec2, world.seed, 2)

    report = converge(world)

    assert report.converged
    after = world.pod_cidrs()
    assert all(after[n] == before[n] for n in nodes[1:])
    assert len(set(after.values())) == 4
    assert before[nodes[0]] not in after.values(), "a freed subnet rests while other blocks are free"
    for table in world.seed.table_ids:
        routes = world.routes(table)
        assert before[nodes[0]] not in routes
        assert {after[n] for n in born} <= set(routes)


def test_a_stopped_node_keeps_its_subnet_and_its_blackholed_routes(world):
    nodes = seed.launch(world.ec2, world.seed, 2)
    converge(world)
    cidr = world.pod_cidrs()[nodes[0]]
    world.ec2.stop_instances(InstanceIds=[nodes[0]])
    world.sim.reset_calls()

    planned = engine.make_plan(world.provider(), world.config())

    assert planned.plan.empty
    assert world.routes(world.seed.table_ids[0])[cidr]["State"] == "blackhole"
    world.ec2.start_instances(InstanceIds=[nodes[0]])
    assert world.routes(world.seed.table_ids[0])[cidr]["State"] == "active"


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


def test_foreign_routes_are_untouched_and_their_ranges_never_allocated(world):
    seed.foreign_routes(world.ec2, world.seed, inside="10.244.0.0/24")
    loner = world.ec2.create_route_table(VpcId=world.seed.vpc_id)["RouteTable"]["RouteTableId"]
    (outsider,) = world.ec2.run_instances(
        ImageId=seed.IMAGE, MinCount=1, MaxCount=1, SubnetId=world.seed.subnet_ids[0]
    )["Instances"]
    world.ec2.create_route(RouteTableId=loner, DestinationCidrBlock="10.244.1.0/24", InstanceId=outsider["InstanceId"])
    seed.launch(world.ec2, world.seed, 2)
    before = {t: world.routes(t) for t in [*world.seed.table_ids, loner]}

    report = converge(world)

    assert report.converged
    assert world.routes(loner) == before[loner], "an unmanaged table is never touched"
    for table in world.seed.table_ids:
        for dest, route in before[table].items():
            assert world.routes(table)[dest] == route
    assert "10.244.0.0/24" not in world.pod_cidrs().values()
    assert sorted(world.pod_cidrs().values()) == ["10.244.1.0/24", "10.244.2.0/24"]
    assert any("10.244.0.0/24" in p.message for p in report.first.problems), "the report lists the foreign route"


def test_two_nodes_claiming_one_subnet_the_earlier_launch_keeps_it(world):
    first, second = seed.launch(world.ec2, world.seed, 2)
    world.sim.set_launch_time(first, datetime(2026, 1, 1, tzinfo=UTC))
    world.sim.set_launch_time(second, datetime(2026, 1, 2, tzinfo=UTC))
    for node in (second, first):
        world.ec2.create_tags(Resources=[node], Tags=[{"Key": "cloudroutes.io/pod-cidr", "Value": "10.244.9.0/24"}])

    assert converge(world).converged

    cidrs = world.pod_cidrs()
    assert cidrs[first] == "10.244.9.0/24"
    assert cidrs[second] == "10.244.0.0/24"


def test_a_record_beats_a_route_to_a_node_that_records_nothing(world):
    first, second = seed.launch(world.ec2, world.seed, 2)
    eni = primary_eni(world.instances()[second])["NetworkInterfaceId"]
    world.ec2.create_route(
        RouteTableId=world.seed.table_ids[0], DestinationCidrBlock="10.244.5.0/24", NetworkInterfaceId=eni
    )
    world.ec2.create_tags(Resources=[first], Tags=[{"Key": "cloudroutes.io/pod-cidr", "Value": "10.244.5.0/24"}])

    assert converge(world).converged

    assert world.pod_cidrs() == {first: "10.244.5.0/24", second: "10.244.0.0/24"}
    first_eni = primary_eni(world.instances()[first])["NetworkInterfaceId"]
    assert world.routes(world.seed.table_ids[0])["10.244.5.0/24"]["NetworkInterfaceId"] == first_eni


def test_two_applies_at_once_end_with_one_subnet_per_node(world):
    nodes = seed.launch(world.ec2, world.seed, 8)
    reports: list[engine.Report] = []

    def run() -> None:
        reports.append(converge(world))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(r.converged for r in reports)
    cidrs = world.pod_cidrs()
    assert set(cidrs) == set(nodes) and len(set(cidrs.values())) == len(nodes)
    for table in world.seed.table_ids:
        routed = {r["DestinationCidrBlock"] for r in world.routes(table).values()}
        assert routed == set(cidrs.values())
    assert engine.make_plan(world.provider(), world.config()).plan.empty


def test_route_already_exists_means_observe_again_not_success(world, monkeypatch):
    (node,) = seed.launch(world.ec2, world.seed, 1)
    (rival,) = seed.launch(world.ec2, world.seed, 1)
    cfg, provider = world.config(), world.provider()
    planned = engine.make_plan(provider, cfg)
    # Someone else routes the subnet our plan gives `node` to their own node, between plan and apply.
    rival_eni = primary_eni(world.instances()[rival])["NetworkInterfaceId"]
    contested = next(a.destination for a in planned.plan.actions if a.kind == "create" and a.node == node)
    world.ec2.create_route(
        RouteTableId=world.seed.table_ids[0], DestinationCidrBlock=str(contested), NetworkInterfaceId=rival_eni
    )

    report = engine.apply(provider, cfg, planned)

    assert report.rounds >= 2
    assert any(r.error_kind == "conflict" for r in report.results)
    assert report.converged
    cidrs = world.pod_cidrs()
    assert len(set(cidrs.values())) == 2
    instances = world.instances()
    for table in world.seed.table_ids:
        routes = world.routes(table)
        for iid, cidr in cidrs.items():
            assert routes[cidr]["NetworkInterfaceId"] == primary_eni(instances[iid])["NetworkInterfaceId"]


def test_a_route_deleted_behind_our_back_counts_as_deleted(world):
    nodes = seed.launch(world.ec2, world.seed, 2)
    converge(world)
    cidr = world.pod_cidrs()[nodes[0]]
    world.ec2.terminate_instances(InstanceIds=[nodes[0]])
    cfg, provider = world.config(), world.provider()
    planned = engine.make_plan(provider, cfg)
    world.ec2.delete_route(RouteTableId=world.seed.table_ids[0], DestinationCidrBlock=cidr)

    report = engine.apply(provider, cfg, planned)

    assert report.converged and not report.failed


def test_throttling_is_retried_within_a_bound(world):
    seed.launch(world.ec2, world.seed, 6)
    world.sim.throttle_rate = 0.3

    report = converge(world)

    assert report.converged
    assert report.retries["throttled"] > 0
    throttled = [c for c in world.sim.writes() if c.status == 503]
    assert len(throttled) == report.retries["throttled"]


def test_dual_stack_gives_each_node_one_block_per_family(world):
    world.ec2.associate_vpc_cidr_block(VpcId=world.seed.vpc_id, AmazonProvidedIpv6CidrBlock=True)
    nodes = seed.launch(world.ec2, world.seed, 2)

    report = converge(world, cidr='["10.244.0.0/16", "fd00:10:244::/56"]')

    assert report.converged, [r.error for r in report.failed]
    instances = world.instances()
    for node in nodes:
        tags = {t["Key"]: t["Value"] for t in instances[node]["Tags"]}
        v4, v6 = tags["cloudroutes.io/pod-cidr"], tags["cloudroutes.io/pod-cidr-v6"]
        assert v6.startswith("fd00:10:244:") and v6.endswith("/64")
        for table in world.seed.table_ids:
            routes = world.routes(table)
            eni = primary_eni(instances[node])["NetworkInterfaceId"]
            assert routes[v4]["NetworkInterfaceId"] == routes[v6]["NetworkInterfaceId"] == eni
    assert engine.make_plan(
        world.provider(cidr='["10.244.0.0/16", "fd00:10:244::/56"]'),
        world.config(cidr='["10.244.0.0/16", "fd00:10:244::/56"]'),
    ).plan.empty


def test_dropping_a_family_from_the_cluster_cidr_removes_its_records_and_converges(world):
    world.ec2.associate_vpc_cidr_block(VpcId=world.seed.vpc_id, AmazonProvidedIpv6CidrBlock=True)
    (node,) = seed.launch(world.ec2, world.seed, 1)
    assert converge(world, cidr='["10.244.0.0/16", "fd00:10:244::/56"]').converged

    report = converge(world)  # IPv4 only from now on

    assert report.converged
    tags = {t["Key"] for t in world.instances()[node]["Tags"]}
    assert "cloudroutes.io/pod-cidr" in tags and "cloudroutes.io/pod-cidr-v6" not in tags
    world.sim.reset_calls()
    assert engine.make_plan(world.provider(), world.config()).plan.empty
