"""The lab daemon: the cloud, the fabric that follows it, and the VMs' boot agent, in one process.

Started detached by `lab up` (`python -m cloudroutes.sim.lab.daemon --state-dir D --nodes N
--provider aws|gce [--kubernetes publish|adopt]`), stopped by `lab down` with SIGTERM. It must
outlive `lab up`, because the cloud lives in it: the user runs `cloudroutes apply` against it
between `lab up` and `lab verify`. With `--kubernetes` it also holds an embedded Kubernetes API with
a Node per VM (in adopt mode each with a podCIDR, as kube-controller-manager would assign it), which
the VMs reach through a second relay.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cloudroutes.sim.kube.cluster import NodeRegistry
from cloudroutes.sim.lab import bootagent, cloud, fabric, names, settle, state
from cloudroutes.sim.lab.cloudview import CloudView
from cloudroutes.sim.lab.fabric_kernel import KernelFabric
from cloudroutes.sim.lab.metadata import MetadataRelay
from cloudroutes.sim.lab.names import VmSpec

log = logging.getLogger("cloudroutes.lab")

SYNC_INTERVAL_S = 0.2  # how stale the fabric may be; two cheap cloud reads and two netlink dumps a round
KUBE_RELAY_PORT = 6443  # the API server's usual port, at the metadata address inside the fabric
BOOT_INTERVAL_S = 0.5  # how often the boot agent looks for a waiting VM that is due (bootagent.RETRY_S_BY_PROVIDER)


def sync_fabric(view: CloudView, kernel: KernelFabric, vms: Sequence[VmSpec]) -> list[str]:
    """Make crlab-fab match the cloud: a diff against the kernel, so a quiet round writes nothing.
    Returns the steps that failed (the next round tries them again)."""
    change = fabric.diff(kernel.read(), fabric.desired_fabric(view, vms))
    if not change:
        return []
    errors = kernel.apply(change)
    for error in errors:
        log.warning("fabric: %s", error)
    log.info("fabric: %s", describe(change))
    return errors


def describe(change: fabric.FabricDiff) -> str:
    parts = [f"-route {r.destination}" for r in change.delete_routes]
    parts += [f"route {r.destination} {f'via {r.gateway}' if r.gateway else 'blackhole'}" for r in change.set_routes]
    parts += [f"-rule {r.priority}" for r in change.delete_rules]
    parts += [f"+rule {r.priority} iif {r.iif} {r.action}" for r in change.add_rules]
    return "; ".join(parts)


def _loop(stop: threading.Event, interval: float, what: str, step: Callable[[], None]) -> None:
    last = ""
    while not stop.is_set():
        try:
            step()
            last = ""
        except Exception as exc:
            if str(exc) != last:
                log.warning("%s: %s: %s", what, type(exc).__name__, exc)
                last = str(exc)
        stop.wait(interval)


class LabDaemon:
    """Owns the cloud, the fabric's netlink socket and the metadata relay; runs the two loops."""

    def __init__(
        self, state_dir: Path, nodes: int, provider: str, node_cidr_argv: Sequence[str], kubernetes: str = ""
    ) -> None:
        self.vms = names.vm_specs(nodes)
        self.kernel = KernelFabric()  # before any thread exists: pyroute2 forks to enter the namespace
        self.cloud = cloud.open_cloud(provider, self.vms)
        self.relay: MetadataRelay | None = None
        self.kube_relay: MetadataRelay | None = None
        self.nodes: NodeRegistry | None = None
        node_names: tuple[str, ...] = ()
        if kubernetes:
            self.nodes, node_names = _register_nodes(state_dir, kubernetes, self.cloud)
        self.info = _lab_info(state_dir, self.cloud, self.vms, kubernetes, node_names)
        self.agent = bootagent.BootAgent(
            self.vms,
            {vm.name: vm.instance_id for vm in self.info.vms},
            node_cidr_argv,
            bootagent.node_environment(self.info),
            retry_s=bootagent.RETRY_S_KUBERNETES if kubernetes else bootagent.RETRY_S_BY_PROVIDER[provider],
            node_names=dict(zip((vm.name for vm in self.vms), node_names, strict=False)),
        )
        self.latest: CloudView | None = None  # the sync loop's last look, shared with the boot agent

    def sync(self) -> None:
        """One round: look at the cloud, make the fabric follow, publish how far the lab has got."""
        looked_at = time.monotonic()
        view = self.cloud.observe()
        errors = sync_fabric(view, self.kernel, self.vms)
        self.latest = view
        vm_ids = [(vm.name, vm.instance_id) for vm in self.info.vms]
        status = settle.status_of(view, vm_ids, self.agent.answers(), looked_at=looked_at, fabric_errors=errors)
        state.write_status(self.info.state_dir, status)

    def boot(self) -> None:
        if self.latest is not None and self.agent.pending():
            self.agent.run_once({i.instance_id: i.tags for i in self.latest.instances if i.state == settle.RUNNING})

    def run(self, stop: threading.Event) -> None:
        self.relay = MetadataRelay(self.cloud.endpoint)
        self.relay.start()
        if self.nodes is not None:
            self.kube_relay = MetadataRelay(self.nodes.kube.endpoint, port=KUBE_RELAY_PORT)
            self.kube_relay.start()
        threading.Thread(
            target=_loop, args=(stop, BOOT_INTERVAL_S, "boot", self.boot), name="boot-agent", daemon=True
        ).start()
        state.write_state(self.info)
        where = (
            f"project {self.info.project}, network {self.info.network}"
            if self.info.provider == "gce"
            else f"vpc {self.info.vpc_id}, table {self.info.route_table_id}"
        )
        log.info("lab up: %s cloud %s, %s, %d VMs", self.info.provider, self.info.endpoint, where, len(self.vms))
        _loop(stop, SYNC_INTERVAL_S, "fabric sync", self.sync)

    def close(self) -> None:
        for relay in (self.relay, self.kube_relay):
            if relay is not None:
                relay.stop()
        self.kernel.close()
        if self.nodes is not None:
            self.nodes.stop()
        self.cloud.stop()
        log.info("lab daemon stopped")


