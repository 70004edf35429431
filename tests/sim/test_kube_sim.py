"""The embedded Kubernetes API server, spoken to over bare HTTP.

Each test checks a behaviour of the real API server the Node adapter relies on (paths, Status objects,
messages, preconditions, patch semantics), and the fixture checks every body the emulator stored or
answered against the Node, NodeList and Status schemas kubernetes-validate ships.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloudroutes.sim.kube import DEFAULT_CONTEXT, DEFAULT_TOKEN, KubeSim, selectors
from cloudroutes.sim.kube import patch as kpatch

from . import kube_schema
from .kube_http import call, patch

AWS_1 = "aws:///us-east-1a/i-0000000000000001a"
FORBIDDEN = 'node updates may not change podCIDR except from "" to valid'


@pytest.fixture
def sim() -> Iterator[KubeSim]:
    with KubeSim(validator=kube_schema.problems) as server:
        server.add_node("node-1", AWS_1, labels={"pool": "a"})
        server.add_node("node-2", "aws:///us-east-1b/i-0000000000000002b", labels={"pool": "b"})
        server.add_node("node-3", "gce://p/us-central1-a/node-3", pod_cidrs=["10.244.3.0/24"])
        yield server
        assert server.schema_failures == []


def _names(reply_body: dict[str, Any]) -> list[str]:
    return [item["metadata"]["name"] for item in reply_body["items"]]


def _condition(node: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in node["status"].get("conditions", []) if c["type"] == kind), None)


# --- shapes -------------------------------------------------------------------------------------------


def test_get_returns_a_node_as_the_api_server_shapes_it(sim: KubeSim) -> None:
    reply = call(sim, "GET", "/api/v1/nodes/node-1")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    node = reply.body
    assert (node["kind"], node["apiVersion"]) == ("Node", "v1")
    assert node["metadata"]["name"] == "node-1"
    assert node["metadata"]["uid"] and node["metadata"]["creationTimestamp"].endswith("Z")
    assert node["metadata"]["resourceVersion"].isdigit()
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "node-1"
    assert node["spec"] == {"providerID": AWS_1}
    assert _condition(node, "Ready") is not None
    assert kube_schema.problems(node) == []


def test_seeded_pod_cidrs_fill_both_fields(sim: KubeSim) -> None:
    spec = call(sim, "GET", "/api/v1/nodes/node-3").body["spec"]
    assert spec["podCIDR"] == "10.244.3.0/24"
    assert spec["podCIDRs"] == ["10.244.3.0/24"]


def test_the_status_subresource_get_returns_the_whole_node(sim: KubeSim) -> None:
    assert call(sim, "GET", "/api/v1/nodes/node-3/status").body == call(sim, "GET", "/api/v1/nodes/node-3").body


def test_missing_node_is_a_404_not_found_status(sim: KubeSim) -> None:
    for reply in (call(sim, "GET", "/api/v1/nodes/ghost"), patch(sim, "ghost", {"spec": {}})):
        assert reply.status == 404
        assert reply.body == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'nodes "ghost" not found',
            "reason": "NotFound",
            "details": {"name": "ghost", "kind": "nodes"},
            "code": 404,
        }


def test_unknown_paths_methods_and_media_types_are_refused_as_the_server_does(sim: KubeSim) -> None:
    assert call(sim, "GET", "/api/v1/pods").status == 404
    assert call(sim, "DELETE", "/api/v1/nodes/node-1").status == 405
    assert call(sim, "PUT", "/api/v1/nodes/node-1", {"metadata": {"name": "node-1"}}).status == 405
    json_patch = call(sim, "PATCH", "/api/v1/nodes/node-1", [], content_type="application/json-patch+json")
    assert (json_patch.status, json_patch.body["reason"]) == (415, "UnsupportedMediaType")
    assert call(sim, "GET", "/api/v1/nodes?watch=true").status == 400


def test_a_request_without_the_token_is_401_unauthorized(sim: KubeSim) -> None:
    for token in (None, "wrong"):
        reply = call(sim, "GET", "/api/v1/nodes", token=token)
        assert reply.status == 401
        assert (reply.body["reason"], reply.body["message"]) == ("Unauthorized", "Unauthorized")


# --- list, selectors, pages ---------------------------------------------------------------------------


def test_list_is_a_node_list_at_the_store_revision(sim: KubeSim) -> None:
    reply = call(sim, "GET", "/api/v1/nodes")
    assert (reply.body["kind"], reply.body["apiVersion"]) == ("NodeList", "v1")
    assert reply.body["metadata"] == {"resourceVersion": sim.resource_version}
    assert _names(reply.body) == ["node-1", "node-2", "node-3"]
    # Items of a list carry no kind/apiVersion of their own, as the real server sends them.
    assert all("kind" not in item and "apiVersion" not in item for item in reply.body["items"])


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("pool=a", ["node-1"]),
        ("pool==b", ["node-2"]),
        ("pool!=a", ["node-2", "node-3"]),  # != also matches nodes without the label
        ("pool in (a, b)", ["node-1", "node-2"]),
        ("pool notin (a)", ["node-2", "node-3"]),
        ("pool", ["node-1", "node-2"]),
        ("!pool", ["node-3"]),
        ("pool,kubernetes.io/os=linux", ["node-1", "node-2"]),
        ("pool=c", []),
    ],
)
def test_label_selectors(sim: KubeSim, selector: str, expected: list[str]) -> None:
    from urllib.parse import quote

    reply = call(sim, "GET", "/api/v1/nodes?labelSelector=" + quote(selector))
    assert reply.status == 200
    assert _names(reply.body) == expected


def test_a_malformed_selector_is_a_400(sim: KubeSim) -> None:
    reply = call(sim, "GET", "/api/v1/nodes?labelSelector=pool%3D%3D%3Da")
    assert (reply.status, reply.body["reason"]) == (400, "BadRequest")
    assert "unable to parse requirement" in reply.body["message"]


def test_pages_with_limit_and_continue_read_one_revision(sim: KubeSim) -> None:
    sim.add_node("node-4", "aws:///us-east-1a/i-0000000000000004a")
    first = call(sim, "GET", "/api/v1/nodes?limit=2").body
    assert _names(first) == ["node-1", "node-2"]
    assert first["metadata"]["remainingItemCount"] == 2
    revision = first["metadata"]["resourceVersion"]
    # Writes between pages do not show: every page reads the first page's revision.
    sim.add_node("node-0", "aws:///us-east-1a/i-00000000000000000")
    sim.patch_node("node-3", {"metadata": {"labels": {"late": "yes"}}})
    second = call(sim, "GET", "/api/v1/nodes?limit=2&continue=" + first["metadata"]["continue"]).body
    assert _names(second) == ["node-3", "node-4"]
    assert second["metadata"] == {"resourceVersion": revision}
    assert "late" not in second["items"][0]["metadata"]["labels"]


def test_a_selector_page_leaves_remaining_count_out(sim: KubeSim) -> None:
    body = call(sim, "GET", "/api/v1/nodes?limit=1&labelSelector=pool").body
    assert _names(body) == ["node-1"] and "continue" in body["metadata"]
    assert "remainingItemCount" not in body["metadata"]


def test_a_compacted_continue_token_is_410_expired() -> None:
    with KubeSim(validator=kube_schema.problems, history=2) as sim:
        for n in range(3):
            sim.add_node(f"node-{n}", f"aws:///us-east-1a/i-000000000000000{n}a")
        token = call(sim, "GET", "/api/v1/nodes?limit=1").body["metadata"]["continue"]
        sim.patch_node("node-0", {"metadata": {"labels": {"x": "1"}}})
        sim.patch_node("node-0", {"metadata": {"labels": {"x": "2"}}})
        reply = call(sim, "GET", "/api/v1/nodes?limit=1&continue=" + token)
        assert (reply.status, reply.body["reason"]) == (410, "Expired")
        assert reply.body["message"].startswith("The provided continue parameter is too old")
        assert call(sim, "GET", "/api/v1/nodes?continue=garbage").status == 400


# --- spec patches: podCIDR, conflicts, the 422 --------------------------------------------------------


def test_a_merge_patch_sets_pod_cidrs_from_empty_and_bumps_the_version(sim: KubeSim) -> None:
    before = sim.node("node-1")["metadata"]["resourceVersion"]
    reply = patch(sim, "node-1", {"spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}})
    assert reply.status == 200
    assert reply.body["spec"]["podCIDRs"] == ["10.244.1.0/24"]
    assert int(reply.body["metadata"]["resourceVersion"]) > int(before)
    assert sim.node("node-1") == reply.body


def test_pod_cidr_alone_fills_pod_cidrs_as_the_v1_conversion_does(sim: KubeSim) -> None:
    reply = patch(sim, "node-1", {"spec": {"podCIDR": "10.244.1.0/24"}}, strategic=True)
    assert reply.body["spec"]["podCIDRs"] == ["10.244.1.0/24"]


def test_where_the_two_fields_differ_pod_cidr_wins_as_the_v1_conversion_says(sim: KubeSim) -> None:
    # node-3 holds 10.244.3.0/24 in both; patching podCIDRs alone leaves podCIDR, which decides.
    before = sim.node("node-3")
    reply = patch(sim, "node-3", {"spec": {"podCIDRs": ["10.244.8.0/24"]}})
    assert reply.status == 200 and reply.body == before


def test_a_dual_stack_pair_is_accepted_but_two_of_one_family_are_not(sim: KubeSim) -> None:
    ok = patch(sim, "node-1", {"spec": {"podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"]}})
    assert ok.status == 200 and ok.body["spec"]["podCIDR"] == "10.244.1.0/24"
    bad = patch(sim, "node-2", {"spec": {"podCIDRs": ["10.244.2.0/24", "10.244.9.0/24"]}})
    assert bad.status == 422
    assert bad.body["details"]["causes"][0]["message"] == (
        'Invalid value: []string{"10.244.2.0/24", "10.244.9.0/24"}: '
        "may specify no more than one CIDR for each IP family"
    )


def test_a_malformed_cidr_is_422_invalid(sim: KubeSim) -> None:
    reply = patch(sim, "node-1", {"spec": {"podCIDR": "10.244.1.0/33"}})
    assert (reply.status, reply.body["reason"]) == (422, "Invalid")
    assert reply.body["message"] == (
        'Node "node-1" is invalid: spec.podCIDRs[0]: Invalid value: "10.244.1.0/33": '
        "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
    )


@pytest.mark.parametrize("strategic", [False, True], ids=["merge", "strategic"])
def test_changing_a_held_pod_cidr_is_the_api_servers_422(sim: KubeSim, strategic: bool) -> None:
    before = sim.node("node-3")
    reply = patch(
        sim, "node-3", {"spec": {"podCIDR": "10.244.9.0/24", "podCIDRs": ["10.244.9.0/24"]}}, strategic=strategic
    )
    assert reply.status == 422
    assert reply.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'Node "node-3" is invalid: spec.podCIDRs: Forbidden: {FORBIDDEN}',
        "reason": "Invalid",
        "details": {
            "name": "node-3",
            "kind": "Node",
            "causes": [
                {"reason": "FieldValueForbidden", "message": f"Forbidden: {FORBIDDEN}", "field": "spec.podCIDRs"}
            ],
        },
        "code": 422,
    }
    assert sim.node("node-3") == before  # nothing written, not even a new resourceVersion


def test_clearing_a_held_pod_cidr_is_forbidden_too(sim: KubeSim) -> None:
    reply = patch(sim, "node-3", {"spec": {"podCIDR": None, "podCIDRs": None}})
    assert reply.status == 422 and FORBIDDEN in reply.body["message"]


def test_a_stale_resource_version_is_409_conflict(sim: KubeSim) -> None:
    stale = sim.node("node-1")["metadata"]["resourceVersion"]
    sim.patch_node("node-1", {"metadata": {"labels": {"someone": "else"}}})
    before = sim.node("node-1")
    reply = patch(sim, "node-1", {"metadata": {"resourceVersion": stale}, "spec": {"podCIDR": "10.244.1.0/24"}})
    assert reply.status == 409
    assert reply.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Operation cannot be fulfilled on nodes "node-1": the object has been modified; '
        "please apply your changes to the latest version and try again",
        "reason": "Conflict",
        "details": {"name": "node-1", "kind": "nodes"},
        "code": 409,
    }
    assert sim.node("node-1") == before


def test_the_current_resource_version_passes_the_precondition(sim: KubeSim) -> None:
    current = sim.node("node-1")["metadata"]["resourceVersion"]
    reply = patch(sim, "node-1", {"metadata": {"resourceVersion": current}, "spec": {"podCIDR": "10.244.1.0/24"}})
    assert reply.status == 200


def test_a_raced_write_conflicts_only_when_it_names_its_version(sim: KubeSim) -> None:
    read = sim.node("node-1")["metadata"]["resourceVersion"]
    sim.race_next_write("node-1")
    with_version = patch(sim, "node-1", {"metadata": {"resourceVersion": read}, "spec": {"podCIDR": "10.244.1.0/24"}})
    assert with_version.status == 409
    assert sim.node("node-1")["metadata"]["annotations"] == {"emulator.cloudroutes/raced": "true"}
    sim.race_next_write("node-2", {"metadata": {"labels": {"other": "writer"}}})
    blind = patch(sim, "node-2", {"spec": {"podCIDR": "10.244.2.0/24"}})
    assert blind.status == 200 and blind.body["metadata"]["labels"]["other"] == "writer"


def test_a_no_op_patch_keeps_the_resource_version(sim: KubeSim) -> None:
    before = sim.node("node-3")
    reply = patch(sim, "node-3", {"spec": {"podCIDR": "10.244.3.0/24"}})
    assert reply.status == 200 and reply.body == before


def test_an_unknown_field_fails_the_schema_and_writes_nothing(sim: KubeSim) -> None:
    before = sim.node("node-1")
    reply = patch(sim, "node-1", {"spec": {"podCidr": "10.244.1.0/24"}})  # misspelt
    assert (reply.status, reply.body["reason"]) == (400, "BadRequest")
    assert "podCidr" in reply.body["message"]
    assert sim.node("node-1") == before


def test_spec_patches_leave_status_alone_and_name_is_the_servers(sim: KubeSim) -> None:
    reply = patch(sim, "node-1", {"status": {"conditions": []}, "metadata": {"uid": "forged"}})
    assert _condition(reply.body, "Ready") is not None
    assert reply.body["metadata"]["uid"] != "forged"
    renamed = patch(sim, "node-1", {"metadata": {"name": "node-9"}})
    assert renamed.status == 400


# --- the status subresource and its conditions ----------------------------------------------------------

ROUTE_CREATED = {
    "type": "NetworkUnavailable",
    "status": "False",
    "reason": "RouteCreated",
    "message": "RouteController created a route",
    "lastTransitionTime": "2026-01-02T03:04:05Z",
    "lastHeartbeatTime": "2026-01-02T03:04:05Z",
}


def test_a_strategic_status_patch_merges_conditions_by_type(sim: KubeSim) -> None:
    reply = patch(sim, "node-1", {"status": {"conditions": [ROUTE_CREATED]}}, strategic=True, status=True)
    assert reply.status == 200
    assert [c["type"] for c in reply.body["status"]["conditions"]] == ["Ready", "NetworkUnavailable"]
    # The same type again replaces that one condition's fields and nothing else.
    flipped = {**ROUTE_CREATED, "status": "True", "reason": "NoRouteCreated"}
    again = patch(sim, "node-1", {"status": {"conditions": [flipped]}}, strategic=True, status=True)
    assert _condition(again.body, "NetworkUnavailable") == flipped
    assert _condition(again.body, "Ready") == _condition(reply.body, "Ready")


def test_a_merge_status_patch_replaces_every_condition(sim: KubeSim) -> None:
    reply = patch(sim, "node-1", {"status": {"conditions": [ROUTE_CREATED]}}, status=True)
    assert reply.status == 200
    assert reply.body["status"]["conditions"] == [ROUTE_CREATED]  # Ready is gone: why conditions need SMP


def test_status_patches_leave_spec_and_metadata_alone(sim: KubeSim) -> None:
    body = {"spec": {"podCIDR": "10.244.1.0/24"}, "metadata": {"labels": {"x": "y"}}, "status": {"phase": "Running"}}
    reply = patch(sim, "node-1", body, strategic=True, status=True)
    assert "podCIDR" not in reply.body["spec"]
    assert "x" not in reply.body["metadata"]["labels"]
    assert reply.body["status"]["phase"] == "Running"


def test_a_status_patch_honours_the_resource_version_precondition(sim: KubeSim) -> None:
    stale = sim.node("node-1")["metadata"]["resourceVersion"]
    sim.patch_node("node-1", {"metadata": {"labels": {"bump": "1"}}})
    body = {"metadata": {"resourceVersion": stale}, "status": {"conditions": [ROUTE_CREATED]}}
    assert patch(sim, "node-1", body, strategic=True, status=True).status == 409


def test_strategic_directives_delete_and_order(sim: KubeSim) -> None:
    patch(sim, "node-1", {"status": {"conditions": [ROUTE_CREATED]}}, strategic=True, status=True)
    ordered = {"status": {"$setElementOrder/conditions": [{"type": "NetworkUnavailable"}, {"type": "Ready"}]}}
    reply = patch(sim, "node-1", ordered, strategic=True, status=True)
    assert [c["type"] for c in reply.body["status"]["conditions"]] == ["NetworkUnavailable", "Ready"]
    gone = {"status": {"conditions": [{"type": "NetworkUnavailable", "$patch": "delete"}]}}
    reply = patch(sim, "node-1", gone, strategic=True, status=True)
    assert [c["type"] for c in reply.body["status"]["conditions"]] == ["Ready"]
    assert patch(sim, "node-1", {"status": {"$bogus": 1}}, strategic=True, status=True).status == 400


# --- faults, the validator, the kubeconfig ------------------------------------------------------------


def test_fail_next_answers_once_with_the_real_status(sim: KubeSim) -> None:
    sim.fail_next("list", 429, retry_after=3)
    throttled = call(sim, "GET", "/api/v1/nodes")
    assert throttled.status == 429
    assert throttled.headers["Retry-After"] == "3"
    assert throttled.body["reason"] == "TooManyRequests"
    assert throttled.body["details"] == {"retryAfterSeconds": 3}
    assert call(sim, "GET", "/api/v1/nodes").status == 200
    sim.fail_next("patch", 503, subresource="status")
    assert patch(sim, "node-1", {"spec": {"podCIDR": "10.244.1.0/24"}}).status == 200  # not the status
    assert patch(sim, "node-1", {"status": {"phase": "Running"}}, status=True).status == 503
    sim.fail_next("patch", 403)
    denied = patch(sim, "node-2", {"spec": {}})
    assert (denied.status, denied.body["reason"]) == (403, "Forbidden")
    with pytest.raises(ValueError, match="unknown verb"):
        sim.fail_next("update", 500)


def test_every_answer_passes_the_validator_or_the_emulator_says_it_is_broken() -> None:
    def reject_lists(obj: Any) -> list[str]:
        return ["no lists today"] if obj.get("kind") == "NodeList" else kube_schema.problems(obj)

    with KubeSim(validator=reject_lists) as sim:
        sim.add_node("node-1", AWS_1)
        reply = call(sim, "GET", "/api/v1/nodes")
        assert (reply.status, reply.body["reason"]) == (500, "InternalError")
        assert sim.schema_failures == ["returned NodeList failed the schema: no lists today"]


def test_the_call_log_records_verbs_and_writes(sim: KubeSim) -> None:
    sim.reset_calls()
    call(sim, "GET", "/api/v1/nodes")
    patch(sim, "node-1", {"status": {"phase": "Running"}}, strategic=True, status=True)
    assert [(c.verb, c.subresource, c.status) for c in sim.calls] == [("list", "", 200), ("patch", "status", 200)]
    assert [c.content_type for c in sim.writes()] == [kpatch.STRATEGIC]


def test_the_kubeconfig_is_owner_only_yaml_that_reaches_the_emulator(sim: KubeSim, tmp_path: Path) -> None:
    path = sim.write_kubeconfig(tmp_path / "kube" / "config")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config = yaml.safe_load(Path(path).read_text())
    assert config == json.loads(Path(path).read_text())
    assert config["current-context"] == DEFAULT_CONTEXT
    assert config["clusters"][0]["cluster"]["server"] == sim.endpoint
    assert config["users"][0]["user"]["token"] == DEFAULT_TOKEN


def test_seeding_refuses_what_the_api_server_would(sim: KubeSim) -> None:
    with pytest.raises(ValueError, match="already exists"):
        sim.add_node("node-1", AWS_1)
    with pytest.raises(ValueError, match=r"metadata\.name"):
        sim.add_node("Node_1", AWS_1)
    with pytest.raises(ValueError, match=r"spec\.podCIDRs"):
        sim.patch_node("node-3", {"spec": {"podCIDR": "10.244.8.0/24", "podCIDRs": ["10.244.8.0/24"]}})
    sim.delete_node("node-2")
    assert [n["metadata"]["name"] for n in sim.nodes()] == ["node-1", "node-3"]
    with pytest.raises(KeyError):
        sim.delete_node("node-2")


# --- the pure parts -----------------------------------------------------------------------------------


def test_strategic_merge_of_a_set_list_is_a_union() -> None:
    merged = kpatch.strategic_merge_patch({"spec": {"podCIDRs": ["a"]}}, {"spec": {"podCIDRs": ["b", "a"]}})
    assert merged == {"spec": {"podCIDRs": ["a", "b"]}}
    assert kpatch.merge_patch({"spec": {"podCIDRs": ["a"]}}, {"spec": {"podCIDRs": ["b"]}}) == {
        "spec": {"podCIDRs": ["b"]}
    }


def test_selector_requirements_need_a_valid_key() -> None:
    assert selectors.parse("")({}) is True
    with pytest.raises(Exception, match="unable to parse"):
        selectors.parse("a b")
