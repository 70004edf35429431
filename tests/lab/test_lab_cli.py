"""Issue 4's end-to-end story, with the product's own commands only: lab up, apply, verify, a
forwarding flag turned back on, a VM terminated (AWS) or deleted (GCE), destroy, down, on AWS and on
GCE. Every step is a real CLI process run once, straight after the step before, as the README shows
it: `lab verify` itself waits for the fabric and the VMs' boot to follow the cloud, and verify sends
real TCP between network namespaces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from .conftest import assert_no_lab_left, json_fields, readme_lab_words

pytestmark = pytest.mark.lab


def cloudroutes(*args: str, env: dict[str, str], check_rc: int | None = 0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "cloudroutes", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check_rc is not None:
        assert result.returncode == check_rc, f"{args}: rc {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def verify(env: dict[str, str], *flags: str, want: int) -> dict[str, Any]:
    """One `lab verify -o json`, as a user runs it: straight after the step before, no retries.
    It waits for the fabric and the VMs' boot agents to catch up with the cloud itself."""
    result = cloudroutes("lab", "verify", "-o", "json", *flags, env=env, check_rc=None)
    assert result.returncode == want, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["settle"]["settled"], doc["settle"]
    assert json_fields(doc) <= readme_lab_words(), "every field of `lab verify -o json` is in the README"
    return doc


def failing(doc: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(c["kind"], c["source"], c["destination"]) for c in doc["checks"] if not c["ok"]}


def vms_judged(doc: dict[str, Any]) -> set[str]:
    return {label.split("-")[0] for c in doc["checks"] for label in (c["source"], c["destination"])}


def test_the_three_requirements_hold_only_while_cloudroutes_says_so(lab_host: None, tmp_path: Path) -> None:
    state_dir = tmp_path / "lab"
    env = {**os.environ, "CLOUDROUTES_LAB_DIR": str(state_dir)}
    try:
        exports = cloudroutes("lab", "up", "--nodes", "3", env=env).stdout
        env |= dict(item.split("=", 1) for item in exports.removeprefix("export ").split())
        assert set(env) >= {"AWS_ENDPOINT_URL", "CLOUDROUTES_CONFIG"}

        before = verify(env, want=3)
        assert all(not c["ok"] for c in before["checks"] if c["kind"] == "pod-pod-remote")

        # The README's steps, one after the other: verify waits for the VMs to boot their bridges.
        cloudroutes("apply", "--yes", env=env)
        after = verify(env, want=0)
        assert after["ok"] and {c["kind"] for c in after["checks"]} >= {
            "pod-pod-remote",
            "pod-pod-local",
            "node-pod",
            "pod-node",
        }
        assert all(c["seen_peer"] == c["source_address"] for c in after["checks"]), "no NAT anywhere"
        assert after["dropped"] == []

        ec2 = boto3.client(
            "ec2",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="lab",
            aws_secret_access_key="lab",
        )
        state = json.loads((state_dir / "state.json").read_text())
        vm1, vm3 = state["vms"][0], state["vms"][2]
        ec2.modify_network_interface_attribute(NetworkInterfaceId=vm1["eni_id"], SourceDestCheck={"Value": True})
        broken = failing(verify(env, want=3))
        assert broken and all(vm1["name"] in f"{src} {dst}" for _, src, dst in broken), broken
        assert ("pod-pod-remote", "vm2-c1", "vm3-c1") not in broken, "other VMs still carry pod traffic"

        # Churn: vm3 terminated. apply puts vm1's check back off and removes the route through vm3;
        # verify judges the VMs the cloud still has, and says which it left out.
        ec2.terminate_instances(InstanceIds=[vm3["instance_id"]])
        cloudroutes("apply", "--yes", env=env)
        churned = verify(env, want=0)
        assert churned["dropped"] == [
            {
                "vm": "vm3",
                "instance_id": vm3["instance_id"],
                "instance_state": "terminated",
                "reason": "instance terminated: the cloud no longer has it",
            }
        ]
        assert vms_judged(churned) == {"vm1", "vm2"} and len(churned["checks"]) == 2 + 2 * 4
        text = cloudroutes("lab", "verify", "--settle", "0", env=env).stdout
        assert f"left out vm3 ({vm3['instance_id']}): instance terminated" in text

        cloudroutes("destroy", "--yes", env=env)
        destroyed = verify(env, want=3)
        assert all(not c["ok"] for c in destroyed["checks"] if c["kind"] == "pod-pod-remote")
    finally:
        cloudroutes("lab", "down", env=env, check_rc=None)
    assert_no_lab_left(state_dir)


