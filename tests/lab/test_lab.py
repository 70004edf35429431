"""The lab: its pure fabric decisions (no root needed) and, end to end, real packets in namespaces."""

from __future__ import annotations

import json
import subprocess
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from cloudroutes.sim import lab
from cloudroutes.sim.lab import cloudview, fabric, names, probe
from cloudroutes.sim.lab.cloudview import CloudInstance, CloudRoute, CloudView
from cloudroutes.sim.lab.fabric import FabricRoute, FabricState
from cloudroutes.sim.lab.matrix import Check, CheckKind, Matrix

from .conftest import Controller, assert_no_lab_left, fabric_routes, wait_for

VMS = names.vm_specs(2)
VM1, VM2 = VMS
NET = IPv4Network("10.244.1.0/24")


def instance(n: int, *, state: str = "running", check: bool = False) -> CloudInstance:
    return CloudInstance(instance_id=f"i-{n}", state=state, private_ip=VMS[n - 1].address, eni_ids=(f"eni-{n}",),
                         source_dest_check=check)


def via(gateway: IPv4Address | None) -> frozenset[FabricRoute]:
    return frozenset({FabricRoute(destination=NET, gateway=gateway)})


# ---- desired_fabric: the cloud view -> what crlab-fab must hold --------------------------------------
@pytest.mark.parametrize(("routes", "instances", "expected"), [
    # delivered
    ((CloudRoute(destination=NET, eni_id="eni-1"),), (instance(1),), via(VM1.address)),
    ((CloudRoute(destination=NET, instance_id="i-2"),), (instance(2),), via(VM2.address)),
    # dropped: the target cannot take the packet
    ((CloudRoute(destination=NET, eni_id="eni-1"),), (instance(1, state="stopped"),), via(None)),
    ((CloudRoute(destination=NET, instance_id="i-1"),), (instance(1, state="terminated"),), via(None)),
    ((CloudRoute(destination=NET, eni_id="eni-9"),), (instance(1),), via(None)),
    ((CloudRoute(destination=NET, eni_id="eni-1"),), (instance(1, check=True),), via(None)),
    # not the lab's to copy: gateways, the underlay subnet, link-local
    ((CloudRoute(destination=NET),), (instance(1),), frozenset()),
    ((CloudRoute(destination=IPv4Network("10.0.1.12/32"), eni_id="eni-1"),), (instance(1),), frozenset()),
    ((CloudRoute(destination=IPv4Network("169.254.0.0/16"), eni_id="eni-1"),), (instance(1),), frozenset()),
    ((), (instance(1),), frozenset()),
], ids=["eni", "instance-id", "stopped", "terminated", "unknown-eni", "check-on", "gateway", "underlay",
        "link-local", "no-route"])
def test_desired_routes(routes, instances, expected) -> None:
    assert fabric.desired_fabric(CloudView(routes=routes, instances=instances), VMS).routes == expected


@pytest.mark.parametrize(("instances", "checked"), [
    ((instance(1), instance(2)), set()),
    ((instance(1, check=True), instance(2)), {VM1}),
    ((instance(2),), {VM1}),  # no instance behind vm1: the AWS default, check on
    ((instance(1, state="terminated"), instance(2)), {VM1}),
    ((instance(1, state="stopped"), instance(2)), set()),  # a stopped VM keeps its attribute
], ids=["all-off", "one-on", "no-instance", "terminated", "stopped"])
def test_source_check_rules(instances, checked) -> None:
    rules = fabric.desired_fabric(CloudView(instances=instances), VMS).rules
    assert rules == {rule for vm in checked for rule in fabric.source_check_rules(vm)}


def test_source_check_rules_allow_own_address_then_drop_on_the_vm_link() -> None:
    allow, drop = fabric.source_check_rules(VM2)
    assert (allow.priority, allow.iif, allow.source, allow.action) == (1004, "crlab-f2", VM2.address, "lookup-main")
    assert (drop.priority, drop.iif, drop.source, drop.action) == (1005, "crlab-f2", None, "blackhole")


