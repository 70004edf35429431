"""The verification matrix: which Kubernetes networking requirement held between which endpoints.

Pure values and their renderings (text table, JSON); probe.py fills them with real packets.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 3  # the CLI's "not converged" code: some requirement does not hold


class CheckKind(StrEnum):
    POD_POD_REMOTE = "pod-pod-remote"  # container -> container on another VM, no NAT
    POD_POD_LOCAL = "pod-pod-local"  # container -> container on the same VM
    NODE_POD = "node-pod"  # VM address -> container on another VM, no NAT
    POD_NODE = "pod-node"  # container -> another VM's address, no NAT
    NODE_NODE = "node-node"  # VM -> VM: the underlay, which must hold whatever the cloud says


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One TCP probe. ok only if it connected and the server saw the client's own address."""

    kind: CheckKind
    source: str
    source_address: str | None
    destination: str
    destination_address: str | None
    ok: bool
    seen_peer: str | None = None
    error: str | None = None
    elapsed_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "source": self.source,
            "source_address": self.source_address,
            "destination": self.destination,
            "destination_address": self.destination_address,
            "ok": self.ok,
            "seen_peer": self.seen_peer,
            "error": self.error,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Dropped:
    """A VM left out of the judgement: its instance is gone or not running."""

    vm: str
    instance_id: str
    instance_state: str  # EC2's words (GCE's TERMINATED reads "stopped"), or "absent"
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "vm": self.vm,
            "instance_id": self.instance_id,
            "instance_state": self.instance_state,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Settle:
    """How verify waited for the lab to catch up with the cloud before it judged (settle.py)."""

    settled: bool
    waited_ms: float
    bound_s: float
    pending: tuple[str, ...] = ()  # why it had not settled when it judged

    def to_json(self) -> dict[str, Any]:
        return {
            "settled": self.settled,
            "waited_ms": round(self.waited_ms, 1),
            "bound_s": self.bound_s,
            "pending": list(self.pending),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Matrix:
    checks: tuple[Check, ...]
    dropped: tuple[Dropped, ...] = ()
    settle: Settle | None = None  # None: judged without looking at the daemon's status

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_FAILED

    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def summary(self) -> str:
        passed = sum(c.ok for c in self.checks)
        return f"{len(self.checks)} checks: {passed} passed, {len(self.checks) - passed} failed"

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "summary": self.summary(),
            "settle": self.settle.to_json() if self.settle else None,
            "dropped": [d.to_json() for d in self.dropped],
            "checks": [c.to_json() for c in self.checks],
        }

    def notes(self) -> list[str]:
        """What the table does not show: VMs left out, and a judgement made before the lab settled."""
        lines = [f"left out {d.vm} ({d.instance_id}): {d.reason}" for d in self.dropped]
        if self.settle is not None and not self.settle.settled:
            lines.append(f"judged before the lab settled (--settle {self.settle.bound_s:g}):")
            lines += [f"  {reason}" for reason in self.settle.pending]
        return lines

    def to_text(self) -> str:
        header = ("CHECK", "FROM", "TO", "RESULT", "SERVER SAW", "ERROR")
        rows = [header] + [
            (
                str(c.kind),
                f"{c.source} {c.source_address or '-'}",
                f"{c.destination} {c.destination_address or '-'}",
                "ok" if c.ok else "FAIL",
                c.seen_peer or "-",
                c.error or "",
            )
            for c in self.checks
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
        return "\n".join([*lines, *self.notes(), self.summary()])
