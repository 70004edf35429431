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
        self._nominal = rate
        self._cut_at = float("-inf")
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

    def try_take(self) -> float:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self._rate

    @property
    def rate(self) -> float:
        """The refill rate in force: the nominal one, or less after throttled answers."""
        return self._rate

    def throttled(self) -> None:
        """The cloud refused a call for its rate: cut ours (DECREASE), at most once a second (calls in flight
        are refused together; that is one signal, not twenty), never below a tenth of nominal.
        The tokens we thought we had are spent: the cloud just said there are none."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._tokens, 0.0)
            if now - self._cut_at >= 1.0:
                self._rate = max(self._nominal * MIN_SHARE, self._rate * DECREASE)
                self._cut_at = now

    def relieved(self) -> None:
        """A call went through: win back a small step of the nominal rate, up to nominal."""
        with self._lock:
            self._rate = min(self._nominal, self._rate + self._nominal * INCREASE)


class WindowQuota:
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
        self._nominal = float(limit)
        self._limit = float(limit)
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._granted: deque[float] = deque()
        self._cut_at = float("-inf")
        self._lock = threading.Lock()
        self.waited = 0.0

    @property
    def rate(self) -> float:
        return self._limit / self._window

    def take(self) -> float:
        """The call goes when fewer than `limit` calls were granted in the window before it;
        the moment is reserved under the lock and waited for outside it."""
        with self._lock:
            now = self._clock()
            while self._granted and self._granted[0] <= now - self._window:
                self._granted.popleft()
            limit = max(1, int(self._limit))
            at = now if len(self._granted) < limit else max(now, self._granted[-limit] + self._window)
            self._granted.append(at)
            debt = at - now
            self.waited += debt
        if debt > 0:
            self._sleep(debt)
        return debt

    def try_take(self) -> float:
        with self._lock:
            now = self._clock()
            while self._granted and self._granted[0] <= now - self._window:
                self._granted.popleft()
            limit = max(1, int(self._limit))
            at = now if len(self._granted) < limit else max(now, self._granted[-limit] + self._window)
            at = max(at, self._granted[-1] if self._granted else at)  # behind moments `take` reserved
            if at <= now:
                self._granted.append(now)
                return 0.0
            return at - now

    def throttled(self) -> None:
        with self._lock:
            now = self._clock()
            if now - self._cut_at >= 1.0:
                self._limit = max(self._nominal * MIN_SHARE, self._limit * DECREASE)
                self._cut_at = now

    def relieved(self) -> None:
        with self._lock:
            self._limit = min(self._nominal, self._limit + self._nominal * INCREASE)


DECREASE = 0.7
"""Multiplicative decrease on a throttle: CUBIC's 0.7 (RFC 8312 §4.5) rather than Reno's halving, since
one refusal is often a clock's jitter against the cloud's bucket, not a neighbour draining it."""
INCREASE = 0.02
"""Additive increase per call that went through, as a share of the nominal rate (50 calls from a
tenth of it back to full)."""
MIN_SHARE = 0.1
"""The rate never drops below this share of nominal: progress continues, slowly."""
