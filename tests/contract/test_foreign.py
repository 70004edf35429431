"""Ownership: a route that is not ours is never modified or deleted, and the range it holds is
never handed out (every cloud, with every kind of foreign route that cloud knows)."""

from __future__ import annotations

from ipaddress import ip_network

from .clouds import Cloud, assert_routed, blocks, converge, plan


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
