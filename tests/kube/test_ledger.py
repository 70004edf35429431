"""The NodeLedger contract, end to end: KubeNodes against the embedded API server.

What each write puts on the wire is checked in the emulator's call log (media type, body), and
what it leaves behind in the emulator's store; "no write" is proved by the log too.
"""

from __future__ import annotations

import itertools
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest

from cloudroutes import errors
from cloudroutes.providers.kube import KubeNode, KubeNodes, NodeCondition, parse_node
from cloudroutes.providers.kube_api import KubeApi, resolve
from cloudroutes.ratelimit import TokenBucket
from cloudroutes.sim.kube import KubeSim

from .conftest import AWS, NOW, Sleeps

V4 = ip_network("10.244.1.0/24")
V6 = ip_network("fd00:10:244:1::/64")
STAMP = "2026-03-04T05:06:07Z"
MERGE, STRATEGIC = "application/merge-patch+json", "application/strategic-merge-patch+json"


def _node(ledger: KubeNodes, name: str) -> KubeNode:
    return next(n for n in ledger.list_nodes() if n.name == name)


def _condition(sim: KubeSim, name: str, kind: str) -> dict[str, str] | None:
    return next((c for c in sim.node(name)["status"]["conditions"] if c["type"] == kind), None)


# --- list ---------------------------------------------------------------------------------------------


def test_list_reads_every_node_into_values(sim: KubeSim, ledger: KubeNodes) -> None:
    sim.patch_node("node-2", {"spec": {"podCIDR": "10.244.2.0/24", "podCIDRs": ["10.244.2.0/24", "fd00::/64"]}})
    nodes = ledger.list_nodes()
    assert [n.name for n in nodes] == list(AWS)
    assert nodes[0] == KubeNode(
        name="node-1",
        provider_id=AWS["node-1"],
        pod_cidrs=(),
        network_unavailable=None,
        resource_version=sim.node("node-1")["metadata"]["resourceVersion"],
    )
    assert nodes[1].pod_cidrs == (ip_network("10.244.2.0/24"), ip_network("fd00::/64"))


def test_list_is_paginated_with_limit_and_continue(sim: KubeSim, kubeconfig: str) -> None:
    ledger = KubeNodes(kubeconfig=kubeconfig, page_size=2)
    sim.reset_calls()
    assert len(ledger.list_nodes()) == 5
    lists = [c for c in sim.calls if c.verb == "list"]
    assert [c.query.get("limit") for c in lists] == ["2", "2", "2"]
    assert "continue" not in lists[0].query
    assert all(c.query["continue"] == prev.response["metadata"]["continue"] for prev, c in itertools.pairwise(lists))
    assert ledger.api_calls == {"nodes.list": 3}  # every page is a call


def test_one_list_is_one_snapshot_even_while_nodes_change(sim: KubeSim, kubeconfig: str) -> None:
    class NodeJoinsAfterFirstPage(KubeApi):
        def list_page(self, *, limit: int, token: str = "", selector: str = "") -> dict[str, Any]:
            page = super().list_page(limit=limit, token=token, selector=selector)
            if not token and sim.nodes()[0]["metadata"]["name"] != "node-0":
                # The first page is out: a node joins before the second page is asked for.
                sim.add_node("node-0", "aws:///us-east-1a/i-00000000000000000")
            return page

    config, source = resolve(kubeconfig)
    api = NodeJoinsAfterFirstPage(config, writes=TokenBucket(burst=1, rate=1.0), source=source)
    ledger = KubeNodes(api=api, page_size=2)
    assert [n.name for n in ledger.list_nodes()] == list(AWS)  # node-0 arrived mid-list: not in it
    assert next(n.name for n in ledger.list_nodes()) == "node-0"  # the next list sees it


def test_a_label_selector_narrows_the_list(sim: KubeSim, kubeconfig: str) -> None:
    sim.add_node("infra-1", "aws:///us-east-1a/i-00000000000000099", labels={"pool": "infra"})
    ledger = KubeNodes(kubeconfig=kubeconfig, label_selector="pool=infra")
    assert [n.name for n in ledger.list_nodes()] == ["infra-1"]


def test_parse_reads_the_single_pod_cidr_of_older_servers() -> None:
    node = parse_node({"metadata": {"name": "old", "resourceVersion": "7"}, "spec": {"podCIDR": "10.0.3.0/24"}})
    assert node.pod_cidrs == (ip_network("10.0.3.0/24"),)
    with pytest.raises(errors.Invalid, match="node bad"):
        parse_node({"metadata": {"name": "bad"}, "spec": {"podCIDRs": ["nonsense"]}})


# --- publish ------------------------------------------------------------------------------------------


