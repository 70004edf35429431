"""Real TCP between lab namespaces: the three Kubernetes requirements, checked with packets.

Each check opens a one-shot server in the destination namespace that writes back the peer address
it saw, and a client in the source namespace. Both sockets are created in their namespaces by
netns.socket_in, so the whole matrix runs in this process, all checks at once: a run costs about
one probe timeout when something fails and a few milliseconds when everything passes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cloudroutes.sim.lab import lifecycle, netns, settle, state, topology
from cloudroutes.sim.lab.errors import LabError
from cloudroutes.sim.lab.matrix import Check, CheckKind, Matrix, Settle

PROBE_TIMEOUT_S = 1.0
# All probes run at once (a failing one costs a full timeout) up to this many threads: 20 VMs
# make 1,540 probes, which then take about six timeouts when everything fails.
MAX_PARALLEL = 256
# How long verify waits at most for the lab to catch up with the cloud (settle.py) before it judges.
# Settling takes the daemon's next look (0.2 s) and, after a subnet is recorded, one `node-cidr`
# per VM, all at once: ~0.3 s of CPU each on AWS, ~2 s on GCE (google-cloud-compute's import), so
# 20 GCE VMs on two cores need ~20 s. The wait ends as soon as the lab has settled.
DEFAULT_SETTLE_S = 30.0
MAX_SETTLE_S = 600.0
SETTLE_POLL_S = 0.05  # reading a small file: cheap next to the daemon's 0.2 s rounds


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    label: str
    namespace: str
    address: str | None  # None: a container whose VM has no pod subnet yet


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe:
    kind: CheckKind
    source: Endpoint
    destination: Endpoint


def plan_probes(info: state.LabInfo, container_addresses: dict[str, str | None]) -> tuple[Probe, ...]:
    """Per VM: container -> container on the same VM. Per ordered pair of VMs (a, b): a's container ->
    b's container, a's node -> b's container, a's container -> b's node, and a's node -> b's node
    (the underlay: when it fails, the lab is broken, not the routes)."""
    nodes = {vm.name: Endpoint(label=vm.name, namespace=vm.namespace, address=vm.address) for vm in info.vms}

    def pod(vm: state.VmInfo, k: int) -> Endpoint:
        namespace = vm.containers[k]
        return Endpoint(label=f"{vm.name}-c{k + 1}", namespace=namespace, address=container_addresses.get(namespace))

    probes = [Probe(kind=CheckKind.POD_POD_LOCAL, source=pod(vm, 0), destination=pod(vm, 1)) for vm in info.vms]
    for a in info.vms:
        for b in (vm for vm in info.vms if vm is not a):
            probes += [
                Probe(kind=CheckKind.POD_POD_REMOTE, source=pod(a, 0), destination=pod(b, 0)),
                Probe(kind=CheckKind.NODE_POD, source=nodes[a.name], destination=pod(b, 1)),
                Probe(kind=CheckKind.POD_NODE, source=pod(a, 1), destination=nodes[b.name]),
                Probe(kind=CheckKind.NODE_NODE, source=nodes[a.name], destination=nodes[b.name]),
            ]
    return tuple(sorted(probes, key=lambda p: list(CheckKind).index(p.kind)))


def run_probe(probe: Probe, timeout: float = PROBE_TIMEOUT_S) -> Check:
    src, dst = probe.source, probe.destination
    started = time.monotonic()
    own = seen = error = None
    if src.address is None or dst.address is None:
        error = f"{src.label if src.address is None else dst.label} has no address (no pod subnet yet)"
    else:
        own, seen, error = _exchange(src, dst, timeout)
    if error is None and seen != own:
        error = f"server saw {seen}, client is {own}: address translated"
    elif error is None and own != src.address:
        error = f"client sent from {own}, not from its address {src.address}"
    ok = error is None
    return Check(
        kind=probe.kind,
        source=src.label,
        source_address=src.address,
        destination=dst.label,
        destination_address=dst.address,
        ok=ok,
        seen_peer=seen,
        error=error,
        elapsed_ms=(time.monotonic() - started) * 1000,
    )


def _exchange(src: Endpoint, dst: Endpoint, timeout: float) -> tuple[str | None, str | None, str | None]:
    """Connect src -> dst; return (client's own address, peer address the server reported, error)."""
    server = netns.socket_in(dst.namespace)
    try:
        server.bind((dst.address, 0))
        server.listen(1)
    except OSError as exc:
        server.close()
        return None, None, f"server cannot listen on {dst.address}: {exc.strerror or exc}"
    serving = threading.Thread(target=_serve_once, args=(server,), daemon=True)
    serving.start()
    client = netns.socket_in(src.namespace)
    client.settimeout(timeout)
    try:
        client.connect((dst.address, server.getsockname()[1]))
        own = str(client.getsockname()[0])
        reply = client.recv(64).decode().strip()
        return own, (reply or None), (None if reply else "connected, but the server sent nothing")
    except TimeoutError:
        return None, None, "timed out"
    except OSError as exc:
        return None, None, exc.strerror or str(exc)
    finally:
        client.close()
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)  # wakes the accept() when nothing connected
        serving.join()
        server.close()


