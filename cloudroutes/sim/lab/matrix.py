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
class Matrix:
    checks: tuple[Check, ...]

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
        return {"ok": self.ok, "summary": self.summary(), "checks": [c.to_json() for c in self.checks]}

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
        return "\n".join([*lines, self.summary()])
