"""A token bucket for mutating calls, shaped like the cloud's own (AWS EC2: 50 burst, 5/s refill).

Spending client-side what the server would otherwise refuse keeps a big converge at the
cloud's write floor instead of in a RequestLimitExceeded storm that also starves every other
tool in the account.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        *,
        burst: int,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if burst < 1 or rate <= 0:
            raise ValueError("a token bucket needs burst >= 1 and rate > 0")
        self._burst = float(burst)
        self._rate = rate
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()
        self.waited = 0.0
        """Seconds callers spent waiting for tokens: the price of staying under the cloud's limit."""

    def take(self) -> float:
        """Block until one token is ours, and say how long that took. Tokens are reserved under the
        lock, waited for outside it, so callers arriving together queue up instead of all waking at once."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            self._tokens -= 1
            debt = -self._tokens / self._rate if self._tokens < 0 else 0.0
            self.waited += debt
        if debt > 0:
            self._sleep(debt)
        return debt
