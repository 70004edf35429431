"""Issue 4's end-to-end story, with the product's own commands only: lab up, apply, verify, a
forwarding flag turned back on, destroy, down, on AWS and on GCE. Every step is a real CLI
process; the fabric follows the embedded cloud; verify sends real TCP between network namespaces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from .conftest import assert_no_lab_left

pytestmark = pytest.mark.lab


def cloudroutes(*args: str, env: dict[str, str], check_rc: int | None = 0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "cloudroutes", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check_rc is not None:
        assert result.returncode == check_rc, f"{args}: rc {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def matrix(env: dict[str, str], *, want: int, timeout: float = 20.0) -> dict[str, Any]:
    """`lab verify -o json` until it exits `want`: the fabric and the VMs' boot agents follow the
    cloud a moment after it changes, as a real VPC does."""
    deadline = time.monotonic() + timeout
    while True:
        result = cloudroutes("lab", "verify", "-o", "json", env=env, check_rc=None)
        if result.returncode == want or time.monotonic() > deadline:
            assert result.returncode == want, result.stdout + result.stderr
            return json.loads(result.stdout)
        time.sleep(0.3)


def failing(doc: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(c["kind"], c["source"], c["destination"]) for c in doc["checks"] if not c["ok"]}


def test_the_three_requirements_hold_only_while_cloudroutes_says_so(lab_host: None, tmp_path: Path) -> None:
    state_dir = tmp_path / "lab"
    env = {**os.environ, "CLOUDROUTES_LAB_DIR": str(state_dir)}
    try:
        exports = cloudroutes("lab", "up", "--nodes", "3", env=env).stdout
        env |= dict(item.split("=", 1) for item in exports.removeprefix("export ").split())
        assert set(env) >= {"AWS_ENDPOINT_URL", "CLOUDROUTES_CONFIG"}

        before = matrix(env, want=3)
        assert all(not c["ok"] for c in before["checks"] if c["kind"] == "pod-pod-remote")

        cloudroutes("apply", "--yes", env=env)
        after = matrix(env, want=0)
        assert after["ok"] and {c["kind"] for c in after["checks"]} >= {
            "pod-pod-remote",
            "pod-pod-local",
            "node-pod",
            "pod-node",
        }
        assert all(c["seen_peer"] == c["source_address"] for c in after["checks"]), "no NAT anywhere"

        ec2 = boto3.client(
            "ec2",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="lab",
            aws_secret_access_key="lab",
        )
        state = json.loads((state_dir / "state.json").read_text())
        vm1 = state["vms"][0]
        ec2.modify_network_interface_attribute(NetworkInterfaceId=vm1["eni_id"], SourceDestCheck={"Value": True})
        checked = matrix(env, want=3)
        broken = failing(checked)
        assert broken and all(vm1["name"] in f"{src} {dst}" for _, src, dst in broken), broken
        assert ("pod-pod-remote", "vm2-c1", "vm3-c1") not in broken, "other VMs still carry pod traffic"

        cloudroutes("apply", "--yes", env=env)
        matrix(env, want=0)

        cloudroutes("destroy", "--yes", env=env)
        destroyed = matrix(env, want=3)
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


def test_on_gce_the_fabric_follows_the_routes_and_can_ip_forward(lab_host: None, tmp_path: Path) -> None:
    state_dir = tmp_path / "lab"
    env = {**os.environ, "CLOUDROUTES_LAB_DIR": str(state_dir)}
    try:
        exports = cloudroutes("lab", "up", "--nodes", "3", "--provider", "gce", env=env).stdout
        env |= dict(item.split("=", 1) for item in exports.removeprefix("export ").split())
        assert set(env) >= {"CLOUDROUTES_GCE_ENDPOINT", "CLOUDROUTES_GCE_PROJECT", "CLOUDROUTES_CONFIG"}
        state = json.loads((state_dir / "state.json").read_text())
        assert state["provider"] == "gce" and 'provider = "gce"' in Path(env["CLOUDROUTES_CONFIG"]).read_text()

        before = matrix(env, want=3)
        assert all(not c["ok"] for c in before["checks"] if c["kind"] == "pod-pod-remote")

        cloudroutes("apply", "--yes", env=env)
        after = matrix(env, want=0)
        assert after["ok"] and {c["kind"] for c in after["checks"]} >= {
            "pod-pod-remote",
            "pod-pod-local",
            "node-pod",
            "pod-node",
        }
        assert all(c["seen_peer"] == c["source_address"] for c in after["checks"]), "no NAT anywhere"

        vm1 = state["vms"][0]
        set_can_ip_forward(env, vm1["instance_id"], False)
        broken = failing(matrix(env, want=3))
        assert broken and all(vm1["name"] in f"{src} {dst}" for _, src, dst in broken), broken
        assert {("pod-pod-remote", "vm1-c1", "vm2-c1"), ("pod-pod-remote", "vm2-c1", "vm1-c1")} <= broken, "out and in"
        assert ("pod-pod-remote", "vm2-c1", "vm3-c1") not in broken, "other VMs still carry pod traffic"

        # (apply would turn it back on, as the AWS story shows; skipped here to keep the lab run short)
        cloudroutes("destroy", "--yes", env=env)
        destroyed = matrix(env, want=3)
        assert all(not c["ok"] for c in destroyed["checks"] if c["kind"] == "pod-pod-remote")
    finally:
        cloudroutes("lab", "down", env=env, check_rc=None)
    assert_no_lab_left(state_dir)