def test_diff_is_empty_when_converged_and_minimal_otherwise() -> None:
    desired = fabric.desired_fabric(CloudView(routes=(CloudRoute(destination=NET, eni_id="eni-1"),),
                                              instances=(instance(1), instance(2, check=True))), VMS)
    assert not fabric.diff(desired, desired)
    moved = FabricState(routes=via(VM2.address), rules=frozenset())
    change = fabric.diff(moved, desired)
    assert change.set_routes == (FabricRoute(destination=NET, gateway=VM1.address),)
    assert change.delete_routes == ()  # a changed target is one replace, never delete + add
    assert set(change.add_rules) == set(fabric.source_check_rules(VM2))
    gone = fabric.diff(desired, FabricState())
    assert gone.delete_routes == tuple(desired.routes) and set(gone.delete_rules) == set(desired.rules)


# ---- parsing EC2 responses ---------------------------------------------------------------------------------
def test_check_counts_as_off_if_either_the_instance_or_its_primary_eni_says_off() -> None:
    def parsed(instance_check: bool, eni_check: bool) -> bool:
        return cloudview.parse_instance({
            "InstanceId": "i-1", "State": {"Name": "running"}, "PrivateIpAddress": "10.0.1.11",
            "SourceDestCheck": instance_check,
            "NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "SourceDestCheck": eni_check,
                                   "Attachment": {"DeviceIndex": 0}}],
        }).source_dest_check

    assert (parsed(True, True), parsed(False, True), parsed(True, False), parsed(False, False)) == (
        True, False, False, False)


