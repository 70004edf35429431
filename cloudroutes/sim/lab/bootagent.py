"""The part of each VM's boot that learns its pod subnet from the cloud and sets up cbr0.

It runs the product's own command inside the VM's namespace, exactly as a node would at boot:
`cloudroutes node-cidr --instance-id ID` (on GCE `--provider gce --instance-id zone/name`) against
the cloud at the metadata address. A lab up with `--kubernetes` runs `node-cidr --from kubernetes
--node-name NODE` instead: the VM reads its Node's spec.podCIDRs from the embedded Kubernetes API,
which it reaches through a relay at the metadata address too. Exit 0 with a subnet on stdout means
"configure the bridge and the containers"; exit 3 means "not assigned yet", and the next round asks again.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from ipaddress import IPv4Network
from pathlib import Path

from cloudroutes.sim.lab import topology
from cloudroutes.sim.lab.cloudview import Tags
from cloudroutes.sim.lab.names import VmSpec
from cloudroutes.sim.lab.settle import BootAnswer, BootOutcome
from cloudroutes.sim.lab.state import LabInfo

log = logging.getLogger(__name__)

# Placeholders: {python} is this interpreter, {instance_id} the VM's instance, {node_name} its Node.
DEFAULT_NODE_CIDR_ARGV = ("{python}", "-m", "cloudroutes", "node-cidr", "--instance-id", "{instance_id}")
NODE_CIDR_ARGV = {
    "aws": DEFAULT_NODE_CIDR_ARGV,
    "gce": ("{python}", "-m", "cloudroutes", "node-cidr", "--provider", "gce", "--instance-id", "{instance_id}"),
}
KUBERNETES_NODE_CIDR_ARGV = (
    "{python}",
    "-m",
    "cloudroutes",
    "node-cidr",
    "--from",
    "kubernetes",
    "--node-name",
    "{node_name}",
)
NOT_ASSIGNED = 3
COMMAND_TIMEOUT_S = 30.0
RETRY_S = 5.0  # ask again this long after an unchanged "not assigned" (or an error)
# On GCE each ask imports google-cloud-compute (~2 s of CPU, not boto3's ~0.3 s): three VMs asking
# every 5 s would keep a 2-core machine busy while the lab waits. A label change still asks at once.
RETRY_S_BY_PROVIDER = {"aws": RETRY_S, "gce": 30.0}
# node-cidr --from kubernetes loads no cloud SDK, so it may ask as often as on AWS, whatever the cloud.
RETRY_S_KUBERNETES = RETRY_S
# The directory that holds the `cloudroutes` package, so `python -m cloudroutes` run from inside
# a VM namespace finds the same code as the daemon, installed or not.
PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])


def node_environment(info: LabInfo) -> dict[str, str]:
    """The environment of a node's boot command: the user's lab environment, but with the cloud at
    the metadata address (AWS: AWS_ENDPOINT_URL and lab credentials; GCE: CLOUDROUTES_GCE_ENDPOINT
    and CLOUDROUTES_GCE_PROJECT; with Kubernetes, CLOUDROUTES_KUBERNETES_KUBECONFIG names the
    kubeconfig that reaches the API server through the relay)."""
    env = dict(os.environ)
    env.update(info.environment(endpoint=info.metadata_endpoint))
    if info.kubernetes:
        env["CLOUDROUTES_KUBERNETES_KUBECONFIG"] = str(info.vm_kubeconfig_path)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    return env


class BootAgent:
    """Asks for each running VM's subnet until it has one; keeps every VM's last answer
    (settle.BootAnswer) for the daemon's status. Runs on its own thread; `answers()` is safe from others."""

    def __init__(
        self,
        vms: Sequence[VmSpec],
        instance_ids: Mapping[str, str],
        argv: Sequence[str],
        env: Mapping[str, str],
        retry_s: float = RETRY_S,
        node_names: Mapping[str, str] | None = None,
    ) -> None:
        """`node_names`: vm name -> its Node's name, for an argv that names the Node ({node_name})."""
        self._vms = tuple(vms)
        self._node_names = dict(node_names or {})
        self._retry_s = retry_s
        self._instance_ids = dict(instance_ids)  # vm name -> instance id
        self._argv = tuple(argv)
        self._env = dict(env)
        self._lock = threading.Lock()
        self._answers: dict[str, BootAnswer] = {}  # vm name -> its last completed ask
        self._asked_at: dict[str, float] = {}

    def answers(self) -> dict[str, BootAnswer]:
        with self._lock:
            return dict(self._answers)

    def pending(self) -> list[VmSpec]:
        answers = self.answers()
        return [vm for vm in self._vms if vm.name not in answers or answers[vm.name].subnet is None]

    def run_once(self, running: Mapping[str, Tags]) -> None:
        """Ask, all at once, for every waiting VM that is due. `running`: the tags of each running
        instance by instance id; a VM whose instance is not running does not boot, so is not asked.

        A VM is due when it never asked, when its instance's tags changed since it last asked (the
        controller may just have recorded its subnet), or `retry_s` after its last ask. Each ask
        starts a Python with boto3 (~0.3 s of CPU; on GCE google-cloud-compute, ~2 s), so asking
        blindly twice a second per VM would keep a 2-core machine busy while the lab waits for
        `cloudroutes apply`.
        """
        now = time.monotonic()
        asks = []
        for vm in self.pending():
            tags = running.get(self._instance_ids[vm.name])
            if tags is not None and self._due(vm, tags, now):
                asks.append((vm, tags))
        started = [(vm, tags, self._start(vm)) for vm, tags in asks]
        for vm, tags, proc in started:
            try:
                out, err = proc.communicate(timeout=COMMAND_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            answer = self._handle(vm, tags, proc.returncode, out, err)
            with self._lock:
                self._answers[vm.name] = answer
                self._asked_at[vm.name] = now

    def _due(self, vm: VmSpec, tags: Tags, now: float) -> bool:
        with self._lock:
            answer, asked_at = self._answers.get(vm.name), self._asked_at.get(vm.name, 0.0)
        return answer is None or tags != answer.tags or now - asked_at >= self._retry_s

    def _start(self, vm: VmSpec) -> subprocess.Popen[str]:
        # str.replace, not str.format: an argv item may be a script with braces of its own.
        argv = [
            a.replace("{python}", sys.executable)
            .replace("{instance_id}", self._instance_ids[vm.name])
            .replace("{node_name}", self._node_names.get(vm.name, vm.name))
            for a in self._argv
        ]
        return subprocess.Popen(
            ["ip", "netns", "exec", vm.namespace, *argv],
            env=self._env,
            text=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def _handle(self, vm: VmSpec, tags: Tags, code: int, out: str, err: str) -> BootAnswer:
        if code == NOT_ASSIGNED:
            return BootAnswer(outcome=BootOutcome.NOT_ASSIGNED, tags=tags)
        subnet = _parse_subnet(out) if code == 0 else None
        if subnet is None:
            return self._failed(vm, tags, f"exit {code}: {(err or out).strip()[-500:]}")
        try:
            topology.configure_pods(vm, subnet)
        except Exception as exc:
            return self._failed(vm, tags, f"configuring {subnet}: {exc}")
        log.info("boot: %s has pod subnet %s; cbr0 and containers configured", vm.name, subnet)
        return BootAnswer(outcome=BootOutcome.CONFIGURED, tags=tags, subnet=subnet)

    def _failed(self, vm: VmSpec, tags: Tags, message: str) -> BootAnswer:
        # Asked again and again: log a message once, not on every ask.
        previous = self.answers().get(vm.name)
        if previous is None or previous.error != message:
            log.warning("boot: %s: %s", vm.name, message)
        return BootAnswer(outcome=BootOutcome.ERROR, tags=tags, error=message)


def _parse_subnet(out: str) -> IPv4Network | None:
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    try:
        subnet = IPv4Network(lines[-1]) if lines else None
    except ValueError:
        return None
    # The bridge takes .1 and the containers .10 and up: anything smaller cannot hold them.
    return subnet if subnet is not None and subnet.prefixlen <= 27 else None
