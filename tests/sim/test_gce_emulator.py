"""The embedded GCE emulator, driven through the real google-cloud-compute client.

Each test checks an observable GCE behaviour the tool relies on (status codes, reasons, messages, end
state), and the schema test checks every body that crossed the wire against Google's discovery document.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1
from jsonschema import Draft7Validator

from cloudroutes.sim.gce import ComputeSim, serve_forever
from cloudroutes.sim.gce.filters import compile_filter

from . import discovery

PROJECT = "demo-project"
NETWORK = "global/networks/default"
NETWORK_URL = f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/{NETWORK}"
ZONE_A, ZONE_B = "us-central1-a", "us-central1-b"
HOP_1 = f"zones/{ZONE_A}/instances/node-1"  # canIpForward on
HOP_3 = f"zones/{ZONE_A}/instances/node-3"  # canIpForward off
DONE = compute_v1.Operation.Status.DONE
REPO = Path(__file__).resolve().parents[2]


def seed(sim: ComputeSim) -> None:
    sim.add_network("default")
    sim.add_subnetwork(
        "default", region="us-central1", name="nodes", cidr="10.128.0.0/20", secondary={"pods-x": "10.60.0.0/16"}
    )
    label = {"cloudroutes-cluster": "demo"}
    sim.add_instance("node-1", zone=ZONE_A, ip="10.128.0.11", labels=label, can_ip_forward=True)
    sim.add_instance("node-2", zone=ZONE_B, ip="10.128.0.12", labels=label, can_ip_forward=True)
    sim.add_instance("node-3", zone=ZONE_A, ip="10.128.0.13", labels=label)


@dataclass(frozen=True)
class Clients:
    routes: compute_v1.RoutesClient
    ops: compute_v1.GlobalOperationsClient
    zone_ops: compute_v1.ZoneOperationsClient
    instances: compute_v1.InstancesClient
    projects: compute_v1.ProjectsClient
    networks: compute_v1.NetworksClient
    subnetworks: compute_v1.SubnetworksClient


def clients_for(sim: ComputeSim) -> Clients:
    kw = {"credentials": AnonymousCredentials(), "client_options": ClientOptions(api_endpoint=sim.endpoint)}
    return Clients(
        routes=compute_v1.RoutesClient(**kw),
        ops=compute_v1.GlobalOperationsClient(**kw),
        zone_ops=compute_v1.ZoneOperationsClient(**kw),
        instances=compute_v1.InstancesClient(**kw),
        projects=compute_v1.ProjectsClient(**kw),
        networks=compute_v1.NetworksClient(**kw),
        subnetworks=compute_v1.SubnetworksClient(**kw),
    )


@pytest.fixture
def make_sim() -> Iterator[Callable[..., ComputeSim]]:
    started: list[ComputeSim] = []

    def make(**options: object) -> ComputeSim:
        sim = ComputeSim(project=PROJECT, **options)  # type: ignore[arg-type]
        sim.start()
        started.append(sim)
        seed(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim: Callable[..., ComputeSim]) -> ComputeSim:
    return make_sim()


@pytest.fixture
def c(sim: ComputeSim) -> Clients:
    return clients_for(sim)


def route(name: str, dest: str, hop: str = HOP_1, **extra: object) -> compute_v1.Route:
    fields = {"priority": 1000, "description": "cloudroutes", **extra}
    return compute_v1.Route(name=name, network=NETWORK, dest_range=dest, next_hop_instance=hop, **fields)


def insert(c: Clients, resource: compute_v1.Route, **kw: object) -> compute_v1.Operation:
    request = compute_v1.InsertRouteRequest(project=PROJECT, route_resource=resource, **kw)
    return c.routes.insert_unary(request=request)


def reasons(exc: gexc.GoogleAPICallError) -> list[str]:
    return [e["reason"] for e in exc.errors]


def message(exc: gexc.GoogleAPICallError) -> str:
    """The server's message; the client prefixes `exc.message` with the method and URL."""
    return exc.response.json()["error"]["message"]


def names(routes: list[dict]) -> set[str]:
    return {r["name"] for r in routes}


# --- routes: the happy path -------------------------------------------------------------------------


def test_insert_get_list_delete(sim: ComputeSim, c: Clients) -> None:
    op = insert(c, route("cr-node-1", "10.244.1.0/24"))
    assert op.status == DONE and not op.error.errors
    assert op.operation_type == "insert" and op.target_link.endswith(f"/projects/{PROJECT}/global/routes/cr-node-1")

    got = c.routes.get(project=PROJECT, route="cr-node-1")
    assert got.next_hop_instance == f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/{HOP_1}"
    assert (got.network, got.dest_range, got.priority, got.route_type) == (NETWORK_URL, "10.244.1.0/24", 1000, "STATIC")
    assert not got.warnings
    assert [r.name for r in c.routes.list(project=PROJECT)] == ["cr-node-1"]

    gone = c.routes.delete_unary(project=PROJECT, route="cr-node-1")
    assert gone.status == DONE and gone.operation_type == "delete"
    assert sim.routes() == []
    with pytest.raises(gexc.NotFound):
        c.routes.get(project=PROJECT, route="cr-node-1")
    with pytest.raises(gexc.NotFound) as err:
        c.routes.delete_unary(project=PROJECT, route="cr-node-1")
    assert reasons(err.value) == ["notFound"]


def test_priority_defaults_to_1000_and_hop_forms_are_normalised(sim: ComputeSim, c: Clients) -> None:
    full = f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/{HOP_1}"
    no_priority = compute_v1.Route(name="a", network=NETWORK_URL, dest_range="10.244.1.0/24", next_hop_instance=full)
    insert(c, no_priority)
    insert(c, route("b", "10.244.2.0/24", hop=f"projects/{PROJECT}/{HOP_1}", priority=7))
    by_name = {r["name"]: r for r in sim.routes()}
    assert by_name["a"]["priority"] == 1000 and by_name["b"]["priority"] == 7
    assert by_name["a"]["nextHopInstance"] == by_name["b"]["nextHopInstance"] == full