def test_table_is_the_subnets_association_else_the_main_table() -> None:
    main = {"RouteTableId": "rtb-main", "Associations": [{"Main": True}]}
    ours = {"RouteTableId": "rtb-ours", "Associations": [{"Main": False, "SubnetId": "subnet-1"}]}
    assert cloudview.select_table([main, ours], "subnet-1") is ours
    assert cloudview.select_table([main, ours], "subnet-2") is main
    routes = cloudview.parse_routes({"Routes": [
        {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local"},
        {"DestinationCidrBlock": "10.244.1.0/24", "NetworkInterfaceId": "eni-1"},
        {"DestinationIpv6CidrBlock": "::/0", "GatewayId": "igw-1"},
    ]})
    assert routes == (CloudRoute(destination=IPv4Network("10.0.0.0/16")),
                      CloudRoute(destination=NET, eni_id="eni-1"))


def test_matrix_renders_and_exits_3_on_any_failure() -> None:
    good = Check(kind=CheckKind.POD_POD_LOCAL, source="vm1-c1", source_address="10.244.1.10",
                 destination="vm1-c2", destination_address="10.244.1.11", ok=True, seen_peer="10.244.1.10")
    bad = Check(kind=CheckKind.POD_POD_REMOTE, source="vm1-c1", source_address="10.244.1.10",
                destination="vm2-c1", destination_address="10.244.2.10", ok=False, error="timed out")
    assert Matrix(checks=(good,)).exit_code == 0
    matrix = Matrix(checks=(good, bad))
    assert matrix.exit_code == 3
    assert json.loads(json.dumps(matrix.to_json()))["checks"][1]["error"] == "timed out"
    assert "FAIL" in matrix.to_text() and matrix.to_text().endswith("2 checks: 1 passed, 1 failed")


@pytest.mark.parametrize(("exchange", "ok", "error"), [
    (("10.244.1.10", "10.244.1.10", None), True, None),
    (("10.244.1.10", "10.0.1.11", None), False, "server saw 10.0.1.11, client is 10.244.1.10: address translated"),
    (("10.0.1.11", "10.0.1.11", None), False, "client sent from 10.0.1.11, not from its address 10.244.1.10"),
    ((None, None, "timed out"), False, "timed out"),
], ids=["no-nat", "nat", "wrong-source", "timeout"])
def test_a_probe_passes_only_if_the_server_saw_the_clients_own_address(monkeypatch, exchange, ok, error) -> None:
    monkeypatch.setattr(probe, "_exchange", lambda src, dst, timeout: exchange)
    src = probe.Endpoint(label="vm1-c1", namespace="crlab-vm1-c1", address="10.244.1.10")
    dst = probe.Endpoint(label="vm2-c1", namespace="crlab-vm2-c1", address="10.244.2.10")
    check = probe.run_probe(probe.Probe(kind=CheckKind.POD_POD_REMOTE, source=src, destination=dst))
    assert (check.ok, check.error) == (ok, error)


# ---- end to end: real packets, the cloud as the only input -------------------------------------------------
ROUTED = (CheckKind.POD_POD_REMOTE, CheckKind.NODE_POD, CheckKind.POD_NODE)  # need the cloud's routes


def crosses(check: Check, vm: str) -> bool:
    """Is this routed check's traffic to or from `vm`?"""
    return check.kind in ROUTED and vm in (check.source.split("-")[0], check.destination.split("-")[0])


def only_failing(matrix: Matrix, failing: set[tuple[str, str, str]]) -> bool:
    return {(str(c.kind), c.source, c.destination) for c in matrix.failed()} == failing


@pytest.mark.lab
def test_lab_follows_the_cloud_with_real_packets(lab_up: lab.LabInfo, controller: Controller) -> None:
    info, state_dir = lab_up, lab_up.state_dir
    assert (state_dir / "cloudroutes.toml").read_text().count(info.vpc_id) == 1
    assert info.exports().startswith("export AWS_ENDPOINT_URL=http://127.0.0.1:")
    with pytest.raises(lab.LabError, match="already up"):
        lab.up(nodes=1, state_dir=state_dir)  # and it leaves the running lab alone
    remote = {(str(c.kind), c.source, c.destination) for c in lab.verify(state_dir, timeout=0.2).checks
              if c.kind in ROUTED}
    verify = lambda: lab.verify(state_dir, timeout=0.5)  # noqa: E731 - success takes ~1 ms; failure waits

    # Each VM's boot agent learns its subnet from the tag (through the metadata address) and sets up
    # cbr0; with no route in the cloud yet, nothing crosses VMs.
    controller.tag_pod_cidrs()
    matrix = wait_for("cbr0 on every VM", verify, lambda m: only_failing(m, remote))
    assert all(c.seen_peer == c.source_address for c in matrix.checks if c.ok)

    # Routes, but the source/destination check still on: the fabric drops them (blackhole).
    controller.create_routes()
    wait_for("blackhole routes", fabric_routes, lambda r: r == {f"blackhole 10.244.{n}.0/24" for n in (1, 2, 3)})
    wait_for("routed checks to fail, local ones to pass", verify, lambda m: only_failing(m, remote))

    for vm in info.vms:
        controller.set_source_dest_check(vm, on=False)
    matrix = wait_for("every check to pass", verify, lambda m: m.ok)
    assert len(matrix.checks) == 3 + 6 * 4 and matrix.exit_code == 0

    # vm1's check back on: everything through vm1 fails, the rest (and every VM's local traffic) works.
    controller.set_source_dest_check(info.vms[0], on=True)
    through_vm1 = {(str(c.kind), c.source, c.destination) for c in matrix.checks if crosses(c, "vm1")}
    # ... except vm1's *node* address, which the check lets in and out both ways.
    through_vm1 -= {(str(c.kind), c.source, c.destination) for c in matrix.checks
                    if (c.kind is CheckKind.NODE_POD and c.source == "vm1")
                    or (c.kind is CheckKind.POD_NODE and c.destination == "vm1")}
    wait_for("vm1's traffic to be dropped", verify, lambda m: only_failing(m, through_vm1))

    # A stopped target turns its route into a blackhole, as in AWS.
    controller.ec2.stop_instances(InstanceIds=[info.vms[2].instance_id])
    wait_for("vm3's route to turn blackhole", fabric_routes, lambda r: r == {
        "blackhole 10.244.1.0/24", "10.244.2.0/24 via 10.0.1.12", "blackhole 10.244.3.0/24"})

    controller.delete_routes()
    wait_for("no lab routes", fabric_routes, lambda r: r == set())
    wait_for("routed checks to fail again", verify, lambda m: only_failing(m, remote))


@pytest.mark.lab
def test_down_is_safe_twice_and_after_a_failed_up(lab_host: None, tmp_path: Path) -> None:
    state_dir = tmp_path / "lab"
    with pytest.raises(lab.LabError, match="not ready"):
        lab.up(nodes=1, state_dir=state_dir, timeout=0.01)  # gives up at once, then cleans up itself
    assert_no_lab_left(state_dir)
    assert lab.down(state_dir) == []
    assert lab.down(state_dir) == []
    with pytest.raises(lab.LabError, match="no lab state"):
        lab.verify(state_dir)
    assert "crlab-" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