def _serve_once(server: socket.socket) -> None:
    try:
        conn, peer = server.accept()
    except OSError:
        return
    with conn:
        conn.sendall(f"{peer[0]}\n".encode())


def verify(
    state_dir: Path | str = state.DEFAULT_STATE_DIR,
    *,
    timeout: float = PROBE_TIMEOUT_S,
    settle_s: float = DEFAULT_SETTLE_S,
) -> Matrix:
    """Wait (at most `settle_s`; 0 judges at once) for the lab to catch up with the cloud, then
    probe every VM the cloud still runs; the others are listed in `Matrix.dropped`."""
    lifecycle.require_host()
    info = state.read_state(Path(state_dir))
    if info.fabric_namespace not in topology.lab_namespaces():
        raise LabError(f"the lab's namespaces are gone (no {info.fabric_namespace}): run `lab up`")
    status, waited = await_settled(info, settle_s)
    dropped = settle.dropped(status)
    judged = dataclasses.replace(info, vms=tuple(vm for vm in info.vms if vm.name not in {d.vm for d in dropped}))
    containers = [ns for vm in judged.vms for ns in vm.containers]
    addresses = {ns: topology.uplink_address(ns) for ns in containers}
    matrix = run_matrix(plan_probes(judged, addresses), timeout=timeout)
    return dataclasses.replace(matrix, dropped=dropped, settle=waited)


def parse_seconds(text: str) -> float:
    """A settle bound as a user writes it: "10", "2.5", "10s" or "0"; ValueError otherwise."""
    try:
        seconds = float(text.strip().removesuffix("s"))
    except ValueError:
        raise ValueError("expected seconds, like 10, 2.5 or 10s") from None
    if not 0 <= seconds <= MAX_SETTLE_S:
        raise ValueError(f"must be between 0 and {MAX_SETTLE_S:g} seconds")
    return seconds


def await_settled(info: state.LabInfo, bound_s: float) -> tuple[settle.LabStatus | None, Settle]:
    """Poll the daemon's status until it shows the lab settled since this call began, the daemon
    is gone, or `bound_s` has passed; return the status to judge by and how the wait went."""
    started = time.monotonic()
    since = started if bound_s > 0 else None  # --settle 0: the latest look, however old, is the one
    while True:
        status = state.read_status(info.state_dir)
        waiting = settle.pending(status, since)
        alive = lifecycle.is_lab_daemon(info.daemon_pid)
        if not alive:
            waiting += (f"the lab daemon (pid {info.daemon_pid}) is not running; see {info.state_dir}/daemon.log",)
        elapsed = time.monotonic() - started
        if not waiting or not alive or elapsed >= bound_s:
            return status, Settle(settled=not waiting, waited_ms=elapsed * 1000, bound_s=bound_s, pending=waiting)
        time.sleep(SETTLE_POLL_S)


def run_matrix(probes: Sequence[Probe], *, timeout: float = PROBE_TIMEOUT_S) -> Matrix:
    if not probes:
        return Matrix(checks=())
    with ThreadPoolExecutor(max_workers=min(len(probes), MAX_PARALLEL), thread_name_prefix="probe") as pool:
        checks = tuple(pool.map(lambda p: run_probe(p, timeout), probes))
    return Matrix(checks=checks)
