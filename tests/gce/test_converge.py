"""What only GCE has, end to end through the engine against the embedded Compute Engine emulator:
route names and labels in GCE's own encodings, pages, operations (polled in batches, failing inside),
request ids, 409 on a route name, canIpForward that may not be fixed, the project-wide route quota.

The scenarios every cloud shares live in tests/contract/. Assertions read the cloud back (routes,
labels, canIpForward) and count requests in the emulator's call log, never the engine's own claims.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from ipaddress import ip_network

import pytest

from cloudroutes import engine
from cloudroutes.model import ActionKind
from cloudroutes.providers import gce_names as names

from .world import PROJECT, ZONES, count, method_id

ROUTE_WRITES = {"routes.insert", "routes.delete"}


# -- converge ------------------------------------------------------------------------------


def test_our_routes_and_labels_take_gces_own_form_in_both_families(world):
    nodes = world.add_nodes(3)

    assert world.converge(cidr='["10.244.0.0/16", "fd00:10:244::/48"]').converged

    world.assert_converged(nodes)
    ours = world.ours()
    assert len(ours) == 6 and len({r["name"] for r in ours.values()}) == 6, "one name per route, per family"
    for dest, route in ours.items():
        assert route["name"] == names.route_name("prod", ip_network(dest))
        assert route["description"] == names.marker("prod")
        assert route["network"].endswith(f"/projects/{PROJECT}/global/networks/default")
        assert route["priority"] == 1000
        assert "warnings" not in route, "the next hop exists, runs and forwards"
    instances = world.instances()
    for node, cidr in world.pod_cidrs().items():
        labels = instances[node]["labels"]
        assert labels[names.CIDR_LABEL] == cidr.replace(".", "-").replace("/", "_")
        v6 = str(names.parse_label(labels[names.CIDR_LABEL_V6], 6))
        assert ours[v6]["nextHopInstance"].endswith(f"/projects/{PROJECT}/{world.hop(node)}")
        assert labels[names.CLUSTER_LABEL] == "prod", "the labels we do not own are kept"


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
    # No per-node get and no per-zone probing: nothing is addressed to a zone or a region.
    assert not [c.path for c in world.sim.calls if "/zones/" in c.path or "/regions/" in c.path]


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


def apply_dropping_one_connection(world, client: str, method: str, *, answer_lost: bool):
    """Apply, on slow operations, while the provider's `client.method` fails once with a reset
    connection: before its request reaches GCE, or after (the answer lost). Returns the report and
    the requests that were dropped."""
    from google.api_core import exceptions as gx

    world.sim.op_seconds = 0.05
    cfg, provider = world.config(), world.provider()
    api = getattr(provider._api, client)
    real = getattr(api, method)
    dropped: list[dict] = []

    def once(**request):
        if dropped:
            return real(**request)
        dropped.append(request)
        if answer_lost:
            real(**request)
        raise gx.ServiceUnavailable("connection reset")

    setattr(api, method, once)
    world.sim.reset_calls()
    return engine.apply(provider, cfg, engine.make_plan(provider, cfg)), dropped


def test_a_lost_answer_retries_the_write_under_the_same_request_id(world):
    """The insert reached GCE but its answer was lost: the retry must replay it, not start another."""
    nodes = world.add_nodes(2, forwarding=True)

    report, lost = apply_dropping_one_connection(world, "routes", "insert_unary", answer_lost=True)

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
    nodes = world.add_nodes(2, forwarding=True)

    report, dropped = apply_dropping_one_connection(world, "global_ops", "list", answer_lost=False)

    assert report.converged and dropped
    assert count(world.sim.writes())["routes.insert"] == 2
    world.assert_converged(nodes)


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


def test_the_connection_pools_hold_every_worker(world, caplog):
    """Past 10 workers the SDK's default pools warn and open a connection per call."""
    world.sim.op_seconds = 0.05
    world.add_nodes(24)
    with caplog.at_level(logging.WARNING, logger="urllib3"):
        assert world.converge().converged
    assert not [r for r in caplog.records if "Connection pool is full" in r.getMessage()]
