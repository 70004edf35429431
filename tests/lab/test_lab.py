"""The lab: its pure fabric decisions (no root needed) and, end to end, real packets in namespaces."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from cloudroutes.sim import lab
from cloudroutes.sim.lab import bootagent, cloudview, fabric, names, probe, settle, state
from cloudroutes.sim.lab.cloudview import CloudInstance, CloudRoute, CloudView
from cloudroutes.sim.lab.fabric import FabricRoute, FabricState
from cloudroutes.sim.lab.matrix import Check, CheckKind, Dropped, Matrix, Settle
from cloudroutes.sim.lab.settle import BootAnswer, BootOutcome, LabStatus, VmStatus

from .conftest import Controller, assert_no_lab_left, fabric_routes, json_fields, readme_lab_words

VMS = names.vm_specs(2)
VM1, VM2 = VMS
NET = IPv4Network("10.244.1.0/24")


def instance(n: int, *, state: str = "running", check: bool = False) -> CloudInstance:
    return CloudInstance(
        instance_id=f"i-{n}", state=state, private_ip=VMS[n - 1].address, eni_ids=(f"eni-{n}",), source_dest_check=check
    )


def via(gateway: IPv4Address | None) -> frozenset[FabricRoute]:
    return frozenset({FabricRoute(destination=NET, gateway=gateway)})


# ---- desired_fabric: the cloud view -> what crlab-fab must hold --------------------------------------
@pytest.mark.parametrize(
    ("routes", "instances", "expected"),
    [
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
    ],
    ids=[
        "eni",
        "instance-id",
        "stopped",
        "terminated",
        "unknown-eni",
        "check-on",
        "gateway",
        "underlay",
        "link-local",
        "no-route",
    ],
)
def test_desired_routes(routes, instances, expected) -> None:
    assert fabric.desired_fabric(CloudView(routes=routes, instances=instances), VMS).routes == expected


@pytest.mark.parametrize(
    ("instances", "checked"),
    [
        ((instance(1), instance(2)), set()),
        ((instance(1, check=True), instance(2)), {VM1}),
        ((instance(2),), {VM1}),  # no instance behind vm1: the AWS default, check on
        ((instance(1, state="terminated"), instance(2)), {VM1}),
        ((instance(1, state="stopped"), instance(2)), set()),  # a stopped VM keeps its attribute
    ],
    ids=["all-off", "one-on", "no-instance", "terminated", "stopped"],
)
def test_source_check_rules(instances, checked) -> None:
    rules = fabric.desired_fabric(CloudView(instances=instances), VMS).rules
    assert rules == {rule for vm in checked for rule in fabric.source_check_rules(vm)}


def test_source_check_rules_allow_own_address_then_drop_on_the_vm_link() -> None:
    allow, drop = fabric.source_check_rules(VM2)
    assert (allow.priority, allow.iif, allow.source, allow.action) == (1004, "crlab-f2", VM2.address, "lookup-main")
    assert (drop.priority, drop.iif, drop.source, drop.action) == (1005, "crlab-f2", None, "blackhole")


def test_diff_is_empty_when_converged_and_minimal_otherwise() -> None:
    desired = fabric.desired_fabric(
        CloudView(
            routes=(CloudRoute(destination=NET, eni_id="eni-1"),), instances=(instance(1), instance(2, check=True))
        ),
        VMS,
    )
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
        return cloudview.parse_instance(
            {
                "InstanceId": "i-1",
                "State": {"Name": "running"},
                "PrivateIpAddress": "10.0.1.11",
                "SourceDestCheck": instance_check,
                "NetworkInterfaces": [
                    {"NetworkInterfaceId": "eni-1", "SourceDestCheck": eni_check, "Attachment": {"DeviceIndex": 0}}
                ],
            }
        ).source_dest_check

    assert (parsed(True, True), parsed(False, True), parsed(True, False), parsed(False, False)) == (
        True,
        False,
        False,
        False,
    )


def test_table_is_the_subnets_association_else_the_main_table() -> None:
    main = {"RouteTableId": "rtb-main", "Associations": [{"Main": True}]}
    ours = {"RouteTableId": "rtb-ours", "Associations": [{"Main": False, "SubnetId": "subnet-1"}]}
    assert cloudview.select_table([main, ours], "subnet-1") is ours
    assert cloudview.select_table([main, ours], "subnet-2") is main
    routes = cloudview.parse_routes(
        {
            "Routes": [
                {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local"},
                {"DestinationCidrBlock": "10.244.1.0/24", "NetworkInterfaceId": "eni-1"},
                {"DestinationIpv6CidrBlock": "::/0", "GatewayId": "igw-1"},
            ]
        }
    )
    assert routes == (CloudRoute(destination=IPv4Network("10.0.0.0/16")), CloudRoute(destination=NET, eni_id="eni-1"))


# ---- GCE: routes.list / instances JSON -> the same fabric -----------------------------------------------
GCE = "https://www.googleapis.com/compute/v1/projects/p"
NET2 = IPv4Network("10.244.2.0/24")


def gce_instance(n: int, *, status: str = "RUNNING", forward: bool = True, network: str = "default") -> dict:
    return {
        "name": f"vm{n}",
        "zone": f"{GCE}/zones/us-central1-a",
        "status": status,
        "canIpForward": forward,
        "networkInterfaces": [{"network": f"{GCE}/global/networks/{network}", "networkIP": str(VMS[n - 1].address)}],
        "labels": {"cloudroutes-cluster": "lab"},
    }


def gce_route(
    dest: IPv4Network = NET,
    hop: int | None = 1,
    *,
    name: str = "r",
    priority: int = 1000,
    network: str = "default",
    link: str = f"{GCE}/zones/us-central1-a/instances/vm{{n}}",
) -> dict:
    route = {"name": name, "destRange": str(dest), "priority": priority, "network": f"{GCE}/global/networks/{network}"}
    if hop is None:
        route["nextHopGateway"] = f"{GCE}/global/gateways/default-internet-gateway"
    else:
        route["nextHopInstance"] = link.format(n=hop)
    return route


def gce_fabric(routes: list[dict], instances: list[dict]) -> FabricState:
    return fabric.desired_fabric(cloudview.view_from_gce(routes, instances, "default"), VMS)


@pytest.mark.parametrize(
    ("routes", "instances", "expected"),
    [
        # delivered: a route of the network to a running instance that may forward
        ([gce_route()], [gce_instance(1), gce_instance(2)], via(VM1.address)),
        ([gce_route(hop=2, link="zones/us-central1-a/instances/vm{n}")], [gce_instance(2)], via(VM2.address)),
        # dropped: the next hop cannot take the packet
        ([gce_route()], [gce_instance(1, forward=False)], via(None)),
        ([gce_route()], [gce_instance(1, status="TERMINATED")], via(None)),
        ([gce_route()], [gce_instance(1, status="STAGING")], via(None)),
        ([gce_route()], [gce_instance(2)], via(None)),  # deleted: NEXT_HOP_INSTANCE_NOT_FOUND
        # not the lab's to copy: another network, a gateway, the VMs' own subnet
        ([gce_route(network="other")], [gce_instance(1)], frozenset()),
        ([gce_route(hop=None)], [gce_instance(1)], frozenset()),
        ([gce_route(dest=IPv4Network("10.0.1.0/24"))], [gce_instance(1)], frozenset()),
        # one next hop per destination: the lowest priority number, then the first name
        (
            [gce_route(hop=1, name="a", priority=900), gce_route(hop=2, name="b")],
            [gce_instance(1), gce_instance(2)],
            via(VM1.address),
        ),
        (
            [gce_route(hop=2, name="b"), gce_route(hop=1, name="a")],
            [gce_instance(1), gce_instance(2)],
            via(VM1.address),
        ),
        ([gce_route(hop=None, name="a", priority=10), gce_route(hop=1, name="b")], [gce_instance(1)], frozenset()),
    ],
    ids=[
        "running",
        "partial-link",
        "no-forwarding",
        "stopped",
        "staging",
        "deleted",
        "other-network",
        "gateway",
        "underlay",
        "priority",
        "tie-by-name",
        "gateway-wins",
    ],
)
def test_gce_routes(routes, instances, expected) -> None:
    assert gce_fabric(routes, instances).routes == expected


@pytest.mark.parametrize(
    ("instances", "checked"),
    [
        ([gce_instance(1), gce_instance(2)], set()),
        ([gce_instance(1, forward=False), gce_instance(2)], {VM1}),
        ([gce_instance(2)], {VM1}),  # deleted: nothing says vm1 may forward
        ([gce_instance(1, network="other"), gce_instance(2)], {VM1}),  # not an instance of the lab's network
        ([gce_instance(1, status="TERMINATED"), gce_instance(2)], set()),  # a stopped VM keeps its flag
    ],
    ids=["all-forward", "one-off", "deleted", "other-network", "stopped"],
)
def test_gce_can_ip_forward_false_is_the_source_check(instances, checked) -> None:
    assert gce_fabric([], instances).rules == {rule for vm in checked for rule in fabric.source_check_rules(vm)}


def test_gce_instance_reads_as_an_ec2_one_known_by_zone_and_name() -> None:
    parsed = cloudview.parse_gce_instance(gce_instance(1, status="TERMINATED", forward=False))
    assert parsed == CloudInstance(
        instance_id="us-central1-a/vm1",
        state="stopped",
        private_ip=VM1.address,
        source_dest_check=True,
        tags=frozenset({("cloudroutes-cluster", "lab")}),
    )
    assert cloudview.gce_instance_id(f"{GCE}/zones/z-1/instances/n-1") == "z-1/n-1"
    assert cloudview.gce_instance_id("projects/p/global/networks/default") is None


@pytest.mark.parametrize("provider", ["aws", "gce"])
def test_config_exports_and_boot_environment_follow_the_provider(provider: str, tmp_path: Path) -> None:
    fields = (
        {"vpc_id": "vpc-1", "subnet_id": "subnet-1", "route_table_id": "rtb-1"}
        if provider == "aws"
        else {"project": "cloudroutes-lab", "network": "default", "region": "us-central1"}
    )
    info = lab.LabInfo(
        state_dir=tmp_path, endpoint="http://127.0.0.1:5000", daemon_pid=1, vms=(), provider=provider, **fields
    )
    assert lab.LabInfo.from_json(json.loads(json.dumps(info.to_json()))) == info
    text = state.config_text(info)
    boot = bootagent.node_environment(info)
    if provider == "aws":
        assert text == (
            'provider = "aws"\n\n[cluster]\nname = "lab"\ncidr = "10.244.0.0/16"\n\n'
            '[aws]\nregion = "us-east-1"\nvpc_id = "vpc-1"\n'
        )
        assert set(info.environment()) == {
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
            "CLOUDROUTES_CONFIG",
        }
        assert boot["AWS_ENDPOINT_URL"] == "http://169.254.169.254"
    else:
        assert text.startswith('provider = "gce"\n') and text.endswith(
            '[gce]\nproject = "cloudroutes-lab"\nnetwork = "default"\nfix_forwarding = true\n'
            'endpoint = "http://127.0.0.1:5000"\nemulator = true\n'
        )
        assert info.environment() == {
            "CLOUDROUTES_GCE_ENDPOINT": "http://127.0.0.1:5000",
            "CLOUDROUTES_GCE_PROJECT": "cloudroutes-lab",
            "CLOUDROUTES_GCE_EMULATOR": "true",
            "CLOUDROUTES_CONFIG": str(tmp_path / "cloudroutes.toml"),
        }
        assert (boot["CLOUDROUTES_GCE_ENDPOINT"], boot["CLOUDROUTES_GCE_PROJECT"]) == (
            "http://169.254.169.254",
            "cloudroutes-lab",
        )


def test_with_kubernetes_the_config_routes_the_nodes_and_the_vms_read_them_through_the_relay(tmp_path: Path) -> None:
    info = lab.LabInfo(
        state_dir=tmp_path,
        endpoint="http://127.0.0.1:5000",
        daemon_pid=1,
        vms=(),
        vpc_id="vpc-1",
        kubernetes="adopt",
        node_names=("ip-10-0-1-11.ec2.internal",),
    )
    assert lab.LabInfo.from_json(json.loads(json.dumps(info.to_json()))) == info
    assert state.config_text(info).endswith(f'[kubernetes]\nmode = "adopt"\nkubeconfig = "{tmp_path / "kubeconfig"}"\n')
    boot = bootagent.node_environment(info)
    assert boot["CLOUDROUTES_KUBERNETES_KUBECONFIG"] == str(tmp_path / "kubeconfig-vm")
    assert "[kubernetes]" not in state.config_text(dataclasses.replace(info, kubernetes=""))


def test_an_old_state_file_is_an_aws_lab() -> None:
    data = {
        "state_dir": "/x",
        "endpoint": "http://e",
        "vpc_id": "vpc-1",
        "subnet_id": "s",
        "route_table_id": "r",
        "daemon_pid": 1,
        "vms": [],
    }
    assert lab.LabInfo.from_json(data).provider == "aws"


def test_matrix_renders_and_exits_3_on_any_failure() -> None:
    good = Check(
        kind=CheckKind.POD_POD_LOCAL,
        source="vm1-c1",
        source_address="10.244.1.10",
        destination="vm1-c2",
        destination_address="10.244.1.11",
        ok=True,
        seen_peer="10.244.1.10",
    )
    bad = Check(
        kind=CheckKind.POD_POD_REMOTE,
        source="vm1-c1",
        source_address="10.244.1.10",
        destination="vm2-c1",
        destination_address="10.244.2.10",
        ok=False,
        error="timed out",
    )
    assert Matrix(checks=(good,)).exit_code == 0
    matrix = Matrix(checks=(good, bad))
    assert matrix.exit_code == 3
    assert json.loads(json.dumps(matrix.to_json()))["checks"][1]["error"] == "timed out"
    assert "FAIL" in matrix.to_text() and matrix.to_text().endswith("2 checks: 1 passed, 1 failed")


@pytest.mark.parametrize(
    ("exchange", "ok", "error"),
    [
        (("10.244.1.10", "10.244.1.10", None), True, None),
        (("10.244.1.10", "10.0.1.11", None), False, "server saw 10.0.1.11, client is 10.244.1.10: address translated"),
        (("10.0.1.11", "10.0.1.11", None), False, "client sent from 10.0.1.11, not from its address 10.244.1.10"),
        ((None, None, "timed out"), False, "timed out"),
    ],
    ids=["no-nat", "nat", "wrong-source", "timeout"],
)
def test_a_probe_passes_only_if_the_server_saw_the_clients_own_address(monkeypatch, exchange, ok, error) -> None:
    monkeypatch.setattr(probe, "_exchange", lambda src, dst, timeout: exchange)
    src = probe.Endpoint(label="vm1-c1", namespace="crlab-vm1-c1", address="10.244.1.10")
    dst = probe.Endpoint(label="vm2-c1", namespace="crlab-vm2-c1", address="10.244.2.10")
    check = probe.run_probe(probe.Probe(kind=CheckKind.POD_POD_REMOTE, source=src, destination=dst))
    assert (check.ok, check.error) == (ok, error)


# ---- settling: has the lab caught up with the cloud? --------------------------------------------------
def vm_status(
    name: str = "vm1", *, state: str = "running", boot: BootOutcome = BootOutcome.CONFIGURED, current: bool = True
) -> VmStatus:
    return VmStatus(name=name, instance_id=f"i-{name}", instance_state=state, boot=boot, current=current)


def lab_status(*vms: VmStatus, looked_at: float = 10.0, fabric_errors: tuple[str, ...] = ()) -> LabStatus:
    return LabStatus(looked_at=looked_at, fabric_errors=fabric_errors, vms=vms)


@pytest.mark.parametrize(
    ("status", "since", "pending"),
    [
        # settled
        (lab_status(vm_status()), 10.0, ()),
        (lab_status(vm_status(boot=BootOutcome.NOT_ASSIGNED)), 10.0, ()),  # asked for the tags it has now
        (lab_status(vm_status(current=False)), 10.0, ()),  # a booted VM keeps its subnet, as a node does
        (lab_status(vm_status(), looked_at=1.0), None, ()),  # --settle 0: any look will do
        (lab_status(vm_status(state="terminated", boot=BootOutcome.WAITING)), 10.0, ()),  # not judged
        # not yet
        (None, None, ("the lab daemon has published no status yet",)),
        (lab_status(vm_status(), looked_at=9.9), 10.0, ("the daemon has not looked at the cloud since verify began",)),
        (
            lab_status(vm_status(), fabric_errors=("replace route x: EEXIST",)),
            10.0,
            ("fabric: replace route x: EEXIST",),
        ),
        (
            lab_status(vm_status(boot=BootOutcome.WAITING)),
            10.0,
            ("vm1: its boot agent has not asked for its subnet yet",),
        ),
        (
            lab_status(vm_status(boot=BootOutcome.NOT_ASSIGNED, current=False)),
            10.0,
            ("vm1: its boot agent has not asked since the instance's tags changed",),
        ),
        (
            lab_status(
                VmStatus(
                    name="vm2",
                    instance_id="i-2",
                    instance_state="running",
                    boot=BootOutcome.ERROR,
                    current=True,
                    error="exit 1: x",
                )
            ),
            10.0,
            ("vm2: its boot agent failed: exit 1: x",),
        ),
    ],
    ids=[
        "configured",
        "not-assigned",
        "configured-tags-changed",
        "any-look",
        "gone-vm-ignored",
        "no-status",
        "stale-look",
        "fabric-error",
        "never-asked",
        "asked-before-tags-changed",
        "boot-error",
    ],
)
def test_settled_means_fabric_and_boot_caught_up_with_a_fresh_look(status, since, pending) -> None:
    assert settle.pending(status, since) == pending


def test_verify_leaves_out_the_vms_the_cloud_no_longer_runs_and_says_why() -> None:
    status = lab_status(
        vm_status("vm1"),
        vm_status("vm2", state="terminated"),
        vm_status("vm3", state="absent"),
        vm_status("vm4", state="stopped"),
    )
    assert [(d.vm, d.instance_id, d.instance_state, d.reason) for d in settle.dropped(status)] == [
        ("vm2", "i-vm2", "terminated", "instance terminated: the cloud no longer has it"),
        ("vm3", "i-vm3", "absent", "the cloud has no such instance (deleted)"),
        ("vm4", "i-vm4", "stopped", "instance stopped, not running: it carries no traffic"),
    ]
    assert settle.dropped(None) == ()


def test_status_of_a_round_compares_the_boot_answer_with_the_tags_of_this_look() -> None:
    tagged = frozenset({("cloudroutes.io/pod-cidr", "10.244.1.0/24")})
    view = CloudView(instances=(dataclasses.replace(instance(1), tags=tagged), instance(2)))
    answers = {
        "vm1": BootAnswer(outcome=BootOutcome.NOT_ASSIGNED, tags=frozenset()),  # asked before the tag
        "vm2": BootAnswer(outcome=BootOutcome.CONFIGURED, tags=frozenset(), subnet=NET2),
    }
    ids = [("vm1", "i-1"), ("vm2", "i-2"), ("vm3", "i-3")]
    status = settle.status_of(view, ids, answers, looked_at=5.0, fabric_errors=["x"])
    assert status.vms == (
        VmStatus(name="vm1", instance_id="i-1", instance_state="running", boot=BootOutcome.NOT_ASSIGNED, current=False),
        VmStatus(
            name="vm2",
            instance_id="i-2",
            instance_state="running",
            boot=BootOutcome.CONFIGURED,
            current=True,
            subnet="10.244.2.0/24",
        ),
        VmStatus(name="vm3", instance_id="i-3", instance_state="absent", boot=BootOutcome.WAITING, current=False),
    )
    assert (status.looked_at, status.fabric_errors) == (5.0, ("x",))
    assert LabStatus.from_json(json.loads(json.dumps(status.to_json()))) == status


def lab_info_at(state_dir: Path, daemon_pid: int) -> lab.LabInfo:
    return lab.LabInfo(state_dir=state_dir, endpoint="http://127.0.0.1:1", daemon_pid=daemon_pid, vms=())


def test_verify_stops_waiting_when_the_daemon_is_gone(tmp_path: Path) -> None:
    state.write_status(tmp_path, lab_status(vm_status(boot=BootOutcome.WAITING)))
    # This test's own process is no lab daemon: the wait ends at once, whatever the bound.
    status, waited = probe.await_settled(lab_info_at(tmp_path, os.getpid()), bound_s=600)
    assert status == lab_status(vm_status(boot=BootOutcome.WAITING))
    assert not waited.settled and waited.bound_s == 600
    assert waited.pending[:2] == (
        "the daemon has not looked at the cloud since verify began",
        "vm1: its boot agent has not asked for its subnet yet",
    )
    assert waited.pending[2].startswith(f"the lab daemon (pid {os.getpid()}) is not running")


def test_verify_judges_when_the_bound_runs_out_and_says_what_it_waited_for(monkeypatch, tmp_path: Path) -> None:
    # A daemon that is alive but never looks again: stands in for a stuck one (a real daemon always looks).
    monkeypatch.setattr(probe.lifecycle, "is_lab_daemon", lambda pid: True)
    state.write_status(tmp_path, lab_status(vm_status(), looked_at=0.0))
    _, waited = probe.await_settled(lab_info_at(tmp_path, 1), bound_s=0.1)
    assert (waited.settled, waited.pending) == (False, ("the daemon has not looked at the cloud since verify began",))
    _, at_once = probe.await_settled(lab_info_at(tmp_path, 1), bound_s=0)  # --settle 0: that old look will do
    assert (at_once.settled, at_once.pending) == (True, ())


@pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2's ip")
def test_the_boot_agent_asks_only_for_vms_whose_instance_runs() -> None:
    # Namespaces that do not exist: `ip netns exec` fails, which is an answer too (no root needed).
    vms = tuple(dataclasses.replace(vm, namespace=f"cr-unit-absent-{vm.index}") for vm in VMS)
    not_assigned = (sys.executable, "-c", "raise SystemExit(3)")
    agent = bootagent.BootAgent(vms, {"vm1": "i-1", "vm2": "i-2"}, not_assigned, os.environ)
    tags = frozenset({("cluster", "lab")})
    agent.run_once({"i-1": tags})  # vm2's instance is not running: a VM that does not run does not boot
    answers = agent.answers()
    assert set(answers) == {"vm1"} and (answers["vm1"].outcome, answers["vm1"].tags) == (BootOutcome.ERROR, tags)
    assert [vm.name for vm in agent.pending()] == ["vm1", "vm2"]


@pytest.mark.parametrize(("text", "seconds"), [("10", 10.0), ("2.5", 2.5), ("10s", 10.0), ("0", 0.0), (" 30s ", 30.0)])
def test_settle_bound_reads_seconds(text: str, seconds: float) -> None:
    assert lab.parse_seconds(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-1", "nan", "inf", "601", "10m", ""])
def test_settle_bound_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError):
        lab.parse_seconds(text)


def full_matrix() -> Matrix:
    """A matrix with every field filled in: a failed check, a VM left out, a judgement before settling."""
    check = Check(
        kind=CheckKind.POD_POD_REMOTE,
        source="vm1-c1",
        source_address="10.244.1.10",
        destination="vm2-c1",
        destination_address="10.244.2.10",
        ok=False,
        error="timed out",
    )
    return Matrix(
        checks=(check,),
        dropped=(Dropped(vm="vm3", instance_id="i-3", instance_state="terminated", reason="gone"),),
        settle=Settle(settled=False, waited_ms=30000.0, bound_s=30.0, pending=("vm2: its boot agent failed: x",)),
    )


def test_matrix_says_which_vms_it_left_out_and_that_it_judged_before_settling() -> None:
    doc = full_matrix().to_json()
    assert doc["dropped"] == [{"vm": "vm3", "instance_id": "i-3", "instance_state": "terminated", "reason": "gone"}]
    assert doc["settle"] == {
        "settled": False,
        "waited_ms": 30000.0,
        "bound_s": 30.0,
        "pending": ["vm2: its boot agent failed: x"],
    }
    assert full_matrix().to_text().splitlines()[-4:] == [
        "left out vm3 (i-3): gone",
        "judged before the lab settled (--settle 30):",
        "  vm2: its boot agent failed: x",
        "1 checks: 0 passed, 1 failed",
    ]


def test_every_field_of_verify_json_is_named_in_the_readme() -> None:
    missing = json_fields(full_matrix().to_json()) - readme_lab_words()
    assert not missing, f"fields of `lab verify -o json` the README's lab section does not name: {sorted(missing)}"


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

    def verify(timeout: float = 0.5) -> Matrix:
        """One verify, no retries: it waits for the lab to settle (success takes ~1 ms; failure waits)."""
        matrix = lab.verify(state_dir, timeout=timeout, settle_s=60)
        assert matrix.settle is not None and matrix.settle.settled, matrix.settle
        return matrix

    remote = {(str(c.kind), c.source, c.destination) for c in verify(timeout=0.2).checks if c.kind in ROUTED}

    # Each VM's boot agent learns its subnet from the tag (through the metadata address) and sets up
    # cbr0; with no route in the cloud yet, nothing crosses VMs.
    controller.tag_pod_cidrs()
    matrix = verify()
    assert only_failing(matrix, remote), matrix.to_text()
    assert all(c.seen_peer == c.source_address for c in matrix.checks if c.ok)

    # Routes, but the source/destination check still on: the fabric drops them (blackhole).
    controller.create_routes()
    assert only_failing(verify(), remote)
    assert fabric_routes() == {f"blackhole 10.244.{n}.0/24" for n in (1, 2, 3)}

    for vm in info.vms:
        controller.set_source_dest_check(vm, on=False)
    matrix = verify()
    assert matrix.ok and len(matrix.checks) == 3 + 6 * 4 and matrix.exit_code == 0, matrix.to_text()

    # vm1's check back on: everything through vm1 fails, the rest (and every VM's local traffic) works.
    controller.set_source_dest_check(info.vms[0], on=True)
    through_vm1 = {(str(c.kind), c.source, c.destination) for c in matrix.checks if crosses(c, "vm1")}
    # ... except vm1's *node* address, which the check lets in and out both ways.
    through_vm1 -= {
        (str(c.kind), c.source, c.destination)
        for c in matrix.checks
        if (c.kind is CheckKind.NODE_POD and c.source == "vm1")
        or (c.kind is CheckKind.POD_NODE and c.destination == "vm1")
    }
    assert only_failing(verify(), through_vm1)

    # A stopped target turns its route into a blackhole, as in AWS; verify leaves the VM out.
    controller.ec2.stop_instances(InstanceIds=[info.vms[2].instance_id])
    stopped = verify()
    assert fabric_routes() == {"blackhole 10.244.1.0/24", "10.244.2.0/24 via 10.0.1.12", "blackhole 10.244.3.0/24"}
    assert [(d.vm, d.instance_state) for d in stopped.dropped] == [("vm3", "stopped")]
    assert not any("vm3" in f"{c.source} {c.destination}" for c in stopped.checks)

    controller.delete_routes()
    matrix = verify()
    assert fabric_routes() == set()
    assert only_failing(matrix, {(kind, src, dst) for kind, src, dst in remote if "vm3" not in f"{src} {dst}"})


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
