"""`lab up` and `lab down`: build the namespaces, start and stop the daemon, own the state dir."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cloudroutes.sim.lab import bootagent, names, state, topology
from cloudroutes.sim.lab.errors import LabError

DAEMON_MODULE = "cloudroutes.sim.lab.daemon"
UP_TIMEOUT_S = 60.0  # the daemon imports moto and boto3 (~1 s) or the GCE emulator, and seeds it; CI is slower
STOP_TIMEOUT_S = 10.0
KUBERNETES_MODES = ("publish", "adopt")


def host_problem() -> str | None:
    """Why the lab cannot run on this host, or None."""
    if os.geteuid() != 0:
        return "the lab needs root (it creates network namespaces)"
    if shutil.which("ip") is None:
        return "the lab needs iproute2's `ip`"
    if subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        return "`ip netns` does not work here"
    return None


def require_host() -> None:
    problem = host_problem()
    if problem:
        raise LabError(problem)


def up(
    *,
    nodes: int = 3,
    state_dir: Path | str = state.DEFAULT_STATE_DIR,
    provider: str = "aws",
    node_cidr_argv: Sequence[str] | None = None,
    timeout: float = UP_TIMEOUT_S,
    kubernetes: str = "",
) -> state.LabInfo:
    """Build the lab around the embedded cloud of `provider` (aws or gce) and start its daemon;
    return what the user needs (LabInfo.exports()). The provider is recorded in state.json, so
    `verify` and `down` need no flag. `kubernetes` ("publish" or "adopt"): also an embedded
    Kubernetes API with a Node per VM, which the VMs' boot reads its podCIDR from."""
    require_host()
    if provider not in names.PROVIDERS:
        raise LabError(f"the lab follows {' or '.join(names.PROVIDERS)}, not {provider!r}")
    if kubernetes not in ("", *KUBERNETES_MODES):
        raise LabError(f"the lab's Kubernetes mode is {' or '.join(KUBERNETES_MODES)}, not {kubernetes!r}")
    vms = names.vm_specs(nodes)
    state_dir = Path(state_dir).resolve()
    if (state_dir / state.STATE_FILE).exists() or _live_daemons(state_dir):
        raise LabError(f"a lab is already up (state in {state_dir}): run `lab down` first")
    existing = topology.lab_namespaces()
    if existing:
        raise LabError(f"lab namespaces already exist ({', '.join(existing)}): run `lab down` first")
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        topology.build(vms)
        default = bootagent.KUBERNETES_NODE_CIDR_ARGV if kubernetes else bootagent.NODE_CIDR_ARGV[provider]
        _spawn_daemon(state_dir, nodes, provider, node_cidr_argv or default, kubernetes)
        info = _wait_ready(state_dir, timeout)
        state.write_atomic(info.config_path, state.config_text(info))
        return info
    except BaseException:
        down(state_dir)  # a failed up leaves nothing behind (the log goes too: the error carries its tail)
        raise


def _spawn_daemon(state_dir: Path, nodes: int, provider: str, node_cidr_argv: Sequence[str], kubernetes: str) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (bootagent.PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    argv = [
        sys.executable,
        "-m",
        DAEMON_MODULE,
        "--detach",
        "--state-dir",
        str(state_dir),
        "--nodes",
        str(nodes),
        "--provider",
        provider,
        "--node-cidr-argv",
        json.dumps(list(node_cidr_argv)),
        "--kubernetes",
        kubernetes,
    ]
    with open(state_dir / state.LOG_FILE, "ab") as log:
        # --detach: the daemon forks and this child exits at once, so the daemon is nobody's child
        # (no zombie, no ResourceWarning) and outlives the `lab up` command.
        code = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=state_dir,
            env=env,
        ).returncode
    if code != 0:
        raise LabError(f"lab daemon did not start (exit {code}): {_log_tail(state_dir)}")


def _wait_ready(state_dir: Path, timeout: float) -> state.LabInfo:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (state_dir / state.STATE_FILE).exists():
            return state.read_state(state_dir)
        pid = _read_pid(state_dir / state.PID_FILE)
        if pid is not None and not _alive(pid):
            raise LabError(f"lab daemon died while starting: {_log_tail(state_dir)}")
        time.sleep(0.05)
    raise LabError(f"lab daemon not ready after {timeout:.0f} s: {_log_tail(state_dir)}")


def down(state_dir: Path | str = state.DEFAULT_STATE_DIR, *, timeout: float = STOP_TIMEOUT_S) -> list[str]:
    """Stop the daemon, delete every crlab-* namespace and link, remove the state dir.

    Safe to run twice, and after a failed `up`. Returns what it removed."""
    require_host()
    state_dir = Path(state_dir)
    removed = [f"daemon {pid}" for pid in _live_daemons(state_dir) if _stop(pid, timeout)]
    removed += topology.destroy()
    for name in state.OUR_FILES:
        (state_dir / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        state_dir.rmdir()  # only if empty: never remove files the lab did not write
    return removed


def _live_daemons(state_dir: Path) -> list[int]:
    pids = {_read_pid(state_dir / state.PID_FILE)}
    with contextlib.suppress(LabError):
        pids.add(state.read_state(state_dir).daemon_pid)
    return sorted(pid for pid in pids if pid is not None and is_lab_daemon(pid))


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def is_lab_daemon(pid: int) -> bool:
    """Only signal a process that is a lab daemon: a stale pid file may name a reused pid."""
    try:
        return DAEMON_MODULE.encode() in Path(f"/proc/{pid}/cmdline").read_bytes() and _alive(pid)
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] not in ("Z", "X")  # a zombie has exited already


def _stop(pid: int, timeout: float) -> bool:
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 2.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return True
            time.sleep(0.05)
    return not _alive(pid)


def _log_tail(state_dir: Path, lines: int = 15) -> str:
    try:
        text = (state_dir / state.LOG_FILE).read_text(errors="replace")
    except OSError:
        return "(no daemon log)"
    return "\n".join(text.strip().splitlines()[-lines:]) or "(empty daemon log)"