def test_duplicate_name_is_409_and_changes_nothing(sim: ComputeSim, c: Clients) -> None:
    insert(c, route("cr-x", "10.244.1.0/24"))
    with pytest.raises(gexc.Conflict) as err:
        insert(c, route("cr-x", "10.244.9.0/24", hop=HOP_3))
    assert reasons(err.value) == ["alreadyExists"]
    assert message(err.value) == f"The resource 'projects/{PROJECT}/global/routes/cr-x' already exists"
    assert [r["destRange"] for r in sim.routes()] == ["10.244.1.0/24"]


# --- routes: validation -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Bad-name", "-lead", "trail-", "1digit", "under_score", "a" * 64])
def test_bad_route_name_is_400_invalid(c: Clients, name: str) -> None:
    with pytest.raises(gexc.BadRequest) as err:
        insert(c, route(name, "10.244.1.0/24"))
    assert reasons(err.value) == ["invalid"]
    assert f"Invalid value for field 'resource.name': '{name}'" in message(err.value)


def test_longest_legal_route_name_is_accepted(sim: ComputeSim, c: Clients) -> None:
    insert(c, route("a" * 62 + "1", "10.244.1.0/24"))
    assert names(sim.routes()) == {"a" * 62 + "1"}


@pytest.mark.parametrize(
    ("dest", "hidden"),
    [
        ("10.128.0.0/24", "'nodes' (10.128.0.0/20)"),  # inside the primary range
        ("10.128.0.0/20", "'nodes' (10.128.0.0/20)"),  # equal to it
        ("10.60.1.0/24", "'nodes' secondary range 'pods-x' (10.60.0.0/16)"),  # inside a secondary range
    ],
)
def test_dest_range_hiding_a_subnet_range_is_400(sim: ComputeSim, c: Clients, dest: str, hidden: str) -> None:
    with pytest.raises(gexc.BadRequest) as err:
        insert(c, route("cr-x", dest))
    assert message(err.value) == (
        f"Invalid value for field 'resource.destRange': '{dest}'. "
        f"{dest} hides the address space of the network's subnetwork {hidden}."
    )
    assert sim.routes() == []


def test_broader_and_disjoint_ranges_are_accepted(sim: ComputeSim, c: Clients) -> None:
    insert(c, route("wide", "10.0.0.0/8"))  # a supernet of the subnet: the subnet route still wins
    insert(c, route("pods", "10.244.0.0/24"))
    assert names(sim.routes()) == {"wide", "pods"}


@pytest.mark.parametrize("dest", ["10.244.1.5/24", "10.244.1.0/33", "banana", "10.244.1.0"])
def test_malformed_or_non_canonical_dest_range_is_400(c: Clients, dest: str) -> None:
    with pytest.raises(gexc.BadRequest) as err:
        insert(c, route("cr-x", dest))
    assert f"Invalid value for field 'resource.destRange': '{dest}'" in message(err.value)


def test_missing_network_or_next_hop_instance_is_404(sim: ComputeSim, c: Clients) -> None:
    missing_net = compute_v1.Route(
        name="a", network="global/networks/nope", dest_range="10.244.1.0/24", next_hop_instance=HOP_1, priority=1000
    )
    with pytest.raises(gexc.NotFound) as err:
        insert(c, missing_net)
    assert message(err.value) == f"The resource 'projects/{PROJECT}/global/networks/nope' was not found"
    with pytest.raises(gexc.NotFound) as err:
        insert(c, route("b", "10.244.1.0/24", hop=f"zones/{ZONE_B}/instances/node-1"))  # node-1 is in zone a
    assert message(err.value) == f"The resource 'projects/{PROJECT}/zones/{ZONE_B}/instances/node-1' was not found"
    assert sim.routes() == []


# --- quota, rate limits, injected faults ------------------------------------------------------------


def test_routes_quota_is_403_and_project_reports_it(make_sim: Callable[..., ComputeSim]) -> None:
    sim = make_sim(routes_quota=2)
    c = clients_for(sim)
    sim.add_route(name="foreign", dest_range="0.0.0.0/0", next_hop_gateway="default-internet-gateway")
    insert(c, route("cr-1", "10.244.1.0/24"))
    with pytest.raises(gexc.Forbidden) as err:
        insert(c, route("cr-2", "10.244.2.0/24"))
    assert reasons(err.value) == ["quotaExceeded"]
    assert message(err.value) == "Quota 'ROUTES' exceeded. Limit: 2.0 globally."
    assert sim.calls[-1].response["error"]["errors"][0]["domain"] == "usageLimits"
    quota = next(q for q in c.projects.get(project=PROJECT).quotas if q.metric == "ROUTES")
    assert (quota.limit, quota.usage) == (2.0, 2.0)
    c.routes.delete_unary(project=PROJECT, route="foreign")
    insert(c, route("cr-2", "10.244.2.0/24"))  # a freed slot can be used again
    assert names(sim.routes()) == {"cr-1", "cr-2"}


def test_every_nth_write_is_rate_limited_and_reads_do_not_count(make_sim: Callable[..., ComputeSim]) -> None:
    sim = make_sim(rate_limit_every=3)
    c = clients_for(sim)
    outcomes = []
    for n in range(1, 7):
        c.routes.list(project=PROJECT)  # reads never count towards the limit
        try:
            insert(c, route(f"cr-{n}", f"10.244.{n}.0/24"))
            outcomes.append("ok")
        except gexc.Forbidden as exc:
            outcomes.append(reasons(exc)[0])
    assert outcomes == ["ok", "ok", "rateLimitExceeded"] * 2
    throttled = [call for call in sim.writes() if call.status == 403]
    assert len(throttled) == 2
    assert throttled[0].response == {
        "error": {
            "code": 403,
            "message": "Rate Limit Exceeded",
            "errors": [{"message": "Rate Limit Exceeded", "domain": "usageLimits", "reason": "rateLimitExceeded"}],
        }
    }
    assert names(sim.routes()) == {"cr-1", "cr-2", "cr-4", "cr-5"}


