"""Operations: the PENDING → RUNNING → DONE records every GCE write returns.

The effect of a write is a callable held by its operation; it runs when the operation completes, which
the state checks lazily on every request (no timer thread, so nothing runs after `stop()`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloudroutes.sim.gce import links
from cloudroutes.sim.gce.errors import ApiError

# The share of an operation's time it reports PENDING before it reports RUNNING.
_PENDING_SHARE = 0.3


def _nothing() -> None:
    return None


@dataclass(slots=True, kw_only=True)
class Operation:
    """Mutable on purpose: an operation is a process that moves through states, not a value."""

    name: str
    id: str
    kind: str  # operationType: insert, delete, update, setLabels
    target_link: str
    target_id: str
    zone: str | None  # None for global operations
    started: float  # monotonic seconds
    done_at: float
    insert_time: str
    apply: Callable[[], None] = _nothing  # the write's effect
    release: Callable[[], None] = _nothing  # undo reservations (pending name, quota), success or not
    failure: ApiError | None = None  # injected: the operation ends DONE with this error
    finished: bool = False
    end_time: str | None = None
    error: ApiError | None = None

    def status(self, now: float) -> str:
        if self.finished:
            return "DONE"
        span = self.done_at - self.started
        return "PENDING" if now - self.started < span * _PENDING_SHARE else "RUNNING"

    def finish(self, end_time: str) -> None:
        """Run the effect, or record why it failed. Called exactly once, under the state's lock."""
        self.release()
        try:
            if self.failure is not None:
                raise self.failure
            self.apply()
        except ApiError as exc:
            self.error = exc
        self.finished = True
        self.end_time = end_time

    def scope_path(self, project: str) -> str:
        if self.zone is None:
            return f"projects/{project}/global"
        return links.zone_path(project, self.zone)

    def render(self, project: str, now: float) -> dict[str, Any]:
        status = self.status(now)
        span = max(self.done_at - self.started, 1e-9)
        progress = {"DONE": 100, "PENDING": 0}.get(status, min(99, int((now - self.started) / span * 100)))
        rendered: dict[str, Any] = {
            "kind": "compute#operation",
            "id": self.id,
            "name": self.name,
            "operationType": self.kind,
            "targetLink": self.target_link,
            "targetId": self.target_id,
            "status": status,
            "user": "cloudroutes-sim@example.com",
            "progress": progress,
            "insertTime": self.insert_time,
            "selfLink": links.link(f"{self.scope_path(project)}/operations/{self.name}"),
        }
        if status != "PENDING":
            rendered["startTime"] = self.insert_time
        if self.end_time is not None:
            rendered["endTime"] = self.end_time
        if self.zone is not None:
            rendered["zone"] = links.link(links.zone_path(project, self.zone))
        if self.error is not None:
            rendered.update(self.error.operation_fields())
        return rendered
