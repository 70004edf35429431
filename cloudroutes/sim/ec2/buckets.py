"""EC2's throttling buckets: the mutating-call token bucket and the buckets EC2 meters apart.

So a benchmark can see what a client does at the real limit. Never here: the random throttle or
latency faults (sim.py), or the error answer (errors.py).
"""

from __future__ import annotations

import threading
import time

# EC2's own buckets, per account and region (burst, refill per second): route writes share the
# mutating bucket; CreateTags and ModifyNetworkInterfaceAttribute are metered on their own.
AWS_BUCKETS: dict[str, tuple[int, float]] = {
    "CreateTags": (100, 10.0),
    "DeleteTags": (100, 10.0),
    "ModifyNetworkInterfaceAttribute": (100, 5.0),
}


class Bucket:
    """A token bucket: `burst` tokens, refilled at `rate` per second."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = float(burst), rate
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class WriteBuckets:
    """Off until armed: then the mutating bucket, plus AWS-sized buckets for the actions EC2 meters apart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mutating: Bucket | None = None
        self._apart: dict[str, Bucket] = {}

    def arm(self, bucket: tuple[int, float] | None) -> None:
        with self._lock:
            self._mutating = Bucket(*bucket) if bucket else None
            self._apart = {action: Bucket(*size) for action, size in AWS_BUCKETS.items()} if bucket else {}

    def take(self, action: str) -> bool:
        """False when the action's bucket is empty (the call is throttled); True when off."""
        with self._lock:
            bucket = self._apart.get(action, self._mutating)
            return bucket is None or bucket.take()
