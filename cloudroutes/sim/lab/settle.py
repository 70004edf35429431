"""Has the lab caught up with the cloud? What the daemon publishes after each look, and the judgement.

Pure: no I/O. The daemon builds a `LabStatus` after every sync round (state.write_status puts it in
status.json); `lab verify` reads it and judges only once the lab has settled, or its bound runs out.
Settled means, for the daemon's latest look at the cloud:
- the fabric holds exactly what that look asks for (routes and forwarding flags), with no failed step;
- every VM still running in the cloud has had its boot agent answer for the instance as it is now:
  cbr0 configured, or `node-cidr` asked after the instance's tags last changed and heard "not
  assigned yet". A configured VM keeps its subnet, as a booted node does (the product never moves
  a live node's subnet), so a later change of its tags does not unsettle it.

Why a status file and not a sleep: the boot agent asks on a timer and `node-cidr` takes a Python
start-up (~0.3 s; ~2 s on GCE), so how long settling takes depends on the machine, while whether it
has happened is plain to see in the daemon's own records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Network
from typing import Any

from cloudroutes.sim.lab.cloudview import CloudView, Tags
from cloudroutes.sim.lab.matrix import Dropped

RUNNING = "running"
ABSENT = "absent"  # the cloud has no such instance (deleted)
GONE = ("terminated", "shutting-down", ABSENT)


class BootOutcome(StrEnum):
    WAITING = "waiting"  # never asked (its instance not running yet, or the agent's first round is due)
    CONFIGURED = "configured"  # cbr0 and the containers hold the subnet node-cidr printed
    NOT_ASSIGNED = "not-assigned"  # node-cidr exited 3: the cloud records no subnet for the VM yet
    ERROR = "error"  # node-cidr failed otherwise, or configuring the bridge did; asked again later


@dataclass(frozen=True, slots=True, kw_only=True)
class BootAnswer:
    """The boot agent's last completed ask for one VM, and the instance's tags when it asked."""

    outcome: BootOutcome
    tags: Tags | None
    subnet: IPv4Network | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VmStatus:
    name: str
    instance_id: str
    instance_state: str  # the instance's state in EC2's words (cloudview), or ABSENT
    boot: BootOutcome
    current: bool  # the boot agent's answer is for the instance's tags of this look
    subnet: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LabStatus:
    """`looked_at` is time.monotonic() when the daemon began this round's look at the cloud:
    CLOCK_MONOTONIC is one clock for every process of the host, so `verify` compares it with its own."""

    looked_at: float
    fabric_errors: tuple[str, ...]
    vms: tuple[VmStatus, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "looked_at": self.looked_at,
            "fabric_errors": list(self.fabric_errors),
            "vms": [
                {
                    "name": vm.name,
                    "instance_id": vm.instance_id,
                    "instance_state": vm.instance_state,
                    "boot": str(vm.boot),
                    "current": vm.current,
                    "subnet": vm.subnet,
                    "error": vm.error,
                }
                for vm in self.vms
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LabStatus:
        return cls(
            looked_at=float(data["looked_at"]),
            fabric_errors=tuple(data["fabric_errors"]),
            vms=tuple(VmStatus(**{**vm, "boot": BootOutcome(vm["boot"])}) for vm in data["vms"]),
        )


def status_of(
    view: CloudView,
    vm_ids: Sequence[tuple[str, str]],
    answers: Mapping[str, BootAnswer],
    *,
    looked_at: float,
    fabric_errors: Sequence[str],
) -> LabStatus:
    """The status of one round: `vm_ids` is (VM name, instance id) in VM order, `answers` the boot
    agent's by VM name, `fabric_errors` the steps of this round's fabric change that failed."""
    instances = {i.instance_id: i for i in view.instances}
    vms = []
    for name, instance_id in vm_ids:
        instance = instances.get(instance_id)
        answer = answers.get(name)
        vms.append(
            VmStatus(
                name=name,
                instance_id=instance_id,
                instance_state=instance.state if instance else ABSENT,
                boot=answer.outcome if answer else BootOutcome.WAITING,
                current=answer is not None and instance is not None and answer.tags == instance.tags,
                subnet=str(answer.subnet) if answer and answer.subnet else None,
                error=answer.error if answer else None,
            )
        )
    return LabStatus(looked_at=looked_at, fabric_errors=tuple(fabric_errors), vms=tuple(vms))


def dropped(status: LabStatus | None) -> tuple[Dropped, ...]:
    """The VMs `verify` leaves out: their instance is gone or not running, so nothing can reach them
    in a real cloud either (their namespaces live on, but that is the lab, not the cloud)."""
    if status is None:
        return ()
    return tuple(
        Dropped(vm=vm.name, instance_id=vm.instance_id, instance_state=vm.instance_state, reason=_why(vm))
        for vm in status.vms
        if vm.instance_state != RUNNING
    )


def _why(vm: VmStatus) -> str:
    if vm.instance_state == ABSENT:
        return "the cloud has no such instance (deleted)"
    if vm.instance_state in GONE:
        return f"instance {vm.instance_state}: the cloud no longer has it"
    return f"instance {vm.instance_state}, not running: it carries no traffic"


def pending(status: LabStatus | None, since: float | None) -> tuple[str, ...]:
    """Why the lab has not settled (empty: it has). `since`: the look must have begun at or after it
    (verify's start), else it may predate the change verify is asked about; None takes any look."""
    if status is None:
        return ("the lab daemon has published no status yet",)
    waiting: list[str] = []
    if since is not None and status.looked_at < since:
        waiting.append("the daemon has not looked at the cloud since verify began")
    waiting += [f"fabric: {error}" for error in status.fabric_errors]
    for vm in status.vms:
        if vm.instance_state == RUNNING and (reason := _boot_pending(vm)):
            waiting.append(f"{vm.name}: {reason}")
    return tuple(waiting)


def _boot_pending(vm: VmStatus) -> str | None:
    if vm.boot is BootOutcome.CONFIGURED:
        return None
    if vm.boot is BootOutcome.WAITING:
        return "its boot agent has not asked for its subnet yet"
    if vm.boot is BootOutcome.ERROR:
        return f"its boot agent failed: {vm.error}"
    if not vm.current:
        return "its boot agent has not asked since the instance's tags changed"
    return None