def test_injected_failure_inside_the_operation(sim: ComputeSim, c: Clients) -> None:
    sim.fail_next("routes.insert", http_status=500, reason="internalError", message="boom", in_operation=True)
    op = insert(c, route("cr-x", "10.244.1.0/24"))
    assert op.status == DONE
    assert [(e.code, e.message) for e in op.error.errors] == [("INTERNAL_ERROR", "boom")]
    assert (op.http_error_status_code, op.http_error_message) == (500, "INTERNAL SERVER ERROR")
    assert sim.routes() == []
    again = insert(c, route("cr-x", "10.244.1.0/24"))  # the failed insert released its name
    assert again.status == DONE and not again.error.errors
    assert names(sim.routes()) == {"cr-x"}


def test_failed_operation_raises_through_extended_operation_result(sim: ComputeSim, c: Clients) -> None:
    sim.fail_next("routes.insert", http_status=409, reason="alreadyExists", message="taken", in_operation=True)
    extended = c.routes.insert(project=PROJECT, route_resource=route("cr-x", "10.244.1.0/24"))
    with pytest.raises(gexc.Conflict):
        extended.result(timeout=5)


def test_injected_http_failure_hits_one_call_only(sim: ComputeSim, c: Clients) -> None:
    insert(c, route("cr-x", "10.244.1.0/24"))
    sim.fail_next("routes.delete", http_status=503, reason="backendError", message="Backend Error")
    with pytest.raises(gexc.ServiceUnavailable):
        c.routes.delete_unary(project=PROJECT, route="cr-x")
    assert names(sim.routes()) == {"cr-x"}
    c.routes.delete_unary(project=PROJECT, route="cr-x")
    assert sim.routes() == []


# --- requestId ------------------------------------------------------------------------------------------


def test_request_id_replay_returns_the_first_operation(sim: ComputeSim, c: Clients) -> None:
    rid = str(uuid.uuid4())
    first = insert(c, route("cr-x", "10.244.1.0/24"), request_id=rid)
    second = insert(c, route("cr-x", "10.244.1.0/24"), request_id=rid)  # a retry: no 409
    assert second.name == first.name and second.status == DONE
    assert names(sim.routes()) == {"cr-x"}
    with pytest.raises(gexc.Conflict):  # a different requestId is a new request
        insert(c, route("cr-x", "10.244.1.0/24"), request_id=str(uuid.uuid4()))
    delete = compute_v1.DeleteRouteRequest(project=PROJECT, route="cr-x", request_id=rid)
    deleted = c.routes.delete_unary(request=delete)  # another method: a fresh request
    replayed = c.routes.delete_unary(request=delete)  # a retry: no 404
    assert replayed.name == deleted.name != first.name
    assert sim.routes() == []


