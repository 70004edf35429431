"""Node objects beside an embedded cloud, as kubelets would register them: for `sim --kubernetes` and the demo.

A kubelet registers its Node when its VM boots and the node lifecycle controller deletes it when the
VM is gone; `NodeRegistry` plays both for an embedded cloud. In `adopt` mode each Node is registered
with a podCIDR, as kube-controller-manager's node IPAM (--allocate-node-cidrs) would give it.
Standard library only, like the rest of the emulator.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cloudroutes.sim.kube.sim import KubeSim

ADOPTED_FROM = 100
"""adopt mode hands out 10.244.100.0/24, 10.244.101.0/24, ... so the demo shows them being followed."""


class NodeRegistry:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.kube = KubeSim().start()
        self._folder = Path(tempfile.mkdtemp(prefix="cloudroutes-kube-"))
        self.kubeconfig = self.kube.write_kubeconfig(self._folder / "kubeconfig")
        self._given = 0
        self.names: dict[str, str] = {}
        """VM (instance id or name) -> its Node's name."""

    def register(self, vm: str, node: str, provider_id: str) -> None:
        cidrs = []
        if self.mode == "adopt":
            cidrs = [f"10.244.{ADOPTED_FROM + self._given}.0/24"]
            self._given += 1
        self.kube.add_node(node, provider_id, pod_cidrs=cidrs)
        self.names[vm] = node

    def register_ec2(self, ec2: Any, instance_ids: Iterable[str]) -> None:
        """Instances of an EC2 endpoint (a boto3 client): Nodes named by private DNS name, as kubelets do."""
        ids = list(instance_ids)
        if not ids:
            return
        found = ec2.describe_instances(InstanceIds=ids)["Reservations"]
        for instance in (i for r in found for i in r["Instances"]):
            zone, iid = instance["Placement"]["AvailabilityZone"], instance["InstanceId"]
            self.register(iid, instance.get("PrivateDnsName") or iid, f"aws:///{zone}/{iid}")

    def register_compute(self, project: str, instances: Iterable[Mapping[str, Any]]) -> None:
        """Compute Engine instances (as the API renders them): Nodes named like their instances."""
        for instance in instances:
            zone, name = instance["zone"].rsplit("/", 1)[-1], instance["name"]
            self.register(name, name, f"gce://{project}/{zone}/{name}")

    def remove(self, vm: str) -> None:
        node = self.names.pop(vm, None)
        if node is not None:
            self.kube.delete_node(node)

    def config_text(self) -> str:
        return f'[kubernetes]\nmode = "{self.mode}"\nkubeconfig = "{self.kubeconfig}"\n'

    def exports(self) -> dict[str, str]:
        return {"CLOUDROUTES_KUBERNETES_MODE": self.mode, "CLOUDROUTES_KUBERNETES_KUBECONFIG": self.kubeconfig}

    def stop(self) -> None:
        self.kube.stop()
        shutil.rmtree(self._folder, ignore_errors=True)