def _register_nodes(state_dir: Path, mode: str, lab_cloud: cloud.LabCloud) -> tuple[NodeRegistry, tuple[str, ...]]:
    """The embedded Kubernetes API with each VM's Node registered, as its kubelet would at boot; and
    two kubeconfigs for it: the user's shell reaches it on loopback, a VM through the relay."""
    registry = NodeRegistry(mode)
    try:
        ids = lab_cloud.node_ids()
        for node, provider_id in ids:
            registry.register(node, node, provider_id)
        registry.kube.write_kubeconfig(state_dir / state.KUBECONFIG_FILE)
        relayed = f"http://{names.METADATA}:{KUBE_RELAY_PORT}"
        registry.kube.write_kubeconfig(state_dir / state.VM_KUBECONFIG_FILE, server=relayed)
    except BaseException:
        registry.stop()
        raise
    return registry, tuple(node for node, _ in ids)


def _lab_info(
    state_dir: Path, lab_cloud: cloud.LabCloud, vms: Sequence[VmSpec], kubernetes: str, node_names: Sequence[str]
) -> state.LabInfo:
    return state.LabInfo(
        state_dir=state_dir,
        endpoint=lab_cloud.endpoint,
        daemon_pid=os.getpid(),
        kubernetes=kubernetes,
        node_names=tuple(node_names),
        **lab_cloud.lab_fields(),
        vms=tuple(
            state.VmInfo(
                name=vm.name,
                namespace=vm.namespace,
                address=str(vm.address),
                instance_id=instance_id,
                eni_id=eni_id,
                fabric_link=vm.fabric_link,
                containers=vm.containers,
            )
            for vm, (instance_id, eni_id) in zip(vms, lab_cloud.vm_ids(), strict=True)
        ),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cloudroutes.sim.lab.daemon")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--provider", choices=names.PROVIDERS, default="aws")
    parser.add_argument(
        "--node-cidr-argv",
        default=None,
        help="JSON list; {python} and {instance_id} are filled in [default: the provider's]",
    )
    parser.add_argument("--kubernetes", choices=("", "publish", "adopt"), default="")
    parser.add_argument("--detach", action="store_true", help="fork; the parent exits at once")
    args = parser.parse_args(argv)
    # The pid file is there before `lab up` gets control back (with --detach the forking parent
    # writes it), so a `lab down` racing a slow start always finds the daemon it has to stop.
    if args.detach:
        child = os.fork()  # before any thread exists, so the fork is safe
        if child:
            state.write_atomic(args.state_dir / state.PID_FILE, f"{child}\n")
            os._exit(0)
    else:
        state.write_atomic(args.state_dir / state.PID_FILE, f"{os.getpid()}\n")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        default = bootagent.KUBERNETES_NODE_CIDR_ARGV if args.kubernetes else bootagent.NODE_CIDR_ARGV[args.provider]
        argv = json.loads(args.node_cidr_argv) if args.node_cidr_argv else default
        daemon = LabDaemon(args.state_dir, args.nodes, args.provider, argv, args.kubernetes)
    except Exception:
        log.exception("lab daemon failed to start")
        return 1
    stop = threading.Event()
    # Until here SIGTERM kills at once (nothing to save); from here on it ends the loops cleanly.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        daemon.run(stop)
    except Exception:
        log.exception("lab daemon failed")
        return 1
    finally:
        daemon.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
