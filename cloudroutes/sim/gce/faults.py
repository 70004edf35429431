"""Failures on demand: queued one-shot faults and a fixed-rate write throttle. Thread-safe."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from cloudroutes.sim.gce import errors

# Methods that return an operation, and so can fail inside it rather than on the HTTP call.
OPERATION_METHODS = frozenset(
    {"routes.insert", "routes.delete", "instances.update", "instances.setLabels", "instances.delete"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    method_id: str  # discovery-style id, e.g. "routes.insert"
    http_status: int
    reason: str
    message: str
    in_operation: bool

    def error(self) -> errors.ApiError:
        return errors.ApiError(self.http_status, self.reason, self.message)


class Faults:
    """One-shot faults, consumed in the order they were queued, per method."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()

    def add(self, fault: Fault) -> None:
        if fault.in_operation and fault.method_id not in OPERATION_METHODS:
            raise ValueError(f"{fault.method_id} returns no operation; use in_operation=False")
        with self._lock:
            self._queue.append(fault)

    def take(self, method_id: str, *, in_operation: bool) -> Fault | None:
        with self._lock:
            for fault in self._queue:
                if fault.method_id == method_id and fault.in_operation == in_operation:
                    self._queue.remove(fault)
                    return fault
        return None


class RateLimiter:
    """Fails every Nth write with 403 rateLimitExceeded; N = 0 turns it off.

    A fixed pattern rather than a token bucket: tests can then say exactly which call is throttled.
    """

    def __init__(self, every: int = 0) -> None:
        self._lock = threading.Lock()
        self._every = every
        self._count = 0

    @property
    def every(self) -> int:
        return self._every

    @every.setter
    def every(self, value: int) -> None:
        if value < 0:
            raise ValueError("rate_limit_every must be >= 0")
        with self._lock:
            self._every, self._count = value, 0

    def check(self) -> None:
        with self._lock:
            self._count += 1
            throttled = self._every > 0 and self._count % self._every == 0
        if throttled:
            raise errors.rate_limited()