@pytest.mark.parametrize("rid", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_request_id_must_be_a_nonzero_uuid(sim: ComputeSim, c: Clients, rid: str) -> None:
    with pytest.raises(gexc.BadRequest):
        insert(c, route("cr-x", "10.244.1.0/24"), request_id=rid)
    assert sim.routes() == []


# --- next-hop warnings ----------------------------------------------------------------------------------


def test_route_warnings_follow_the_next_hop_instance(sim: ComputeSim, c: Clients) -> None:
    insert(c, route("via-1", "10.244.1.0/24", hop=HOP_1))
    insert(c, route("via-2", "10.244.2.0/24", hop=f"zones/{ZONE_B}/instances/node-2"))
    insert(c, route("via-3", "10.244.3.0/24", hop=HOP_3))

    def codes() -> dict[str, list[str]]:
        return {r.name: [w.code for w in r.warnings] for r in c.routes.list(project=PROJECT)}

    assert codes() == {"via-1": [], "via-2": [], "via-3": ["NEXT_HOP_CANNOT_IP_FORWARD"]}
    sim.delete_instance(ZONE_A, "node-1")
    sim.set_instance_status(ZONE_B, "node-2", "TERMINATED")
    assert codes() == {
        "via-1": ["NEXT_HOP_INSTANCE_NOT_FOUND"],
        "via-2": ["NEXT_HOP_NOT_RUNNING"],
        "via-3": ["NEXT_HOP_CANNOT_IP_FORWARD"],
    }
    warning = c.routes.get(project=PROJECT, route="via-1").warnings[0]
    assert "node-1" in warning.message and "does not exist" in warning.message


# --- instances: fingerprints, labels, listing --------------------------------------------------------


def test_update_can_ip_forward_needs_the_current_fingerprint(sim: ComputeSim, c: Clients) -> None:
    before = c.instances.get(project=PROJECT, zone=ZONE_A, instance="node-3")
    assert before.can_ip_forward is False

    def update(fingerprint: str | None) -> compute_v1.Operation:
        body = compute_v1.Instance(name="node-3", can_ip_forward=True)
        if fingerprint is not None:
            body.fingerprint = fingerprint
        request = compute_v1.UpdateInstanceRequest(
            project=PROJECT,
            zone=ZONE_A,
            instance="node-3",
            instance_resource=body,
            minimal_action="REFRESH",
            most_disruptive_allowed_action="REFRESH",
        )
        return c.instances.update_unary(request=request)

    op = update(before.fingerprint)
    assert op.status == DONE and op.zone.endswith(f"/zones/{ZONE_A}") and op.operation_type == "update"
    assert c.zone_ops.get(project=PROJECT, zone=ZONE_A, operation=op.name).status == DONE
    with pytest.raises(gexc.NotFound):  # a zonal operation is not a global one
        c.ops.get(project=PROJECT, operation=op.name)
    after = c.instances.get(project=PROJECT, zone=ZONE_A, instance="node-3")
    assert after.can_ip_forward is True and after.fingerprint != before.fingerprint

    for stale in (before.fingerprint, None):
        with pytest.raises(gexc.PreconditionFailed) as err:
            update(stale)
        assert reasons(err.value) == ["conditionNotMet"]


def test_set_labels_needs_the_current_label_fingerprint(sim: ComputeSim, c: Clients) -> None:
    before = c.instances.get(project=PROJECT, zone=ZONE_B, instance="node-2")

    def set_labels(labels: dict[str, str], fingerprint: str) -> compute_v1.Operation:
        body = compute_v1.InstancesSetLabelsRequest(labels=labels, label_fingerprint=fingerprint)
        return c.instances.set_labels_unary(
            project=PROJECT, zone=ZONE_B, instance="node-2", instances_set_labels_request_resource=body
        )

    wanted = {"cloudroutes-cluster": "demo", "cloudroutes-subnet": "10-244-2-0--24"}
    op = set_labels(wanted, before.label_fingerprint)
    assert op.status == DONE and op.operation_type == "setLabels"
    after = c.instances.get(project=PROJECT, zone=ZONE_B, instance="node-2")
    assert dict(after.labels) == wanted and after.label_fingerprint != before.label_fingerprint
    with pytest.raises(gexc.PreconditionFailed):
        set_labels({"x": "y"}, before.label_fingerprint)
    with pytest.raises(gexc.BadRequest):  # label values cannot hold '/' or '.'
        set_labels({"cloudroutes-subnet": "10.244.2.0/24"}, after.label_fingerprint)
    assert dict(c.instances.get(project=PROJECT, zone=ZONE_B, instance="node-2").labels) == wanted


def test_delete_instance_is_a_zonal_operation_and_leaves_its_routes_warned(sim: ComputeSim, c: Clients) -> None:
    insert(c, route("via-1", "10.244.1.0/24", hop=HOP_1))
    op = c.instances.delete_unary(project=PROJECT, zone=ZONE_A, instance="node-1")
    assert op.status == DONE and not op.error.errors and op.operation_type == "delete"
    assert op.zone.endswith(f"/zones/{ZONE_A}") and op.target_link.endswith(f"/{HOP_1}")
    assert c.zone_ops.get(project=PROJECT, zone=ZONE_A, operation=op.name).status == DONE
    with pytest.raises(gexc.NotFound):
        c.instances.get(project=PROJECT, zone=ZONE_A, instance="node-1")
    assert [i.name for i in c.instances.list(project=PROJECT, zone=ZONE_A)] == ["node-3"]
    [warning] = c.routes.get(project=PROJECT, route="via-1").warnings
    assert warning.code == "NEXT_HOP_INSTANCE_NOT_FOUND" and "node-1" in warning.message
    with pytest.raises(gexc.NotFound) as err:  # gone: a second delete finds nothing
        c.instances.delete_unary(project=PROJECT, zone=ZONE_A, instance="node-1")
    assert reasons(err.value) == ["notFound"]
    with pytest.raises(gexc.NotFound):  # an instance is deleted in its own zone only
        c.instances.delete_unary(project=PROJECT, zone=ZONE_A, instance="node-2")
    assert {i["name"] for i in sim.instances()} == {"node-2", "node-3"}


def test_delete_instance_lands_when_its_operation_is_done(make_sim: Callable[..., ComputeSim]) -> None:
    sim = make_sim(op_seconds=0.3)
    c = clients_for(sim)
    op = c.instances.delete_unary(project=PROJECT, zone=ZONE_A, instance="node-3")
    assert op.status != DONE
    assert c.instances.get(project=PROJECT, zone=ZONE_A, instance="node-3").name == "node-3"  # still there
    with pytest.raises(gexc.BadRequest) as err:
        c.instances.delete_unary(project=PROJECT, zone=ZONE_A, instance="node-3")
    assert reasons(err.value) == ["resourceNotReady"]
    assert c.zone_ops.wait(project=PROJECT, zone=ZONE_A, operation=op.name).status == DONE
    assert {i["name"] for i in sim.instances()} == {"node-1", "node-2"}


def test_delete_instance_replays_its_request_id_and_can_fail_inside_the_operation(sim: ComputeSim, c: Clients) -> None:
    sim.fail_next("instances.delete", http_status=500, reason="internalError", message="boom", in_operation=True)
    failed = c.instances.delete_unary(project=PROJECT, zone=ZONE_A, instance="node-3")
    assert [(e.code, e.message) for e in failed.error.errors] == [("INTERNAL_ERROR", "boom")]
    assert "node-3" in {i["name"] for i in sim.instances()}  # the failed delete changed nothing
    request = compute_v1.DeleteInstanceRequest(
        project=PROJECT, zone=ZONE_A, instance="node-3", request_id=str(uuid.uuid4())
    )
    first = c.instances.delete_unary(request=request)
    retried = c.instances.delete_unary(request=request)  # a retry: the same operation, no 404
    assert retried.name == first.name != failed.name
    assert "node-3" not in {i["name"] for i in sim.instances()}


def test_delete_instance_checks_no_graceful_shutdown_is_a_boolean(sim: ComputeSim) -> None:
    url = f"{sim.endpoint}/compute/v1/projects/{PROJECT}/zones/{ZONE_A}/instances/node-3"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(urllib.request.Request(f"{url}?noGracefulShutdown=maybe", method="DELETE"), timeout=5)
    assert err.value.code == 400 and json.loads(err.value.read())["error"]["errors"][0]["reason"] == "invalid"
    assert "node-3" in {i["name"] for i in sim.instances()}
    with urllib.request.urlopen(urllib.request.Request(f"{url}?noGracefulShutdown=true", method="DELETE"), timeout=5):
        pass
    assert "node-3" not in {i["name"] for i in sim.instances()}


def test_aggregated_instances_filter_and_pages(sim: ComputeSim, c: Clients) -> None:
    sim.add_instance("node-4", zone="us-central1-c", labels={"cloudroutes-cluster": "demo"})
    sim.add_instance("node-5", zone=ZONE_B, labels={"cloudroutes-cluster": "demo"}, status="TERMINATED")
    sim.add_instance("bastion", zone=ZONE_A)  # no cluster label
    request = compute_v1.AggregatedListInstancesRequest(
        project=PROJECT, filter='labels.cloudroutes-cluster = "demo"', max_results=2
    )
    seen = [(scope, i.name) for scope, scoped in c.instances.aggregated_list(request=request) for i in scoped.instances]
    assert sorted(seen) == [
        ("zones/us-central1-a", "node-1"),
        ("zones/us-central1-a", "node-3"),
        ("zones/us-central1-b", "node-2"),
        ("zones/us-central1-b", "node-5"),
        ("zones/us-central1-c", "node-4"),
    ]
    pages = [call.response for call in sim.calls if call.path.endswith("/aggregated/instances")]
    assert len(pages) == 3
    for page in pages:
        assert set(page["items"]) == {"zones/us-central1-a", "zones/us-central1-b", "zones/us-central1-c"}
        for scoped in page["items"].values():
            assert ("instances" in scoped) != (scoped.get("warning", {}).get("code") == "NO_RESULTS_ON_PAGE")

    running = compute_v1.AggregatedListInstancesRequest(project=PROJECT, filter="status = RUNNING")
    got = {i.name for _, scoped in c.instances.aggregated_list(request=running) for i in scoped.instances}
    assert got == {"node-1", "node-2", "node-3", "node-4", "bastion"}
    zonal = c.instances.list(project=PROJECT, zone=ZONE_B)
    assert [i.name for i in zonal] == ["node-2", "node-5"]
    first = next(iter(zonal))
    assert first.network_interfaces[0].network_i_p == "10.128.0.12"
    assert first.network_interfaces[0].network == NETWORK_URL


# --- route listing: filters and pages ------------------------------------------------------------------


@pytest.fixture
def three_routes(sim: ComputeSim, c: Clients) -> ComputeSim:
    insert(c, route("cr-a", "10.244.1.0/24"))
    insert(c, route("cr-b", "10.244.2.0/24", priority=900))
    sim.add_route(
        name="other-1", dest_range="0.0.0.0/0", next_hop_gateway="default-internet-gateway", description="someone else"
    )
    return sim


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(name eq 'cr-.*') (description eq cloudroutes)", {"cr-a", "cr-b"}),
        ("name eq cr-.*", {"cr-a", "cr-b"}),
        ("name eq cr", set()),  # a regex must match the whole field
        ("(name ne cr-a)", {"cr-b", "other-1"}),
        (f"(name eq cr-.*) (network eq {NETWORK_URL})", {"cr-a", "cr-b"}),  # the Kubernetes form
        ('name = "cr-a"', {"cr-a"}),
        ('description != "cloudroutes"', {"other-1"}),
        ('name = "cr-a" OR name = "cr-b"', {"cr-a", "cr-b"}),
        ('(description = "cloudroutes") AND (priority < 1000)', {"cr-b"}),
        ('(description = "cloudroutes") (priority = 1000)', {"cr-a"}),
        ("nextHopGateway:*", {"other-1"}),
        ('NOT name = "cr-a"', {"cr-b", "other-1"}),
        ("", {"cr-a", "cr-b", "other-1"}),
    ],
)
def test_route_list_filters(three_routes: ComputeSim, c: Clients, text: str, expected: set[str]) -> None:
    request = compute_v1.ListRoutesRequest(project=PROJECT, filter=text)
    assert {r.name for r in c.routes.list(request=request)} == expected


