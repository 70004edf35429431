"""Ownership: a route that is not ours is never modified or deleted, and the range it holds is
never handed out (every cloud, with every kind of foreign route that cloud knows)."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import ip_network
from typing import Any

from cloudroutes import engine
from cloudroutes.model import ActionKind
from tests.cli_output import assert_refused

from .clouds import Cloud, assert_routed, blocks, converge, plan

Cli = Callable[..., Any]


def test_foreign_routes_are_untouched_and_their_ranges_never_allocated(cloud: Cloud) -> None:
    nodes = cloud.add_nodes(3, forwarding=True)  # so no route's warnings change under the comparison
    foreign = cloud.add_foreign_routes(via=nodes)
    before = cloud.raw_routes()

    report = converge(cloud)

    assert report.converged
    after = cloud.raw_routes()
    assert {key: after[key] for key in before} == before
    cidrs = assert_routed(cloud, nodes)
    free = [block for block in blocks(*range(16)) if block not in foreign]
    assert sorted(cidrs.values(), key=ip_network) == free[:3]
    listed = " ".join(p.message for p in report.first.problems if not p.blocking)
    assert all(dest in listed for dest in foreign), "the report lists every foreign route it left alone"
    assert "0.0.0.0/0" not in listed, "a route as wide as the cluster range holds nothing"
    assert plan(cloud).plan.empty


def destroy(cloud: Cloud) -> engine.Report:
    cfg, provider = cloud.config(), cloud.provider()
    return engine.apply(provider, cfg, engine.make_plan(provider, cfg, destroy=True), destroy=True)


def test_a_route_of_ours_to_a_live_appliance_is_foreign_kept_by_apply_and_destroy(cloud: Cloud) -> None:
    """A firewall that never held a subnet is someone's next hop, even in a table (or under a name) of ours."""
    nodes = cloud.add_nodes(2)
    appliance = cloud.add_appliance("10.244.7.0/24")
    before = cloud.raw_routes()
    kept = {key: route for key, route in before.items() if "10.244.7.0/24" in f"{key} {route}"}
    assert kept, "the appliance's route is there to keep"

    report = converge(cloud)

    assert report.converged
    assert not [a for r in (report.first, report.final) for a in r.actions if str(a.destination) == "10.244.7.0/24"]
    after = cloud.raw_routes()
    assert {key: after[key] for key in kept} == kept
    cidrs = assert_routed(cloud, nodes)
    assert "10.244.7.0/24" not in cidrs.values(), "the appliance's range is never handed out"
    listed = " ".join(p.message for p in report.first.problems if not p.blocking)
    assert "10.244.7.0/24" in listed and "holds no pod subnet" in listed, listed
    assert appliance not in cloud.pod_cidrs()

    assert destroy(cloud).converged

    after = cloud.raw_routes()
    assert {key: after[key] for key in kept} == kept, "destroy leaves what was never ours"
    assert all(routes == {} for routes in cloud.routes().values()), "every route of ours went"


def test_a_node_that_left_the_cluster_but_still_runs_is_cleaned_up(cloud: Cloud) -> None:
    nodes = cloud.add_nodes(3)
    assert converge(cloud).converged
    cidrs = cloud.pod_cidrs()
    gone = nodes[1]
    cloud.leave(gone)

    report = converge(cloud)

    assert report.converged
    deletes = [a for a in report.first.actions if a.kind is ActionKind.DELETE]
    assert {str(a.destination) for a in deletes} == {cidrs[gone]}
    assert {a.reason for a in deletes} == {"target left the cluster"}
    remaining = [n for n in nodes if n != gone]
    assert assert_routed(cloud, remaining) == {n: cidrs[n] for n in remaining}, "nobody else moved"


STAGING = ["10.244.128.0/24", "10.244.129.0/24"]
"""Routes of cluster staging (10.244.128.0/17), inside prod's 10.244.0.0/16."""


def test_an_established_cluster_leaves_a_neighbours_live_routes_inside_its_range(cloud: Cloud) -> None:
    nodes = cloud.add_nodes(2)
    assert converge(cloud).converged
    cloud.add_neighbour("staging", STAGING)
    before = cloud.raw_routes()
    cloud.reset_calls()

    report = converge(cloud)

    assert report.converged and report.first.empty
    assert cloud.writes() == []
    assert cloud.raw_routes() == before
    listed = " ".join(p.message for p in report.first.problems if not p.blocking)
    assert all(subnet in listed for subnet in STAGING), listed
    assert_routed(cloud, nodes)
    born = cloud.add_nodes(1)
    assert converge(cloud).converged
    assert cloud.pod_cidrs()[born[0]] not in STAGING


def test_a_new_cluster_overlapping_a_neighbours_routed_ranges_is_refused_naming_it(cloud: Cloud, cli: Cli) -> None:
    cloud.add_nodes(2)
    cloud.add_neighbour("staging", STAGING)
    config = cloud.write_config()
    cloud.reset_calls()

    assert_refused(cli, config, "cluster staging")

    assert cloud.writes() == [], "refused before any write"
    result = cli("apply", "--yes", "--config", config)
    assert "10.244.0.0/16 overlaps 10.244.128.0/24" in result.output


def test_telling_vms_that_are_no_node_apart_costs_one_read_and_only_when_needed(cloud: Cloud) -> None:
    nodes = cloud.add_nodes(3)
    assert converge(cloud).converged
    cloud.reset_calls()
    assert plan(cloud).plan.empty
    assert cloud.reads() == {op: 1 for op in cloud.observation}, "a steady pass looks nothing up"
    departed = cloud.pod_cidrs()[nodes[0]]
    cloud.add_appliance("10.244.7.0/24")
    cloud.add_neighbour("staging", STAGING)
    cloud.leave(nodes[0])
    cloud.reset_calls()

    planned = plan(cloud)

    deletes = [str(a.destination) for a in planned.plan.actions if a.kind is ActionKind.DELETE]
    assert deletes == [departed] * len(cloud.tables())
    reads = cloud.reads()
    assert all(reads[op] >= 1 for op in cloud.observation)
    assert sum(reads.values()) == len(cloud.observation) + 1, "one lookup: the appliance, neighbours, departed"
