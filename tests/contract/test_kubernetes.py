"""[kubernetes] publish and adopt, on both clouds, against the embedded Kubernetes API server.

The cloud is read back through its sim and the Node objects through the Kubernetes emulator's store
and call log: what the tool says it did is never the evidence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudroutes import engine
from cloudroutes.cli.options import make_provider
from cloudroutes.config import Config, KubernetesConfig
from cloudroutes.errors import PreflightError
from cloudroutes.model import ActionKind, ProblemKind
from cloudroutes.sim.kube import KubeSim
from tests.sim import kube_schema

from .clouds import Cloud


@pytest.fixture
def kube() -> Iterator[KubeSim]:
    with KubeSim(validator=kube_schema.problems) as server:
        yield server
        assert server.schema_failures == []


def register(cloud: Cloud, kube: KubeSim, nodes: list[str], **pod_cidrs: str) -> dict[str, str]:
    """One Node per VM, named like a kubelet names it, pointing at its VM by providerID."""
    names = {vm: f"k8s-{i}" for i, vm in enumerate(nodes)}
    for vm, name in names.items():
        cidrs = [pod_cidrs[name]] if name in pod_cidrs else []
        kube.add_node(name, cloud.provider_id(vm), pod_cidrs=cidrs)
    return names


def config(cloud: Cloud, kube: KubeSim, path: Path, mode: str) -> Config:
    kubeconfig = kube.write_kubeconfig(path / "kubeconfig")
    return dataclasses.replace(cloud.config(), kubernetes=KubernetesConfig(mode=mode, kubeconfig=kubeconfig))


def converge(cfg: Config) -> engine.Report:
    provider = make_provider(cfg)
    return engine.apply(provider, cfg, engine.make_plan(provider, cfg))


def condition(kube: KubeSim, name: str) -> tuple[str, str] | None:
    found = [c for c in kube.node(name)["status"].get("conditions", []) if c["type"] == "NetworkUnavailable"]
    return (found[0]["status"], found[0]["reason"]) if found else None


def pod_cidrs(kube: KubeSim, name: str) -> list[str]:
    return list(kube.node(name)["spec"].get("podCIDRs", []))


def test_publish_tells_every_node_its_subnet_and_clears_network_unavailable(
    cloud: Cloud, kube: KubeSim, tmp_path: Path
) -> None:
    vms = cloud.add_nodes(3)
    names = register(cloud, kube, vms)
    cfg = config(cloud, kube, tmp_path, "publish")

    assert converge(cfg).converged

    recorded = cloud.pod_cidrs()
    for vm, name in names.items():
        assert pod_cidrs(kube, name) == [recorded[vm]]
        assert kube.node(name)["spec"]["podCIDR"] == recorded[vm]
        assert condition(kube, name) == ("False", "RouteCreated")
    cloud.reset_calls()
    kube.reset_calls()
    assert converge(cfg).converged
    assert cloud.writes() == [] and kube.writes() == [], "a second pass writes nothing, anywhere"


def test_publish_never_overwrites_a_held_podcidr_and_leaves_that_vm_alone(
    cloud: Cloud, kube: KubeSim, tmp_path: Path
) -> None:
    vms = cloud.add_nodes(3)
    names = register(cloud, kube, vms, **{"k8s-1": "10.244.9.0/24"})
    cfg = config(cloud, kube, tmp_path, "publish")

    report = converge(cfg)

    assert not report.converged and report.final.blocked, "a held podCIDR is a conflict: exit 1"
    [problem] = [p for p in report.final.problems if p.kind is ProblemKind.PODCIDR_CONFLICT]
    assert "k8s-1" in problem.message and "10.244.9.0/24" in problem.message
    assert pod_cidrs(kube, "k8s-1") == ["10.244.9.0/24"], "never overwritten"
    assert condition(kube, "k8s-1") != ("False", "RouteCreated"), "never marked routed"
    assert vms[1] not in cloud.pod_cidrs(), "its VM is left as it is: no record, no route"
    assert all(vms[1] not in routes.values() for routes in cloud.routes().values())
    for vm in (vms[0], vms[2]):
        assert condition(kube, names[vm]) == ("False", "RouteCreated")


def test_publish_routes_a_vm_whose_node_has_not_registered_and_tells_it_later(
    cloud: Cloud, kube: KubeSim, tmp_path: Path
) -> None:
    vms = cloud.add_nodes(2)
    register(cloud, kube, vms[:1])
    cfg = config(cloud, kube, tmp_path, "publish")

    report = converge(cfg)

    assert report.converged, "a VM with no Node yet is normal during scale-up"
    assert any(p.kind is ProblemKind.UNMATCHED and vms[1] in p.message for p in report.final.problems)
    assert vms[1] in cloud.pod_cidrs()
    kube.add_node("late", cloud.provider_id(vms[1]))
    assert converge(cfg).converged
    assert pod_cidrs(kube, "late") == [cloud.pod_cidrs()[vms[1]]]


def test_a_stale_resource_version_means_read_and_decide_again(cloud: Cloud, kube: KubeSim, tmp_path: Path) -> None:
    vms = cloud.add_nodes(2)
    register(cloud, kube, vms)
    kube.race_next_write("k8s-0")  # someone (a kubelet) changes the Node between our read and our write
    cfg = config(cloud, kube, tmp_path, "publish")

    report = converge(cfg)

    assert report.converged and report.rounds == 2
    conflicts = [r for r in report.results if r.action.kind is ActionKind.PUBLISH and r.outcome == "conflict"]
    assert len(conflicts) == 1
    assert pod_cidrs(kube, "k8s-0") == [cloud.pod_cidrs()[vms[0]]]


def test_adopt_routes_the_nodes_podcidrs_and_mirrors_them_on_the_vms(
    cloud: Cloud, kube: KubeSim, tmp_path: Path
) -> None:
    vms = cloud.add_nodes(3)
    given = {"k8s-0": "10.244.7.0/24", "k8s-1": "10.244.3.0/24"}
    names = register(cloud, kube, vms, **given)
    cfg = config(cloud, kube, tmp_path, "adopt")

    report = converge(cfg)

    assert report.converged
    assert cloud.pod_cidrs() == {vms[0]: "10.244.7.0/24", vms[1]: "10.244.3.0/24"}
    for routes in cloud.routes().values():
        assert routes == {"10.244.7.0/24": vms[0], "10.244.3.0/24": vms[1]}
    assert condition(kube, names[vms[0]]) == ("False", "RouteCreated")
    assert any(p.kind is ProblemKind.UNMATCHED and "k8s-2" in p.message for p in report.final.problems)
    assert kube.node("k8s-2")["spec"].get("podCIDRs") is None, "adopt never writes a podCIDR"


def test_adopt_two_nodes_with_one_podcidr_route_neither(cloud: Cloud, kube: KubeSim, tmp_path: Path) -> None:
    vms = cloud.add_nodes(2)
    names = register(cloud, kube, vms, **{"k8s-0": "10.244.4.0/24", "k8s-1": "10.244.4.0/24"})

    report = converge(config(cloud, kube, tmp_path, "adopt"))

    assert not report.converged and report.final.blocked
    assert all(not routes for routes in cloud.routes().values())
    assert all(condition(kube, name) != ("False", "RouteCreated") for name in names.values())


@pytest.mark.parametrize("bad", ["10.250.0.0/24", "10.244.0.0/25"], ids=["outside-cluster", "wrong-size"])
def test_adopt_refuses_an_invalid_podcidr_before_writing_anything(
    cloud: Cloud, kube: KubeSim, tmp_path: Path, bad: str
) -> None:
    vms = cloud.add_nodes(2)
    register(cloud, kube, vms, **{"k8s-0": "10.244.1.0/24", "k8s-1": bad})
    cfg = config(cloud, kube, tmp_path, "adopt")
    cloud.reset_calls()
    kube.reset_calls()

    with pytest.raises(PreflightError, match=bad.replace(".", r"\.")):
        converge(cfg)

    assert cloud.writes() == [] and kube.writes() == []


def test_destroy_leaves_node_objects_alone(cloud: Cloud, kube: KubeSim, tmp_path: Path) -> None:
    vms = cloud.add_nodes(2)
    names = register(cloud, kube, vms)
    cfg = config(cloud, kube, tmp_path, "publish")
    assert converge(cfg).converged
    kube.reset_calls()

    provider = make_provider(cfg)
    report = engine.apply(provider, cfg, engine.make_plan(provider, cfg, destroy=True), destroy=True)

    assert report.converged and all(not routes for routes in cloud.routes().values())
    assert kube.writes() == []
    assert all(pod_cidrs(kube, name) for name in names.values()), "a podCIDR cannot be cleared"