def test_lab_down_leaves_nothing_even_when_a_step_failed(lab_host: None, tmp_path: Path) -> None:
    state_dir = tmp_path / "lab"
    env = {**os.environ, "CLOUDROUTES_LAB_DIR": str(state_dir)}
    try:
        cloudroutes("lab", "up", "--nodes", "2", env=env)
        second = cloudroutes("lab", "up", "--nodes", "2", env=env, check_rc=1)
        assert second.stderr.count("\n") == 1 and "error:" in second.stderr
        bad = cloudroutes("lab", "verify", "--settle", "soon", env=env, check_rc=2)
        assert bad.stderr == "error: --settle soon: expected seconds, like 10, 2.5 or 10s\n"
    finally:
        cloudroutes("lab", "down", env=env)
    cloudroutes("lab", "down", env=env)
    assert_no_lab_left(state_dir)


def gce(env: dict[str, str], method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One call of the emulator's REST API, as any GCE client makes it (no SDK: the test stays quick)."""
    url = f"{env['CLOUDROUTES_GCE_ENDPOINT']}/compute/v1/projects/{env['CLOUDROUTES_GCE_PROJECT']}/{path}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def set_can_ip_forward(env: dict[str, str], instance_id: str, value: bool) -> None:
    """instances.update, read-modify-write with the fingerprint just read, then wait for the operation."""
    zone, name = instance_id.split("/")
    instance = gce(env, "GET", f"zones/{zone}/instances/{name}")
    operation = gce(env, "PUT", f"zones/{zone}/instances/{name}", {**instance, "canIpForward": value})
    done = gce(env, "POST", f"zones/{zone}/operations/{operation['name']}/wait")
    assert done["status"] == "DONE" and "error" not in done, done
    assert gce(env, "GET", f"zones/{zone}/instances/{name}")["canIpForward"] is value


def delete_instance(env: dict[str, str], instance_id: str) -> None:
    """instances.delete, then wait for its zonal operation."""
    zone, name = instance_id.split("/")
    operation = gce(env, "DELETE", f"zones/{zone}/instances/{name}")
    done = gce(env, "POST", f"zones/{zone}/operations/{operation['name']}/wait")
    assert done["status"] == "DONE" and "error" not in done, done


# The GCE boot agent's node-cidr imports google-cloud-compute (~2 s of CPU per VM, all at once):
# on a busy machine the VMs take longer to boot than the default bound allows, so give them room.
SETTLE = ("--settle", "120")


def test_on_gce_the_fabric_follows_the_routes_and_can_ip_forward(lab_host: None, tmp_path: Path) -> None:
    state_dir = tmp_path / "lab"
    env = {**os.environ, "CLOUDROUTES_LAB_DIR": str(state_dir)}
    try:
        exports = cloudroutes("lab", "up", "--nodes", "3", "--provider", "gce", env=env).stdout
        env |= dict(item.split("=", 1) for item in exports.removeprefix("export ").split())
        assert set(env) >= {"CLOUDROUTES_GCE_ENDPOINT", "CLOUDROUTES_GCE_PROJECT", "CLOUDROUTES_CONFIG"}
        state = json.loads((state_dir / "state.json").read_text())
        assert state["provider"] == "gce" and 'provider = "gce"' in Path(env["CLOUDROUTES_CONFIG"]).read_text()

        before = json.loads(cloudroutes("lab", "verify", "-o", "json", "--settle", "0", env=env, check_rc=3).stdout)
        assert all(not c["ok"] for c in before["checks"] if c["kind"] == "pod-pod-remote")
        assert before["settle"]["bound_s"] == 0  # judged at once: the VMs may still be asking for a subnet

        cloudroutes("apply", "--yes", env=env)
        after = verify(env, *SETTLE, want=0)
        assert after["ok"] and {c["kind"] for c in after["checks"]} >= {
            "pod-pod-remote",
            "pod-pod-local",
            "node-pod",
            "pod-node",
        }
        assert all(c["seen_peer"] == c["source_address"] for c in after["checks"]), "no NAT anywhere"

        vm1, vm3 = state["vms"][0], state["vms"][2]
        set_can_ip_forward(env, vm1["instance_id"], False)
        broken = failing(verify(env, *SETTLE, want=3))
        assert broken and all(vm1["name"] in f"{src} {dst}" for _, src, dst in broken), broken
        assert {("pod-pod-remote", "vm1-c1", "vm2-c1"), ("pod-pod-remote", "vm2-c1", "vm1-c1")} <= broken, "out and in"
        assert ("pod-pod-remote", "vm2-c1", "vm3-c1") not in broken, "other VMs still carry pod traffic"

        # Churn: vm3 deleted. apply turns vm1's forwarding back on and removes the route through vm3.
        delete_instance(env, vm3["instance_id"])
        cloudroutes("apply", "--yes", env=env)
        churned = verify(env, *SETTLE, want=0)
        assert [(d["vm"], d["instance_state"]) for d in churned["dropped"]] == [("vm3", "absent")]
        assert vms_judged(churned) == {"vm1", "vm2"}

        cloudroutes("destroy", "--yes", env=env)
        destroyed = verify(env, *SETTLE, want=3)
        assert all(not c["ok"] for c in destroyed["checks"] if c["kind"] == "pod-pod-remote")
    finally:
        cloudroutes("lab", "down", env=env, check_rc=None)
    assert_no_lab_left(state_dir)


def bridge_address(namespace: str) -> str:
    shown = subprocess.run(
        ["ip", "-n", namespace, "-j", "addr", "show", "dev", "cbr0"], capture_output=True, text=True, check=True
    )
    return next(
        f"{a['local']}/{a['prefixlen']}"
        for link in json.loads(shown.stdout)
        for a in link["addr_info"]
        if a["family"] == "inet"
    )


def test_with_kubernetes_in_adopt_mode_the_vms_boot_from_their_nodes_pod_cidrs(lab_host: None, tmp_path: Path) -> None:
    """kube-controller-manager's podCIDRs on the Node objects (the embedded API registers each VM's Node
    with one, 10.244.100.0/24 up): each VM's boot runs `node-cidr --from kubernetes` through the relay
    and sets up cbr0 from its Node, before cloudroutes ever ran; `apply` in adopt mode then routes them."""
    state_dir = tmp_path / "lab"
    env = {**os.environ, "CLOUDROUTES_LAB_DIR": str(state_dir)}
    try:
        exports = cloudroutes("lab", "up", "--nodes", "2", "--kubernetes", "adopt", env=env).stdout
        env |= dict(item.split("=", 1) for item in exports.removeprefix("export ").split())
        info = json.loads((state_dir / "state.json").read_text())
        assert info["kubernetes"] == "adopt" and len(info["node_names"]) == 2
        assert 'mode = "adopt"' in Path(env["CLOUDROUTES_CONFIG"]).read_text()

        # Before any apply: no route, so nothing crosses VMs, but each VM has booted from its Node.
        before = verify(env, want=3)
        local = [c for c in before["checks"] if c["source"].split("-")[0] == c["destination"].split("-")[0]]
        assert local and all(c["ok"] for c in local), "pods on one VM reach each other over its cbr0"
        assert all(c["source"].split("-")[0] != c["destination"].split("-")[0] for c in before["checks"] if not c["ok"])
        assert [bridge_address(vm["namespace"]) for vm in info["vms"]] == ["10.244.100.1/24", "10.244.101.1/24"]
        # The tag or label was never written: the subnet came from the Node, not the cloud.
        tags = boto3.client(
            "ec2",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name=env["AWS_DEFAULT_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        ).describe_tags(Filters=[{"Name": "key", "Values": ["cloudroutes.io/pod-cidr"]}])["Tags"]
        assert tags == []

        cloudroutes("apply", "--yes", env=env)
        after = verify(env, want=0)
        assert failing(after) == set() and vms_judged(after) == {"vm1", "vm2"}
    finally:
        cloudroutes("lab", "down", env=env, check_rc=None)
    assert_no_lab_left(state_dir)
