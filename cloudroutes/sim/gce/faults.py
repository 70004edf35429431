"""Failures on demand: queued one-shot faults, seeded random faults (chaos) and a fixed-rate write
throttle. Thread-safe.

Compute's answers to the shared Chaos profile: 403 rateLimitExceeded for a throttled read or
write, 500 internalError for a server error, and for a failed operation a write accepted whose
operation ends DONE with a 503 backendError (the write has no effect)."""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from cloudroutes.sim.chaos import Chaos
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
    """One-shot faults, consumed in the order they were queued, per method; then chaos, if set."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._chaos = Chaos()
        self._random = random.Random(0)
        self._writes = 0
        self._tripwire: tuple[int, Callable[[], None]] | None = None

    def set_chaos(self, chaos: Chaos) -> None:
        with self._lock:
            self._chaos, self._random = chaos, random.Random(chaos.seed)

    def trip_after(self, writes: int, action: Callable[[], None]) -> None:
        """Call `action` once, when the `writes`-th accepted write from now on has landed (before its
        caller hears the answer): a client killed in the middle of its writes."""
        with self._lock:
            self._writes, self._tripwire = 0, (writes, action)

    def landed(self) -> None:
        """A write was accepted: spring the tripwire when its count comes."""
        with self._lock:
            self._writes += 1
            wire = self._tripwire
            if wire is None or self._writes < wire[0]:
                return
            self._tripwire = None
        wire[1]()

    def chaos(self, method_id: str, *, is_write: bool) -> errors.ApiError | None:
        """The random fault this HTTP call meets, if any."""
        with self._lock:
            chaos, draw = self._chaos, self._random.random
            if chaos.server_errors and draw() < chaos.server_errors:
                return errors.internal("Internal Error")
            throttle = chaos.throttle_writes if is_write else chaos.throttle_reads
            if throttle and draw() < throttle:
                return errors.rate_limited()
            failing = is_write and method_id in OPERATION_METHODS and chaos.failed_operations
            if failing and draw() < chaos.failed_operations:
                fault = Fault(
                    method_id=method_id,
                    http_status=503,
                    reason="backendError",
                    message="Backend Error",
                    in_operation=True,
                )
                self._queue.append(fault)
        return None

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
