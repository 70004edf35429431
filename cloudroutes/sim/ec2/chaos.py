"""Seeded random faults for the embedded EC2, and a tripwire on the Nth write. Thread-safe.

EC2's answers to the shared Chaos profile: RequestLimitExceeded (503) for a throttled call, read
or write (its buckets meter Describe* calls too), InternalError (500) for a server error (GetServiceQuota
too), and for a failed operation a write that lands, then answers 500: EC2 writes are synchronous,
so a lost answer is its "failed operation" (the caller cannot tell the write happened).

Never here: the deterministic faults (latency, the token buckets, read lag: sim.py, buckets.py,
lag.py) or HTTP.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from cloudroutes.sim.chaos import Chaos
from cloudroutes.sim.ec2.errors import Ec2Error


def throttled() -> Ec2Error:
    return Ec2Error("RequestLimitExceeded", "Request limit exceeded.", status=503)


def internal() -> Ec2Error:
    return Ec2Error("InternalError", "An internal error has occurred.", status=500)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chaos = Chaos()
        self._random = random.Random(0)
        self._writes = 0
        self._tripwire: tuple[int, Callable[[], None]] | None = None
        self._once: dict[str, list[Ec2Error]] = {}

    def fail_next(self, action: str, error: Ec2Error) -> None:
        """The next call of `action` (GetServiceQuota included) answers `error`, once."""
        with self._lock:
            self._once.setdefault(action, []).append(error)

    def set(self, chaos: Chaos) -> None:
        with self._lock:
            self._chaos, self._random = chaos, random.Random(chaos.seed)

    def trip_after(self, writes: int, action: Callable[[], None]) -> None:
        with self._lock:
            self._writes, self._tripwire = 0, (writes, action)

    def before(self, action: str, *, write: bool) -> Ec2Error | None:
        """The fault a call meets before EC2 acts on it, if any."""
        with self._lock:
            if self._once.get(action):
                return self._once[action].pop(0)
            chaos, draw = self._chaos, self._random.random
            if chaos.server_errors and draw() < chaos.server_errors:
                return internal()
            throttle = chaos.throttle_writes if write else chaos.throttle_reads
            if throttle and draw() < throttle:
                return throttled()
        return None

    def landed(self) -> Ec2Error | None:
        """A write succeeded: spring the tripwire when its count comes; maybe lose the answer."""
        with self._lock:
            self._writes += 1
            wire = self._tripwire
            if wire is not None and self._writes >= wire[0]:
                self._tripwire = None
            else:
                wire = None
            lost = bool(self._chaos.failed_operations) and self._random.random() < self._chaos.failed_operations
        if wire is not None:
            wire[1]()
        return internal() if lost else None
