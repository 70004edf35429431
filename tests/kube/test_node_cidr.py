"""`node-cidr --from kubernetes`: a VM reads its subnet from its Node's spec.podCIDRs, against the
embedded Kubernetes API server through a kubeconfig it wrote (nothing mocked between)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cloudroutes.providers.kube_node import default_node_name
from cloudroutes.sim.kube import KubeSim

Cli = Callable[..., Any]


def _ask(cli: Cli, kubeconfig: str, *args: str) -> Any:
    return cli("node-cidr", "--from", "kubernetes", "--kubeconfig", kubeconfig, *args)


def test_prints_both_families_of_the_nodes_pod_cidrs_in_every_format(sim: KubeSim, kubeconfig: str, cli: Cli) -> None:
    sim.patch_node("node-2", {"spec": {"podCIDRs": ["10.244.7.0/24", "fd00:10:244:7::/64"]}})

    plain = _ask(cli, kubeconfig, "--node-name", "node-2")
    assert plain.exit_code == 0, plain.output
    assert plain.output.split() == ["10.244.7.0/24", "fd00:10:244:7::/64"]
    docker = json.loads(_ask(cli, kubeconfig, "--node-name", "node-2", "--format", "docker").output)
    assert docker == {"bip": "10.244.7.1/24", "ipv6": True, "fixed-cidr-v6": "fd00:10:244:7::/64"}
    cni = json.loads(_ask(cli, kubeconfig, "--node-name", "node-2", "--format", "cni").output)
    assert cni["ipam"]["ranges"] == [
        [{"subnet": "10.244.7.0/24", "gateway": "10.244.7.1"}],
        [{"subnet": "fd00:10:244:7::/64", "gateway": "fd00:10:244:7::1"}],
    ]
    assert cni["ipam"]["routes"] == [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]
    assert sim.writes() == [], "a VM reading its subnet writes nothing"
    assert {(c.verb, c.path) for c in sim.calls} == {("get", "/api/v1/nodes/node-2")}


def test_waits_with_exit_3_while_the_node_has_no_pod_cidr_then_prints_it(
    sim: KubeSim, kubeconfig: str, cli: Cli
) -> None:
    waiting = _ask(cli, kubeconfig, "--node-name", "node-1")
    assert waiting.exit_code == 3, waiting.output
    assert "no podCIDR yet" in waiting.output and len(waiting.output.strip().splitlines()) == 1

    sim.patch_node("node-1", {"spec": {"podCIDR": "10.244.3.0/24"}})  # an older writer: podCIDR alone
    assigned = _ask(cli, kubeconfig, "--node-name", "node-1")
    assert (assigned.exit_code, assigned.output.strip()) == (0, "10.244.3.0/24")


def test_a_node_not_registered_yet_is_exit_3(sim: KubeSim, kubeconfig: str, cli: Cli) -> None:
    result = _ask(cli, kubeconfig, "--node-name", "node-9")
    assert result.exit_code == 3, result.output
    assert "not registered yet" in result.output and len(result.output.strip().splitlines()) == 1


def test_the_node_name_defaults_to_the_hostname_as_kubelet_names_it(
    sim: KubeSim, kubeconfig: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one stand-in: this machine's hostname, which a test cannot set for itself alone.
    monkeypatch.setattr(socket, "gethostname", lambda: "Worker-7.Example")
    assert default_node_name() == "worker-7.example"
    sim.add_node("worker-7.example", "aws:///us-east-1a/i-0000000000000077", pod_cidrs=["10.244.77.0/24"])

    result = _ask(cli, kubeconfig)
    assert (result.exit_code, result.output.strip()) == (0, "10.244.77.0/24")


def test_the_kubeconfig_comes_from_the_environment_as_apply_reads_it(sim: KubeSim, kubeconfig: str, cli: Cli) -> None:
    sim.patch_node("node-3", {"spec": {"podCIDRs": ["10.244.9.0/24"]}})
    by_ours = cli(
        "node-cidr", "--from", "kubernetes", "--node-name", "node-3", CLOUDROUTES_KUBERNETES_KUBECONFIG=kubeconfig
    )
    by_kubectls = cli("node-cidr", "--from", "kubernetes", "--node-name", "node-3", KUBECONFIG=kubeconfig)
    assert [r.output.strip() for r in (by_ours, by_kubectls)] == ["10.244.9.0/24"] * 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--node-name", "node-1", "--kubeconfig", "{missing}"), "not found"),
        (("--node-name", "node-1", "--kubeconfig", "{garbage}"), "not valid YAML"),
        (("--node-name", "node-1", "--kubeconfig", "{good}", "--context", "nope"), "context 'nope'"),
        (("--node-name", "Node_1/../x", "--kubeconfig", "{good}"), "not a Kubernetes node name"),
        (("--node-name", "node-1", "--kubeconfig", "{good}", "--instance-id", "i-0123"), "--node-name"),
        (("--node-name", "node-1", "--kubeconfig", "{good}", "--format", "yaml"), "--format"),
        (("--node-name", "node-1", "--kubeconfig", "{good}", "--from", "etcd"), "--from must be"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_call(
    sim: KubeSim, kubeconfig: str, tmp_path: Path, cli: Cli, args: tuple[str, ...], message: str
) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_text("clusters: [unclosed\n")
    paths = {"{missing}": str(tmp_path / "absent"), "{garbage}": str(garbage), "{good}": kubeconfig}
    result = cli("node-cidr", "--from", "kubernetes", *(paths.get(a, a) for a in args))
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert sim.calls == []


def test_node_name_goes_only_with_kubernetes(cli: Cli) -> None:
    result = cli("node-cidr", "--node-name", "node-1", "--instance-id", "i-0123")
    assert result.exit_code == 2 and "--from kubernetes" in result.output