@pytest.mark.parametrize(
    "text",
    [
        'name = "cr-a" (description eq x)',  # the two styles mixed
        'nmae = "cr-a"',  # unknown field
        '(name = "cr-a"',  # unbalanced
        "name eq (",  # bad regex
        "name",  # no operator
        "(name eq a) AND (description eq b)",  # keywords with the regex form
    ],
)
def test_unsupported_filters_are_400(three_routes: ComputeSim, c: Clients, text: str) -> None:
    with pytest.raises(gexc.BadRequest) as err:
        list(c.routes.list(request=compute_v1.ListRoutesRequest(project=PROJECT, filter=text)))
    assert "Invalid value for field 'filter'" in message(err.value)


def test_route_pages_survive_deletes_between_pages(sim: ComputeSim, c: Clients) -> None:
    for n in range(7):
        insert(c, route(f"r{n}", f"10.244.{n}.0/24"))
    sim.reset_calls()
    assert [r.name for r in c.routes.list(request=compute_v1.ListRoutesRequest(project=PROJECT, max_results=3))] == [
        f"r{n}" for n in range(7)
    ]
    assert [call.query.get("pageToken") is not None for call in sim.calls] == [False, True, True]

    first = c.routes.list(request=compute_v1.ListRoutesRequest(project=PROJECT, max_results=3))
    page = next(iter(first.pages))
    assert [r.name for r in page.items] == ["r0", "r1", "r2"]
    c.routes.delete_unary(project=PROJECT, route="r0")  # an offset-based token would now skip r3
    follow = compute_v1.ListRoutesRequest(project=PROJECT, max_results=3, page_token=page.next_page_token)
    assert [r.name for r in next(iter(c.routes.list(request=follow).pages)).items] == ["r3", "r4", "r5"]
    with pytest.raises(gexc.BadRequest):
        list(c.routes.list(request=compute_v1.ListRoutesRequest(project=PROJECT, page_token="garbage!")))