def test_publish_on_an_empty_node_sets_both_fields_under_its_resource_version(sim: KubeSim, ledger: KubeNodes) -> None:
    node = _node(ledger, "node-1")
    sim.reset_calls()
    ledger.publish_pod_cidrs(node, [V4, V6])
    (write,) = sim.writes()
    assert (write.path, write.content_type, write.status) == ("/api/v1/nodes/node-1", MERGE, 200)
    assert write.body == {
        "spec": {"podCIDR": str(V4), "podCIDRs": [str(V4), str(V6)]},
        "metadata": {"resourceVersion": node.resource_version},
    }
    assert sim.node("node-1")["spec"]["podCIDRs"] == [str(V4), str(V6)]
    assert _node(ledger, "node-1").pod_cidrs == (V4, V6)


def test_publish_of_what_the_node_already_holds_writes_nothing(sim: KubeSim, ledger: KubeNodes) -> None:
    sim.patch_node("node-1", {"spec": {"podCIDR": str(V4)}})
    node = _node(ledger, "node-1")
    sim.reset_calls()
    ledger.publish_pod_cidrs(node, [V4])
    assert sim.writes() == []


def test_a_different_held_pod_cidr_is_a_conflict_and_never_overwritten(sim: KubeSim, ledger: KubeNodes) -> None:
    sim.patch_node("node-1", {"spec": {"podCIDR": "10.244.9.0/24"}})
    node = _node(ledger, "node-1")
    before = sim.node("node-1")
    sim.reset_calls()
    with pytest.raises(errors.Conflict, match=r"node node-1 already holds podCIDR 10\.244\.9\.0/24"):
        ledger.publish_pod_cidrs(node, [V4])
    assert sim.writes() == []
    assert sim.node("node-1") == before


def test_a_stale_resource_version_surfaces_as_conflict(sim: KubeSim, ledger: KubeNodes) -> None:
    node = _node(ledger, "node-1")
    sim.race_next_write("node-1")  # someone writes the node between our read and our write
    with pytest.raises(errors.Conflict, match="changed since it was read") as raised:
        ledger.publish_pod_cidrs(node, [V4])
    assert raised.value.code == "Conflict"
    assert "podCIDR" not in sim.node("node-1")["spec"]
    assert [c.status for c in sim.writes()] == [409]


def test_the_api_servers_422_is_a_conflict_naming_the_held_pod_cidr(sim: KubeSim, ledger: KubeNodes) -> None:
    # A node read without a resourceVersion cannot be guarded: the API server's own rule answers.
    stale = KubeNode(
        name="node-1", provider_id=AWS["node-1"], pod_cidrs=(), network_unavailable=None, resource_version=""
    )
    sim.patch_node("node-1", {"spec": {"podCIDR": "10.244.7.0/24"}})
    with pytest.raises(
        errors.Conflict, match=r"already holds podCIDR 10\.244\.7\.0/24, not 10\.244\.1\.0/24"
    ) as raised:
        ledger.publish_pod_cidrs(stale, [V4])
    assert isinstance(raised.value.__cause__, errors.Invalid)
    assert "Forbidden: node updates may not change podCIDR" in str(raised.value.__cause__)
    assert sim.node("node-1")["spec"]["podCIDR"] == "10.244.7.0/24"


def test_publish_refuses_two_cidrs_of_one_family_before_any_call(sim: KubeSim, ledger: KubeNodes) -> None:
    node = _node(ledger, "node-1")
    sim.reset_calls()
    with pytest.raises(ValueError, match="one per IP family"):
        ledger.publish_pod_cidrs(node, [V4, ip_network("10.244.2.0/24")])
    with pytest.raises(ValueError):
        ledger.publish_pod_cidrs(node, [])
    assert sim.calls == []


# --- NetworkUnavailable ------------------------------------------------------------------------------


def test_routes_in_place_write_the_route_controllers_condition(sim: KubeSim, ledger: KubeNodes) -> None:
    ready_before = _condition(sim, "node-1", "Ready")
    sim.reset_calls()
    ledger.set_network_unavailable(_node(ledger, "node-1"), False)
    (write,) = sim.writes()
    assert (write.path, write.content_type) == ("/api/v1/nodes/node-1/status", STRATEGIC)
    condition = {
        "type": "NetworkUnavailable",
        "status": "False",
        "reason": "RouteCreated",
        "message": "RouteController created a route",
        "lastTransitionTime": STAMP,
        "lastHeartbeatTime": STAMP,
    }
    assert write.body == {"status": {"conditions": [condition]}}
    assert _condition(sim, "node-1", "NetworkUnavailable") == condition
    assert _condition(sim, "node-1", "Ready") == ready_before  # the kubelet's condition is untouched
    assert _node(ledger, "node-1").network_unavailable == NodeCondition(
        status="False",
        reason="RouteCreated",
        message="RouteController created a route",
        last_transition_time=NOW,
        last_heartbeat_time=NOW,
    )


def test_missing_routes_write_no_route_created(sim: KubeSim, ledger: KubeNodes) -> None:
    ledger.set_network_unavailable(_node(ledger, "node-2"), True)
    condition = _condition(sim, "node-2", "NetworkUnavailable")
    assert condition is not None
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "True",
        "NoRouteCreated",
        "RouteController failed to create a route",
    )


