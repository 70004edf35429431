"""Client-side limits shaped like the cloud's own: a token bucket (AWS EC2: 50 burst, 5/s refill)
or a quota per window (GCE: so many calls a minute, refilled at the start of the next minute).

Spending client-side what the server would otherwise refuse keeps a big converge at the
cloud's write floor instead of in a RequestLimitExceeded storm that also starves every other
tool in the account.

The cloud's bucket is shared with every other client of the account, so ours cannot know how
much of it is left: it learns. A throttled answer cuts our rate to 70% (additive increase,
multiplicative decrease, as TCP does with a shared link); every call that goes through wins a
little of it back, up to the rate the cloud documents. When a neighbour drains the account's
bucket we back off instead of hammering it, and recover once the neighbour stops.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol


class Limiter(Protocol):
    waited: float

    @property
    def rate(self) -> float: ...

    def take(self) -> float:
        """Block until a call may go; return the seconds that took."""
        ...

    def try_take(self) -> float:
        """Take a call's allowance if one is free now and return 0; otherwise take nothing and
        return the seconds until one will be (a dispatcher with other work does not block)."""
        ...

    def throttled(self) -> None: ...

    def relieved(self) -> None: ...


class _Learning:
    """What both limiters share: the share of the cloud's documented rate in force, cut on a
    throttle (DECREASE, at most once a second: calls in flight are refused together, one signal not
    twenty; never below MIN_SHARE), won back a step per call that went through (INCREASE)."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._clock = clock
        self._sleep = sleep
        self._share = 1.0
        self._cut_at = float("-inf")
        self._lock = threading.Lock()
        self.waited = 0.0
        """Seconds callers spent waiting: the price of staying under the cloud's limit."""

    def throttled(self) -> None:
        with self._lock:
            now = self._clock()
            self._spent_all()
            if now - self._cut_at >= 1.0:
                self._share = max(MIN_SHARE, self._share * DECREASE)
                self._cut_at = now

    def relieved(self) -> None:
        with self._lock:
            self._share = min(1.0, self._share + INCREASE)

    def _spent_all(self) -> None:
        """A throttle's news about what is left (under the lock); nothing by default."""

    def _wait(self, debt: float) -> float:
        """Sleep off a reservation made under the lock (outside it, so callers queue instead of all
        waking at once)."""
        if debt > 0:
            self._sleep(debt)
        return debt


class TokenBucket(_Learning):
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
        super().__init__(clock, sleep)
        self._burst = float(burst)
        self._nominal = rate
        self._tokens = float(burst)
        self._stamp = clock()

    @property
    def rate(self) -> float:
        """The refill rate in force: the nominal one, or less after throttled answers."""
        return self._nominal * self._share

    def take(self) -> float:
        """Block until one token is ours, and say how long that took."""
        with self._lock:
            self._refill()
            self._tokens -= 1
            debt = -self._tokens / self.rate if self._tokens < 0 else 0.0
            self.waited += debt
        return self._wait(debt)

    def try_take(self) -> float:
        with self._lock:
            self._refill()
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def _spent_all(self) -> None:
        self._tokens = min(self._tokens, 0.0)  # the cloud just said there are none


class WindowQuota(_Learning):
    """At most `limit` calls in any `window` seconds: GCE counts requests per minute and refills the
    quota at the start of the next one (https://cloud.google.com/compute/api-quota). Not knowing
    where the cloud's minutes start, we keep the stricter rule, any sliding window, which implies
    theirs; unlike a token bucket of the same yearly rate it lets a converge spend a whole minute's
    quota at once. Learns like the bucket: a throttle cuts the limit, a success wins some back."""

    def __init__(
        self,
        *,
        limit: int,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a window quota needs limit >= 1 and window > 0")
        super().__init__(clock, sleep)
        self._nominal = float(limit)
        self._window = window
        self._granted: deque[float] = deque()

    @property
    def rate(self) -> float:
        return self._nominal * self._share / self._window

    def take(self) -> float:
        """The call goes when fewer than `limit` calls were granted in the window before it."""
        with self._lock:
            now = self._clock()
            at = self._next_slot(now)
            self._granted.append(at)
            debt = at - now
            self.waited += debt
        return self._wait(debt)

    def try_take(self) -> float:
        with self._lock:
            now = self._clock()
            at = self._next_slot(now)
            if at > now:
                return at - now
            self._granted.append(now)
            return 0.0

    def _next_slot(self, now: float) -> float:
        """The first moment a call may go, after every moment already granted (`take` reserves ahead)."""
        while self._granted and self._granted[0] <= now - self._window:
            self._granted.popleft()
        limit = max(1, int(self._nominal * self._share))
        at = now if len(self._granted) < limit else max(now, self._granted[-limit] + self._window)
        return max(at, self._granted[-1]) if self._granted else at


DECREASE = 0.7
"""Multiplicative decrease on a throttle: CUBIC's 0.7 (RFC 8312 §4.5) rather than Reno's halving, since
one refusal is often a clock's jitter against the cloud's bucket, not a neighbour draining it."""
INCREASE = 0.01
"""Additive increase per call that went through, as a share of the nominal rate (90 calls from a
tenth of it back to full). Measured with a neighbour spending half of EC2's mutating refill
(tests/bench/aws.py, 200 nodes): at 0.02 we probed back into its bucket often enough for 5.9% of
our calls to be refused, at 0.01 4.5%, converging as fast (119 s); alone, the run is as fast either way."""
MIN_SHARE = 0.1
"""The rate never drops below this share of nominal: progress continues, slowly."""