@pytest.mark.parametrize(
    ("text", "resource", "expected"),
    [
        (
            'networkInterfaces.networkIP = "10.0.0.2"',
            {"networkInterfaces": [{"networkIP": "10.0.0.1"}, {"networkIP": "10.0.0.2"}]},
            True,
        ),
        ("labels.env:*", {"labels": {"team": "x"}}, False),
        ("canIpForward = true", {"canIpForward": True}, True),
        ("canIpForward eq false", {"canIpForward": True}, False),
        ("description ne .+", {}, True),  # an absent field is the empty string to a regex
        ("priority >= 900 priority <= 1000", {"priority": 950}, True),
        ('name : "node"', {"name": "big-node-7"}, True),
    ],
)
def test_filter_semantics(text: str, resource: dict, expected: bool) -> None:
    fields = {"networkInterfaces", "labels", "canIpForward", "description", "priority", "name"}
    assert compile_filter(text, fields)(resource) is expected


# --- operations that take time ----------------------------------------------------------------------------


def test_operations_progress_and_land_their_effect_only_when_done(make_sim: Callable[..., ComputeSim]) -> None:
    sim = make_sim(op_seconds=1.0)
    c = clients_for(sim)
    started = time.monotonic()
    op = insert(c, route("cr-slow", "10.244.1.0/24"))
    assert op.status == compute_v1.Operation.Status.PENDING and op.progress == 0
    assert sim.routes() == []
    with pytest.raises(gexc.NotFound):
        c.routes.get(project=PROJECT, route="cr-slow")
    with pytest.raises(gexc.Conflict):  # the pending insert already holds the name
        insert(c, route("cr-slow", "10.244.2.0/24"))
    with pytest.raises(gexc.BadRequest) as err:  # and it cannot be deleted before it exists
        c.routes.delete_unary(project=PROJECT, route="cr-slow")
    assert reasons(err.value) == ["resourceNotReady"]
    time.sleep(0.4)
    assert c.ops.get(project=PROJECT, operation=op.name).status == compute_v1.Operation.Status.RUNNING
    done = c.ops.wait(project=PROJECT, operation=op.name)
    assert done.status == DONE and done.progress == 100 and done.end_time
    assert 0.9 <= time.monotonic() - started < 2.5
    assert c.routes.get(project=PROJECT, route="cr-slow").dest_range == "10.244.1.0/24"


def test_pending_inserts_count_against_the_quota_and_wait_is_capped(make_sim: Callable[..., ComputeSim]) -> None:
    sim = make_sim(op_seconds=30.0, routes_quota=1, wait_cap_seconds=0.2)
    c = clients_for(sim)
    op = insert(c, route("cr-1", "10.244.1.0/24"))
    with pytest.raises(gexc.Forbidden) as err:
        insert(c, route("cr-2", "10.244.2.0/24"))
    assert reasons(err.value) == ["quotaExceeded"]
    started = time.monotonic()
    waited = c.ops.wait(project=PROJECT, operation=op.name)
    assert waited.status != DONE and 0.15 <= time.monotonic() - started < 1.5


# --- read-only surfaces and plumbing ----------------------------------------------------------------------


def test_project_networks_and_subnetworks(sim: ComputeSim, c: Clients) -> None:
    project = c.projects.get(project=PROJECT)
    assert project.name == PROJECT and project.id > 0
    assert [n.name for n in c.networks.list(project=PROJECT)] == ["default"]
    network = c.networks.get(project=PROJECT, network="default")
    assert network.self_link == NETWORK_URL and network.subnetworks[0].endswith(
        "/regions/us-central1/subnetworks/nodes"
    )
    scoped = dict(c.subnetworks.aggregated_list(project=PROJECT))
    [subnet] = scoped["regions/us-central1"].subnetworks
    assert (subnet.ip_cidr_range, subnet.network) == ("10.128.0.0/20", NETWORK_URL)
    assert [(r.range_name, r.ip_cidr_range) for r in subnet.secondary_ip_ranges] == [("pods-x", "10.60.0.0/16")]
    assert [s.name for s in c.subnetworks.list(project=PROJECT, region="us-central1")] == ["nodes"]


def test_unknown_project_and_url_are_404(sim: ComputeSim, c: Clients) -> None:
    with pytest.raises(gexc.NotFound):
        c.projects.get(project="someone-else")
    with pytest.raises(gexc.NotFound):
        list(c.routes.list(project="someone-else"))
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{sim.endpoint}/compute/v1/projects/{PROJECT}/global/nothing", timeout=5)
    assert err.value.code == 404
    assert json.loads(err.value.read())["error"]["errors"][0]["reason"] == "notFound"


def test_calls_and_writes_are_recorded_in_order(sim: ComputeSim, c: Clients) -> None:
    op = insert(c, route("cr-x", "10.244.1.0/24"))
    c.ops.wait(project=PROJECT, operation=op.name)
    c.routes.list(project=PROJECT)
    c.routes.delete_unary(project=PROJECT, route="cr-x")
    assert [(call.method, call.path.rsplit("/", 1)[-1]) for call in sim.calls] == [
        ("POST", "routes"),
        ("POST", "wait"),
        ("GET", "routes"),
        ("DELETE", "cr-x"),
    ]
    assert [call.method for call in sim.writes()] == ["POST", "DELETE"]  # waiting is not a write
    assert sim.calls[0].body["destRange"] == "10.244.1.0/24" and sim.calls[0].status == 200
    sim.reset_calls()
    assert sim.calls == []


def test_stop_closes_kept_alive_connections(sim: ComputeSim, c: Clients) -> None:
    c.projects.get(project=PROJECT)
    sim.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        c.projects.get(project=PROJECT)