def test_a_condition_already_as_wanted_is_not_written_again(sim: KubeSim, ledger: KubeNodes) -> None:
    ledger.set_network_unavailable(_node(ledger, "node-1"), False)
    sim.reset_calls()
    ledger.set_network_unavailable(_node(ledger, "node-1"), False)
    assert sim.writes() == []


def test_a_cnis_condition_of_the_same_status_is_taken_over(sim: KubeSim, ledger: KubeNodes) -> None:
    # Calico writes NetworkUnavailable False/CalicoIsUp; the route controller (since its reason check)
    # rewrites it as its own, and so does cloudroutes. Other condition types are never touched.
    calico = {"type": "NetworkUnavailable", "status": "False", "reason": "CalicoIsUp", "message": "Calico is up"}
    sim.patch_node("node-3", {"status": {"conditions": [*sim.node("node-3")["status"]["conditions"], calico]}})
    ledger.set_network_unavailable(_node(ledger, "node-3"), False)
    condition = _condition(sim, "node-3", "NetworkUnavailable")
    assert condition is not None and condition["reason"] == "RouteCreated"
    assert [c["type"] for c in sim.node("node-3")["status"]["conditions"]] == ["Ready", "NetworkUnavailable"]


def test_the_status_write_needs_no_fresh_resource_version(sim: KubeSim, ledger: KubeNodes) -> None:
    # Published first, then the condition, from the same read: the kubelet's heartbeats bump the
    # resourceVersion all the time, and a merge by type cannot lose their writes.
    node = _node(ledger, "node-4")
    ledger.publish_pod_cidrs(node, [V4])
    sim.race_next_write("node-4", {"metadata": {"labels": {"heartbeat": "1"}}})
    ledger.set_network_unavailable(node, False)
    assert _condition(sim, "node-4", "NetworkUnavailable") is not None


# --- the write budget, the calls -------------------------------------------------------------------------


def test_every_write_spends_from_the_bucket_and_reads_do_not(kubeconfig: str, sim: KubeSim) -> None:
    sleeps = Sleeps()
    ledger = KubeNodes(kubeconfig=kubeconfig, writes=TokenBucket(burst=1, rate=2.0, clock=lambda: 0.0, sleep=sleeps))
    nodes = ledger.list_nodes()
    ledger.list_nodes()
    assert sleeps.calls == []
    ledger.publish_pod_cidrs(nodes[0], [V4])  # the burst
    ledger.publish_pod_cidrs(nodes[1], [ip_network("10.244.2.0/24")])
    ledger.set_network_unavailable(nodes[2], True)
    assert sleeps.calls == [0.5, 1.0]  # the clock stands still: each later write waits one more token
    assert ledger.api_calls == {"nodes.list": 2, "nodes.patch": 2, "nodes.patchStatus": 1}


# --- errors, classified ------------------------------------------------------------------------------


def test_a_429_is_throttled_with_the_servers_retry_after(sim: KubeSim, ledger: KubeNodes) -> None:
    sim.fail_next("list", 429, retry_after=3)
    with pytest.raises(errors.Throttled) as raised:
        ledger.list_nodes()
    assert getattr(raised.value, "retry_after", None) == 3.0
    assert raised.value.code == "TooManyRequests"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(500, errors.Transient), (503, errors.Transient), (504, errors.Transient), (403, errors.Denied)],
)
def test_server_failures_are_classified(sim: KubeSim, ledger: KubeNodes, status: int, kind: type) -> None:
    node = _node(ledger, "node-1")
    sim.fail_next("patch", status)
    with pytest.raises(kind):
        ledger.publish_pod_cidrs(node, [V4])


def test_a_vanished_node_is_not_found(sim: KubeSim, ledger: KubeNodes) -> None:
    node = _node(ledger, "node-5")
    sim.delete_node("node-5")
    with pytest.raises(errors.NotFound, match='nodes "node-5" not found'):
        ledger.set_network_unavailable(node, False)


def test_a_rejected_token_is_denied(sim: KubeSim, tmp_path: Path) -> None:
    ledger = KubeNodes(kubeconfig=sim.write_kubeconfig(tmp_path / "bad", token="wrong"))
    with pytest.raises(errors.Denied, match="401 Unauthorized"):
        ledger.list_nodes()


def test_an_expired_continue_token_is_transient(kubeconfig: str, sim: KubeSim) -> None:
    ledger = KubeNodes(kubeconfig=kubeconfig, page_size=2)
    sim.fail_next("list", 410)
    with pytest.raises(errors.Transient):
        ledger.list_nodes()


def test_a_server_that_is_gone_is_transient(sim: KubeSim, ledger: KubeNodes) -> None:
    sim.stop()
    with pytest.raises(errors.Transient, match="cannot reach the Kubernetes API"):
        ledger.list_nodes()
