"""A live node's subnet never moves: the record on its VM decides, routes follow (both clouds)."""

from __future__ import annotations

from ipaddress import ip_network

from .clouds import Cloud, converge, plan


def test_a_route_bent_at_another_live_node_is_put_back_and_nobody_moves(cloud: Cloud) -> None:
    nodes = cloud.add_nodes(3)
    assert converge(cloud).converged
    before = cloud.pod_cidrs()
    # The bent block sorts below the thief's own: the ranking that once let routes outweigh records
    # handed the thief the lower block and its own to the victim, a swap of two live nodes.
    by_block = sorted(nodes, key=lambda n: ip_network(before[n]).network_address)
    victim, thief = by_block[0], by_block[-1]
    cloud.bend(before[victim], to=thief)
    assert all(routes[before[victim]] == thief for routes in cloud.routes().values())
    cloud.reset_calls()

    report = converge(cloud)

    assert report.converged
    assert cloud.pod_cidrs() == before, "no live node's subnet moved"
    for routes in cloud.routes().values():
        assert routes == {cidr: node for node, cidr in before.items()}
    assert not [w for w in cloud.writes() if w in ("CreateTags", "DeleteTags", "instances.setLabels")], (
        "no claim written"
    )
    assert plan(cloud).plan.empty
