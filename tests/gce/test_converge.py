"""GCE behaviour end to end through the engine, against the embedded Compute Engine emulator.

Assertions read the cloud back (routes, labels, canIpForward) and count requests in the emulator's call
log, never the engine's own claims about what it did.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from ipaddress import ip_network

import pytest

from cloudroutes import engine, providers
from cloudroutes.model import ActionKind, Outcome
from cloudroutes.providers import gce_names as names

from .world import INTERNET, PROJECT, READS, ZONES, count, method_id

ROUTE_WRITES = {"routes.insert", "routes.delete"}


# -- converge ------------------------------------------------------------------------------


def test_converges_one_marked_route_per_node_and_records_the_subnet_on_the_node(world):
    nodes = world.add_nodes(3)
    internet = world.routes()[INTERNET]

    report = world.converge()

    assert report.converged and not report.failed
    cidrs = world.assert_converged(nodes)
    assert sorted(cidrs.values()) == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]
    ours = world.ours()
    assert set(ours) == set(cidrs.values()), "nothing but one route per node"
    for route in ours.values():
        assert route["description"] == names.marker("prod")
        assert route["network"].endswith(f"/projects/{PROJECT}/global/networks/default")
        assert route["priority"] == 1000
        assert "warnings" not in route, "the next hop exists, runs and forwards"
    instances = world.instances()
    for node, cidr in cidrs.items():
        labels = instances[node]["labels"]
        assert labels[names.CIDR_LABEL] == cidr.replace(".", "-").replace("/", "_")
        assert labels[names.CLUSTER_LABEL] == "prod", "the labels we do not own are kept"
        assert instances[node]["canIpForward"] is True
    assert world.routes()[INTERNET] == internet, "the internet default route is untouched"


def test_an_apply_reads_once_to_plan_and_once_to_verify(world):
    world.add_nodes(4)
    world.sim.reset_calls()

    assert world.converge().converged

    calls = count(world.sim.calls)
    assert {op: calls[op] for op in READS} == {op: 2 for op in READS}
    writes = count(world.sim.writes())
    assert writes == {"instances.update": 4, "instances.setLabels": 4, "routes.insert": 4}
    # The one per-node read: a forwarding fix is a whole-instance PUT of the instance read fresh.
    assert calls["instances.get"] == writes["instances.update"]
    assert set(calls) - set(writes) == READS | {"instances.get"}, "no per-zone list, no route read back"


@pytest.mark.parametrize("n", [3, 30])
def test_a_second_pass_makes_zero_writes_and_a_constant_number_of_reads(world, n):
    world.add_nodes(n)
    assert world.converge().converged
    world.sim.reset_calls()

    planned = world.plan()

    assert planned.plan.empty and planned.plan.problems == ()
    assert world.sim.writes() == []
    assert count(world.sim.calls) == {op: 1 for op in READS}
    # No per-node get and no per-zone probing: nothing is addressed to a zone or a region.
    assert not [c.path for c in world.sim.calls if "/zones/" in c.path or "/regions/" in c.path]
    assert planned.observed.api_calls == {op: 1 for op in READS}


def test_forwarding_is_changed_only_where_it_is_off(world):
    on = world.add_nodes(2, forwarding=True)
    (off,) = world.add_nodes(1)
    world.sim.reset_calls()

    assert world.converge().converged

    updated = [c.path.rsplit("/", 1)[-1] for c in world.sim.writes() if method_id(c) == "instances.update"]
    assert updated == [off]
    assert all(world.instances()[n]["canIpForward"] for n in [*on, off])


def test_newcomers_do_not_move_anyone(world):
    nodes = world.add_nodes(3)
    assert world.converge().converged
    before = world.pod_cidrs()
    born = world.add_nodes(2)

    assert world.converge().converged

    after = world.assert_converged([*nodes, *born])
    assert {n: after[n] for n in nodes} == before


def test_reads_follow_every_page_and_cost_one_call_per_page(world, monkeypatch):
    monkeypatch.setattr("cloudroutes.providers.gce.PAGE_SIZE", 2)
    nodes = world.add_nodes(5)
    assert world.converge().converged
    world.sim.reset_calls()

    planned = world.plan()

    assert planned.plan.empty, "every node and every route was seen, across pages"
    world.assert_converged(nodes)
    calls = count(world.sim.calls)
    # 5 instances, 6 routes (5 ours and the internet route), 1 subnetwork: pages of 2.
    assert calls == {
        "projects.get": 1,
        "subnetworks.aggregatedList": 1,
        "instances.aggregatedList": 3,
        "routes.list": 3,
    }
    assert all(c.query.get("maxResults") == "2" for c in world.sim.calls if method_id(c).endswith(("List", ".list")))


def test_a_pass_over_a_thousand_converged_nodes_is_six_reads(make_world):
    """Pages of 500 (GCE's largest): 1,000 instances and 1,000 routes are two pages each (each further
    500 routes of the network, the internet route included, add a page)."""
    world = make_world(internet_route=False)
    for i in range(1000):
        name, subnet = f"node-{i + 1}", ip_network(f"10.{100 + i // 250}.{i % 250}.0/24")
        world.sim.add_instance(
            name,
            zone=ZONES[i % 2],
            can_ip_forward=True,
            labels={names.CLUSTER_LABEL: "prod", names.CIDR_LABEL: names.label_value(subnet)},
        )
        world.sim.add_route(
            name=names.route_name("prod", subnet),
            dest_range=str(subnet),
            next_hop_instance=f"zones/{ZONES[i % 2]}/instances/{name}",
            description=names.marker("prod"),
        )
    world.sim.reset_calls()

    planned = world.plan(cidr='"10.96.0.0/11"')

    assert planned.plan.empty and len(planned.observed.nodes) == 1000
    assert sum(count(world.sim.calls).values()) == 6
    assert count(world.sim.calls) == {
        "projects.get": 1,
        "subnetworks.aggregatedList": 1,
        "instances.aggregatedList": 2,
        "routes.list": 2,
    }


def test_dual_stack_routes_both_families_under_distinct_names(world):
    nodes = world.add_nodes(2)
    dual = '["10.244.0.0/16", "fd00:10:244::/48"]'

    assert world.converge(cidr=dual).converged

    ours = world.ours()
    assert set(ours) == {"10.244.0.0/24", "10.244.1.0/24", "fd00:10:244::/64", "fd00:10:244:1::/64"}
    assert len({r["name"] for r in ours.values()}) == 4
    instances = world.instances()
    for node in nodes:
        labels = instances[node]["labels"]
        v6 = str(names.parse_label(labels[names.CIDR_LABEL_V6], 6))
        assert ours[v6]["nextHopInstance"].endswith(world.hop(node))
        assert ours[v6]["name"] == names.route_name("prod", ip_network(v6))
    world.sim.reset_calls()
    assert world.plan(cidr=dual).plan.empty and world.sim.writes() == []


# -- operations ----------------------------------------------------------------------------


def test_slow_operations_are_waited_on_and_still_converge(world):
    world.sim.op_seconds = 0.05
    nodes = world.add_nodes(3)
    world.sim.reset_calls()

    report = world.converge()

    assert report.converged
    world.assert_converged(nodes)
    calls = count(world.sim.calls)
    assert calls["zoneOperations.list"] >= 2, "instances.update and setLabels are zone operations"
    assert calls["globalOperations.list"] >= 1, "routes.insert is a global operation"
    assert not {"zoneOperations.wait", "globalOperations.wait", "zoneOperations.get", "globalOperations.get"} & set(
        calls
    ), "operations are learned in batches, never waited on one by one"
    zone_polls = {
        c.path.split("/zones/")[1].split("/")[0] for c in world.sim.calls if method_id(c) == "zoneOperations.list"
    }
    assert zone_polls == set(ZONES), "each zone's operations are asked about in their own zone"
    assert all(op["status"] == "DONE" and "error" not in op for op in world.sim.operations())


def failed_dest(world, operation):
    name = operation["targetLink"].rsplit("/", 1)[-1]
    return world.routes()[name]["destRange"]


@pytest.mark.parametrize("op_seconds", [0.0, 0.05], ids=["done-at-once", "done-later"])
def test_a_transient_failure_inside_a_done_operation_is_retried(world, op_seconds):
    world.sim.op_seconds = op_seconds
    nodes = world.add_nodes(3)
    world.sim.fail_next("routes.insert", http_status=503, reason="backendError", in_operation=True)
    world.sim.reset_calls()

    report = world.converge()

    assert report.converged
    assert report.retries["transient"] == 1
    world.assert_converged(nodes)
    failed = [op for op in world.sim.operations() if "error" in op]
    assert len(failed) == 1 and failed[0]["httpErrorStatusCode"] == 503
    inserts = [c for c in world.sim.writes() if method_id(c) == "routes.insert"]
    assert len(inserts) == 4, "three routes, one of them twice"
    # The failed operation is final: replaying its requestId would only return it, so the retry needs a new one.
    retried = [c for c in inserts if c.body["destRange"] == failed_dest(world, failed[0])]
    assert len(retried) == 2 and retried[0].query["requestId"] != retried[1].query["requestId"]


@pytest.mark.parametrize("kind", ["instances.update", "instances.setLabels", "routes.insert", "routes.delete"])
def test_a_5xx_answer_to_any_write_is_retried_under_the_same_request_id(world, kind):
    nodes = world.add_nodes(3)
    if kind == "routes.delete":
        assert world.converge().converged
        world.sim.delete_instance(world.zone_for(nodes[0]), nodes[0])
        nodes = nodes[1:]
    world.sim.fail_next(kind, http_status=503, reason="backendError")
    world.sim.reset_calls()

    report = world.converge()

    assert report.converged and report.retries == {"transient": 1}
    world.assert_converged(nodes)
    (failed,) = [c for c in world.sim.writes() if c.status != 200]
    assert method_id(failed) == kind and failed.status == 503
    retried = [c for c in world.sim.writes() if c.query["requestId"] == failed.query["requestId"]]
    assert [c.status for c in retried] == [503, 200] and retried[0].path == retried[1].path


@pytest.mark.parametrize(
    ("op_seconds", "in_operation"),
    [(0.0, False), (0.0, True), (0.05, True)],
    ids=["http-answer", "inside-an-operation-done-at-once", "inside-an-operation-done-later"],
)
def test_a_quota_failure_is_not_retried(world, op_seconds, in_operation):
    world.sim.op_seconds = op_seconds
    world.add_nodes(3)
    world.sim.fail_next(
        "routes.insert",
        http_status=403,
        reason="quotaExceeded",
        message="Quota 'ROUTES' exceeded.",
        in_operation=in_operation,
    )
    world.sim.reset_calls()

    report = world.converge()

    assert not report.converged
    (failed,) = report.failed
    assert failed.action.kind is ActionKind.CREATE and failed.error_kind == "quota-exceeded"
    assert failed.attempts == 1 and not report.retries
    assert count(world.sim.writes())["routes.insert"] == 3
    assert len(world.ours()) == 2


# -- throttling and request ids -------------------------------------------------------------


def test_rate_limit_is_retried_with_backoff_and_counted(world):
    nodes = world.add_nodes(4)
    world.sim.rate_limit_every = 3
    world.sim.reset_calls()

    report = world.converge()

    assert report.converged
    world.assert_converged(nodes)
    throttled = [c for c in world.sim.writes() if c.status == 403]
    assert throttled and all(c.response["error"]["errors"][0]["reason"] == "rateLimitExceeded" for c in throttled)
    assert report.retries["throttled"] == len(throttled)


def test_every_write_carries_a_request_id_and_a_retry_reuses_it(world):
    nodes = world.add_nodes(4)
    world.sim.rate_limit_every = 4
    world.sim.reset_calls()

    assert world.converge().converged
    world.sim.delete_instance(world.zone_for(nodes[0]), nodes[0])
    assert world.converge().converged

    writes = world.sim.writes()
    kinds = count(writes)
    assert kinds["routes.insert"] >= 4 and kinds["routes.delete"] >= 1
    ids = [c.query.get("requestId", "") for c in writes]
    assert all(uuid.UUID(i).int != 0 for i in ids), "every write carries a non-zero UUID requestId"
    throttled = [c for c in writes if c.status == 403]
    assert throttled
    for call in throttled:
        later = [c for c in writes if c.query["requestId"] == call.query["requestId"] and c.status == 200]
        assert len(later) == 1 and later[0].path == call.path and later[0].body == call.body
    # Apart from those retries, no two writes share an id.
    done = [c.query["requestId"] for c in writes if c.status == 200]
    assert len(done) == len(set(done))


# -- node lifecycle -------------------------------------------------------------------------


def test_a_route_to_a_deleted_instance_is_deleted_when_it_is_ours(world):
    nodes = world.add_nodes(3)
    assert world.converge().converged
    gone = world.pod_cidrs()[nodes[0]]
    # Someone else's route to the same instance stays: it is not ours to delete.
    world.sim.add_route(name="theirs-to-node-1", dest_range="10.99.0.0/24", next_hop_instance=world.hop(nodes[0]))
    world.sim.delete_instance(world.zone_for(nodes[0]), nodes[0])
    assert world.ours()[gone]["warnings"][0]["code"] == "NEXT_HOP_INSTANCE_NOT_FOUND"
    world.sim.reset_calls()

    report = world.converge()

    assert report.converged
    assert [method_id(c) for c in world.sim.writes()] == ["routes.delete"]
    assert gone not in world.ours()
    world.assert_converged(nodes[1:])
    assert "theirs-to-node-1" in world.routes()


def test_a_stopped_node_keeps_its_subnet_and_its_route(world):
    nodes = world.add_nodes(2)
    assert world.converge().converged
    before = world.pod_cidrs()
    world.sim.set_instance_status(world.zone_for(nodes[0]), nodes[0], "TERMINATED")
    world.sim.reset_calls()

    planned = world.plan()

    assert planned.plan.empty
    assert world.sim.writes() == []
    assert world.pod_cidrs() == before
    route = world.ours()[before[nodes[0]]]
    assert [w["code"] for w in route["warnings"]] == ["NEXT_HOP_NOT_RUNNING"]
    assert route["nextHopInstance"].endswith(world.hop(nodes[0]))


def test_moving_a_subnet_is_delete_then_insert(world):
    """A node records 10.244.7.0/24, but our route for it still points at a VM that is gone."""
    world.sim.op_seconds = 0.05
    world.sim.add_instance("old-1", zone=ZONES[0])
    stale = names.route_name("prod", ip_network("10.244.7.0/24"))
    world.sim.add_route(
        name=stale,
        dest_range="10.244.7.0/24",
        next_hop_instance="zones/us-central1-a/instances/old-1",
        description=names.marker("prod"),
    )
    world.sim.delete_instance(ZONES[0], "old-1")
    world.sim.add_instance(
        "node-1",
        zone=ZONES[0],
        can_ip_forward=True,
        labels={names.CLUSTER_LABEL: "prod", names.CIDR_LABEL: "10-244-7-0_24"},
    )
    planned = world.plan()
    assert [(a.kind, str(a.destination), a.node) for a in planned.plan.actions] == [
        (ActionKind.REPLACE, "10.244.7.0/24", "node-1")
    ]
    world.sim.reset_calls()

    report = world.converge()

    assert report.converged and not report.failed
    assert world.assert_converged(["node-1"]) == {"node-1": "10.244.7.0/24"}
    calls = world.sim.calls
    ops = [method_id(c) for c in calls]
    assert [op for op in ops if op in ROUTE_WRITES] == ["routes.delete", "routes.insert"]
    assert calls[ops.index("routes.delete")].path.endswith(f"/global/routes/{stale}")
    # Same name: the insert goes only once the delete's operation is DONE (otherwise GCE answers 409).
    between = ops[ops.index("routes.delete") : ops.index("routes.insert")]
    assert "globalOperations.list" in between
    assert all(c.status == 200 for c in world.sim.writes())


# -- conflicts ------------------------------------------------------------------------------


def test_409_with_another_next_hop_means_observe_again_not_success(world):
    nodes = world.add_nodes(3)
    cfg, provider = world.config(), world.provider()
    planned = engine.make_plan(provider, cfg)
    contested = next(a.destination for a in planned.plan.actions if a.kind is ActionKind.CREATE and a.node == nodes[0])
    # Between plan and apply, someone routes that subnet under our deterministic name to another node.
    world.sim.add_route(
        name=names.route_name("prod", contested),
        dest_range=str(contested),
        next_hop_instance=world.hop(nodes[1]),
        description=names.marker("prod"),
    )

    report = engine.apply(provider, cfg, planned)

    assert report.rounds >= 2
    assert any(r.outcome is Outcome.CONFLICT and r.action.destination == contested for r in report.results)
    assert report.converged
    world.assert_converged(nodes)
    assert len(world.ours()) == 3
    assert engine.make_plan(world.provider(), cfg).plan.empty


def test_409_with_the_same_route_is_done(world):
    nodes = world.add_nodes(2)
    cfg, provider = world.config(), world.provider()
    planned = engine.make_plan(provider, cfg)
    create = next(a for a in planned.plan.actions if a.kind is ActionKind.CREATE and a.node == nodes[0])
    world.sim.add_route(
        name=names.route_name("prod", create.destination),
        dest_range=str(create.destination),
        next_hop_instance=world.hop(nodes[0]),
        description=names.marker("prod"),
    )
    world.sim.reset_calls()

    report = engine.apply(provider, cfg, planned)

    assert report.converged and report.rounds == 1 and not report.failed
    calls = count(world.sim.calls)
    assert calls["routes.get"] == 1, "the route holding the name is read and compared"
    world.assert_converged(nodes)


@pytest.mark.parametrize("op_seconds", [0.0, 0.05], ids=["done-at-once", "done-later"])
def test_two_applies_at_once_end_with_one_route_per_node(world, op_seconds):
    world.sim.op_seconds = op_seconds
    nodes = world.add_nodes(6)
    reports: list[engine.Report] = []

    def run() -> None:
        reports.append(world.converge())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(reports) == 2 and all(r.converged for r in reports), [r.failed for r in reports]
    cidrs = world.assert_converged(nodes)
    assert set(world.ours()) == set(cidrs.values())
    assert "routes.delete" not in count(world.sim.writes()), "no flapping: nothing made was unmade"
    assert world.plan().plan.empty


# -- forwarding, quota, foreign routes -----------------------------------------------------


def test_forwarding_off_without_fix_names_the_node_and_the_others_converge(world):
    ready = world.add_nodes(2, forwarding=True)
    (off,) = world.add_nodes(1)
    world.sim.reset_calls()

    report = world.converge(fix_forwarding=False)

    assert not report.converged
    (problem,) = [p for p in report.final.problems if p.blocking]
    assert off in problem.message and not any(n in problem.message for n in ready)
    assert "instances.update" not in count(world.sim.writes())
    assert world.instances()[off]["canIpForward"] is False
    world.assert_converged(ready)


def test_route_quota_too_small_inserts_nothing_and_says_how_many_are_missing(world):
    world.sim.add_network("other")
    world.sim.add_route(
        name="other-net", dest_range="0.0.0.0/0", next_hop_gateway="default-internet-gateway", network="other"
    )
    world.sim.routes_quota = 4  # the internet route and the other network's route leave room for 2 of ours
    world.add_nodes(3)
    world.sim.reset_calls()

    report = world.converge()

    assert not report.converged
    (problem,) = [p for p in report.final.problems if p.blocking]
    assert "1 route(s) missing" in problem.message and "ROUTES" in problem.message
    assert "routes.insert" not in count(world.sim.writes())
    assert world.ours() == {}


def test_foreign_routes_are_untouched_and_their_ranges_never_allocated(world):
    nodes = world.add_nodes(3, forwarding=True)  # so no route's warnings change under the comparison
    foreign = {
        "theirs-to-a-vm": {
            "dest_range": "10.244.0.0/24",
            "next_hop_instance": world.hop(nodes[0]),
            "description": "someone else",
        },
        "theirs-to-gateway": {"dest_range": "10.244.1.0/24", "next_hop_gateway": "default-internet-gateway"},
        # Our name and marker, but a gateway hop: not a node route, so not ours.
        "cr-prod-gateway": {
            "dest_range": "10.244.2.0/24",
            "next_hop_gateway": "default-internet-gateway",
            "description": names.marker("prod"),
        },
        # Another cluster whose name starts like ours.
        names.route_name("prod-eu", ip_network("10.244.3.0/24")): {
            "dest_range": "10.244.3.0/24",
            "next_hop_instance": world.hop(nodes[1]),
            "description": names.marker("prod-eu"),
        },
    }
    for name, fields in foreign.items():
        world.sim.add_route(name=name, **fields)
    before = world.routes()

    report = world.converge()

    assert report.converged
    after = world.routes()
    for name in [*foreign, INTERNET]:
        assert after[name] == before[name]
    cidrs = world.assert_converged(nodes)
    assert sorted(cidrs.values()) == ["10.244.4.0/24", "10.244.5.0/24", "10.244.6.0/24"]
    listed = " ".join(p.message for p in report.first.problems if not p.blocking)
    assert all(f"10.244.{k}.0/24" in listed for k in range(4))
    assert "0.0.0.0/0" not in listed, "a route as wide as the cluster range holds nothing"
    assert world.plan().plan.empty


def test_a_lost_answer_retries_the_write_under_the_same_request_id(world):
    """The insert reached GCE but its answer was lost: the retry must replay it, not start another."""
    from google.api_core import exceptions as gx

    world.sim.op_seconds = 0.05
    nodes = world.add_nodes(2, forwarding=True)
    cfg = world.config()
    provider = providers.create("gce", cfg)
    real_insert = provider._api.routes.insert_unary
    lost: list[str] = []

    def answer_lost_once(**request):
        operation = real_insert(**request)
        if not lost:
            lost.append(operation.name)
            raise gx.ServiceUnavailable("connection reset before the answer arrived")
        return operation

    provider._api.routes.insert_unary = answer_lost_once
    world.sim.reset_calls()

    report = engine.apply(provider, cfg, engine.make_plan(provider, cfg))

    assert report.converged and lost
    assert report.retries["transient"] == 1
    inserts = [c for c in world.sim.writes() if method_id(c) == "routes.insert"]
    assert len(inserts) == 3 and all(c.status == 200 for c in inserts)
    repeated = [rid for rid, n in Counter(c.query["requestId"] for c in inserts).items() if n == 2]
    assert len(repeated) == 1, "the retried insert carries the first one's requestId"
    assert "routes.get" not in count(world.sim.calls), "a replayed insert is no 409 to settle"
    assert len([op for op in world.sim.operations() if op["operationType"] == "insert"]) == 2
    world.assert_converged(nodes)


def test_a_failed_poll_neither_fails_nor_repeats_the_writes_in_flight(world):
    from google.api_core import exceptions as gx

    world.sim.op_seconds = 0.05
    nodes = world.add_nodes(2, forwarding=True)
    cfg = world.config()
    provider = providers.create("gce", cfg)
    real_list = provider._api.global_ops.list
    dropped: list[str] = []

    def flaky_list(**request):
        if not dropped:
            dropped.append(request["request"]["filter"])
            raise gx.ServiceUnavailable("connection reset while listing operations")
        return real_list(**request)

    provider._api.global_ops.list = flaky_list
    world.sim.reset_calls()

    report = engine.apply(provider, cfg, engine.make_plan(provider, cfg))

    assert report.converged and dropped
    assert count(world.sim.writes())["routes.insert"] == 2
    world.assert_converged(nodes)
