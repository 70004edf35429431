"""VMs come and go under the cluster: a terminated node's routes go, a stopped node keeps what it
holds, and a route someone else already deleted counts as deleted (every cloud)."""

from __future__ import annotations

from cloudroutes import engine

from .clouds import Cloud, assert_routed, converge, plan


def test_a_terminated_nodes_routes_are_deleted_and_nothing_else(cloud: Cloud) -> None:
    nodes = cloud.add_nodes(3)
    assert converge(cloud).converged
    gone = cloud.pod_cidrs()[nodes[0]]
    # Someone else's route to the same VM stays: it is not ours to delete.
    cloud.add_foreign_route("10.99.0.0/24", to=nodes[0])
    cloud.terminate(nodes[0])
    assert all(states[gone] == cloud.TARGET_GONE for states in cloud.route_states().values())
    before = cloud.raw_routes()
    cloud.reset_calls()

    report = converge(cloud)

    assert report.converged
    assert cloud.writes() == ["route.delete"] * len(cloud.tables())
    assert all(gone not in routes for routes in cloud.routes().values())
    assert_routed(cloud, nodes[1:])
    after = cloud.raw_routes()
    assert len(set(before) - set(after)) == len(cloud.tables()), "only our route to the VM, in each table"
    assert {key: before[key] for key in after} == after, "every other route untouched"


def test_a_stopped_node_keeps_its_subnet_and_its_routes(cloud: Cloud) -> None:
    nodes = cloud.add_nodes(2)
    assert converge(cloud).converged
    before = cloud.pod_cidrs()
    stopped = before[nodes[0]]
    cloud.stop(nodes[0])
    cloud.reset_calls()

    planned = plan(cloud)

    assert planned.plan.empty
    assert cloud.writes() == []
    assert cloud.pod_cidrs() == before
    assert_routed(cloud, nodes)
    assert all(states[stopped] == cloud.TARGET_STOPPED for states in cloud.route_states().values())
    cloud.start(nodes[0])
    assert all(states[stopped] == cloud.ACTIVE for states in cloud.route_states().values())


def test_a_route_deleted_behind_our_back_counts_as_deleted(cloud: Cloud) -> None:
    nodes = cloud.add_nodes(2)
    assert converge(cloud).converged
    gone = cloud.pod_cidrs()[nodes[0]]
    cloud.terminate(nodes[0])
    cfg, provider = cloud.config(), cloud.provider()
    planned = engine.make_plan(provider, cfg)
    cloud.remove_route(gone)

    report = engine.apply(provider, cfg, planned)

    assert report.converged and not report.failed
    assert_routed(cloud, nodes[1:])