def test_emulator_imports_neither_google_nor_the_engine() -> None:
    # Count only what importing the emulator adds: the parent packages' own imports are not its doing,
    # and what the embedded clouds share (cloudroutes.sim.loopback, the chaos profile) is the emulator's own.
    code = (
        "import sys, cloudroutes.sim\n"
        "before = set(sys.modules)\n"
        "import cloudroutes.sim.gce\n"
        "added = set(sys.modules) - before\n"
        "bad = sorted(m for m in added if m.split('.')[0] == 'google'"
        " or (m.startswith('cloudroutes')"
        " and not m.startswith(('cloudroutes.sim.gce', 'cloudroutes.sim.loopback', 'cloudroutes.sim.chaos'))))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- the foreground demo ----------------------------------------------------------------------------------


def test_serve_forever_seeds_and_prints_exports() -> None:
    out, stop = io.StringIO(), threading.Event()
    thread = threading.Thread(target=serve_forever, args=(4, 0, out), kwargs={"stop": stop}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while out.getvalue().count("\n") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    exports = dict(line.removeprefix("export ").split("=", 1) for line in out.getvalue().splitlines())
    assert exports["CLOUDROUTES_GCE_PROJECT"] == "demo-project"
    kw = {
        "credentials": AnonymousCredentials(),
        "client_options": ClientOptions(api_endpoint=exports["CLOUDROUTES_GCE_ENDPOINT"]),
    }
    instances = compute_v1.InstancesClient(**kw)
    seen = {
        (scope, i.name, i.labels["cloudroutes-cluster"])
        for scope, scoped in instances.aggregated_list(project="demo-project")
        for i in scoped.instances
    }
    assert seen == {
        ("zones/us-central1-a", "node-1", "demo"),
        ("zones/us-central1-b", "node-2", "demo"),
        ("zones/us-central1-a", "node-3", "demo"),
        ("zones/us-central1-b", "node-4", "demo"),
    }
    [default_route] = compute_v1.RoutesClient(**kw).list(project="demo-project")
    assert default_route.dest_range == "0.0.0.0/0" and default_route.next_hop_gateway.endswith(
        "default-internet-gateway"
    )
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def _as_a_background_job() -> None:
    """POSIX sh starts `cmd &` with SIGINT ignored, and a child inherits that: a CI script's
    `python -m cloudroutes.sim.gce &` must still stop on Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_module_main_runs_until_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloudroutes.sim.gce", "--nodes", "2"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_a_background_job,
    )
    try:
        endpoint = proc.stdout.readline().strip().removeprefix("export CLOUDROUTES_GCE_ENDPOINT=")
        assert proc.stdout.readline().strip() == "export CLOUDROUTES_GCE_PROJECT=demo-project"
        with urllib.request.urlopen(
            f"{endpoint}/compute/v1/projects/demo-project/zones/{ZONE_A}/instances", timeout=5
        ) as answer:
            assert [i["name"] for i in json.load(answer)["items"]] == ["node-1"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- every body on the wire against Google's discovery document -------------------------------------------

ERROR_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "additionalProperties": False,
            "required": ["code", "message", "errors"],
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "errors": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["message", "domain", "reason"],
                        "properties": {
                            "message": {"type": "string"},
                            "domain": {"enum": ["global", "usageLimits"]},
                            "reason": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}

COVERED = {
    "projects.get",
    "routes.insert",
    "routes.list",
    "routes.get",
    "routes.delete",
    "globalOperations.get",
    "globalOperations.wait",
    "zoneOperations.get",
    "zoneOperations.wait",
    "instances.aggregatedList",
    "instances.list",
    "instances.get",
    "instances.update",
    "instances.setLabels",
    "instances.delete",
    "networks.list",
    "networks.get",
    "subnetworks.list",
    "subnetworks.get",
    "subnetworks.aggregatedList",
}


@pytest.fixture(scope="module")
def compute_discovery() -> discovery.Discovery:
    document = discovery.load_document()
    if document is None:
        print("googleapiclient is not importable: no discovery document to check the emulator against")
        pytest.skip("googleapiclient is not importable: no discovery document to check the emulator against")
    return discovery.Discovery(document)


def run_full_scenario(sim: ComputeSim, c: Clients) -> None:
    """Touch every endpoint, success and failure, including warnings and a slow operation."""
    c.projects.get(project=PROJECT)
    list(c.networks.list(project=PROJECT))
    c.networks.get(project=PROJECT, network="default")
    list(c.subnetworks.list(project=PROJECT, region="us-central1"))
    c.subnetworks.get(project=PROJECT, region="us-central1", subnetwork="nodes")
    list(c.subnetworks.aggregated_list(project=PROJECT))
    list(c.instances.aggregated_list(request=compute_v1.AggregatedListInstancesRequest(project=PROJECT, max_results=1)))
    list(c.instances.list(project=PROJECT, zone=ZONE_A))
    node3 = c.instances.get(project=PROJECT, zone=ZONE_A, instance="node-3")
    update = c.instances.update_unary(
        project=PROJECT,
        zone=ZONE_A,
        instance="node-3",
        instance_resource=(compute_v1.Instance(name="node-3", can_ip_forward=True, fingerprint=node3.fingerprint)),
    )
    c.zone_ops.get(project=PROJECT, zone=ZONE_A, operation=update.name)
    c.zone_ops.wait(project=PROJECT, zone=ZONE_A, operation=update.name)
    c.instances.set_labels_unary(
        project=PROJECT,
        zone=ZONE_A,
        instance="node-3",
        instances_set_labels_request_resource=compute_v1.InstancesSetLabelsRequest(
            labels={"cloudroutes-subnet": "10-244-3-0--24"}, label_fingerprint=node3.label_fingerprint
        ),
    )
    with pytest.raises(gexc.PreconditionFailed):
        c.instances.update_unary(
            project=PROJECT,
            zone=ZONE_A,
            instance="node-3",
            instance_resource=(compute_v1.Instance(name="node-3", can_ip_forward=True, fingerprint=node3.fingerprint)),
        )
    for n, hop in enumerate([HOP_1, f"zones/{ZONE_B}/instances/node-2", HOP_3], start=1):
        op = insert(c, route(f"cr-{n}", f"10.244.{n}.0/24", hop=hop), request_id=str(uuid.uuid4()))
        c.ops.get(project=PROJECT, operation=op.name)
    sim.add_route(name="internet", dest_range="0.0.0.0/0", next_hop_gateway="default-internet-gateway")
    sim.add_route(name="via-ip", dest_range="192.168.0.0/16", next_hop_ip="10.128.0.50", tags=["edge"])
    deleted = c.instances.delete_unary(project=PROJECT, zone=ZONE_A, instance="node-1")
    c.zone_ops.wait(project=PROJECT, zone=ZONE_A, operation=deleted.name)  # cr-1: NEXT_HOP_INSTANCE_NOT_FOUND
    with pytest.raises(gexc.NotFound):
        c.instances.delete_unary(project=PROJECT, zone=ZONE_A, instance="node-1")
    list(c.routes.list(request=compute_v1.ListRoutesRequest(project=PROJECT, max_results=2, filter="name eq .*")))
    c.routes.get(project=PROJECT, route="cr-1")
    # Refused, though schema-valid: a body the schema itself rejects is tested in the validation tests.
    for bad in (route("cr-1", "10.244.9.0/24", hop=HOP_3), route("x", "10.128.0.0/24", hop=HOP_3)):
        with pytest.raises(gexc.GoogleAPICallError):
            insert(c, bad)
    sim.fail_next("routes.insert", http_status=500, reason="internalError", message="boom", in_operation=True)
    insert(c, route("cr-9", "10.244.9.0/24", hop=HOP_3))
    sim.op_seconds = 0.3
    slow = c.routes.delete_unary(project=PROJECT, route="cr-2")
    c.ops.get(project=PROJECT, operation=slow.name)
    c.ops.wait(project=PROJECT, operation=slow.name)
    sim.op_seconds = 0.0
    sim.rate_limit_every = 1
    with pytest.raises(gexc.Forbidden):
        c.routes.delete_unary(project=PROJECT, route="cr-3")
    sim.rate_limit_every = 0
    c.routes.delete_unary(project=PROJECT, route="cr-3")
    with pytest.raises(gexc.NotFound):
        c.routes.get(project=PROJECT, route="cr-3")


def test_every_request_and_response_matches_the_discovery_document(
    compute_discovery: discovery.Discovery, sim: ComputeSim, c: Clients
) -> None:
    run_full_scenario(sim, c)
    problems, covered, error_reasons = [], set(), set()
    for call in sim.calls:
        method = compute_discovery.method_for(call.method, call.path)
        where = f"{call.method} {call.path} ({method.id})"
        problems += [f"request {where}: {p}" for p in compute_discovery.request_problems(method, call.body)]
        if call.status == 200:
            covered.add(method.id.removeprefix("compute."))
            problems += [f"response {where}: {p}" for p in compute_discovery.response_problems(method, call.response)]
        else:
            error_reasons.add(call.response["error"]["errors"][0]["reason"])
            problems += [
                f"error {where}: {e.message}" for e in Draft7Validator(ERROR_SCHEMA).iter_errors(call.response)
            ]
    assert problems == []
    assert covered == COVERED
    assert error_reasons >= {"alreadyExists", "invalid", "notFound", "conditionNotMet", "rateLimitExceeded"}
    operations = [call.response for call in sim.calls if call.response.get("kind") == "compute#operation"]
    assert {op["status"] for op in operations} >= {"PENDING", "DONE"}
    assert any("error" in op for op in operations)  # the injected in-operation failure


def test_the_schema_check_rejects_wrong_shapes(
    compute_discovery: discovery.Discovery, sim: ComputeSim, c: Clients
) -> None:
    insert(c, route("cr-1", "10.244.1.0/24"))
    c.routes.get(project=PROJECT, route="cr-1")
    call = sim.calls[-1]
    method = compute_discovery.method_for(call.method, call.path)
    assert method.id == "compute.routes.get"
    assert compute_discovery.response_problems(method, call.response) == []
    for broken in ({"priority": "1000"}, {"routeType": "MAGIC"}, {"nextHop": "x"}, {"name": "Not_A_Name"}):
        assert compute_discovery.response_problems(method, {**call.response, **broken}), broken
    post = compute_discovery.method_for("POST", f"/compute/v1/projects/{PROJECT}/global/routes")
    body = dict(sim.calls[0].body)
    assert compute_discovery.request_problems(post, body) == []
    body.pop("priority")
    assert compute_discovery.request_problems(post, body)  # discovery marks priority required on insert


def test_every_write_can_fail_inside_its_operation() -> None:
    from cloudroutes.sim.gce import endpoints, faults

    assert {e.method_id for e in endpoints.ENDPOINTS if e.is_write} == faults.OPERATION_METHODS


def test_a_queued_fault_fails_a_read_once() -> None:
    import json as _json
    import urllib.error
    import urllib.request

    with ComputeSim(project="p") as sim:
        sim.add_network("default")
        sim.fail_next("routes.list", http_status=503, reason="backendError", message="Backend Error")
        url = f"{sim.endpoint}/compute/v1/projects/p/global/routes"
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(url, timeout=5)
        assert failed.value.code == 503
        assert _json.loads(failed.value.read())["error"]["errors"][0]["reason"] == "backendError"
        with urllib.request.urlopen(url, timeout=5) as second:
            assert second.status == 200
