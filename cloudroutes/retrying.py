"""Retries by error kind, with the policy as data: the one way any cloud call is tried again.

Throttled and Transient errors back off (full jitter, capped) and try again, a bounded number of
times; everything else is final for the call. A Conflict is never retried here: it means the
snapshot is stale, and only a fresh observation and plan can answer it (the engine's job).
Reads (inside providers) and writes (in the executor) go through the same policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from cloudroutes.errors import RETRYABLE, Throttled
from cloudroutes.ratelimit import Limiter

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    attempts: int = 6
    """Tries per call on Throttled/Transient, the first one included."""
    backoff_max: float = 20.0
    """Longest single wait between tries, in seconds."""
    backoff_base: float = 0.5
    """The first wait's upper bound; each later one doubles it (jittered, capped at backoff_max)."""


def call(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    pace: Callable[[], object] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """Run `fn`, each try preceded by `pace()` (a token bucket's take: it blocks until the budget
    allows the call); retry what RETRYABLE names."""

    def attempt() -> T:
        if pace is not None:
            pace()
        return fn()

    def before_sleep(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if on_retry is not None and error is not None:
            on_retry(error)

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(RETRYABLE),
        stop=tenacity.stop_after_attempt(max(1, policy.attempts)),
        wait=tenacity.wait_random_exponential(multiplier=policy.backoff_base, max=policy.backoff_max),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(attempt)


def metered(fn: Callable[[], T], policy: RetryPolicy, bucket: Limiter) -> T:
    """`call`, each try paid from `bucket`, which learns from the answers: a throttle slows it
    down (the account's bucket is shared with others), a call that went through speeds it up."""

    def slowed(error: BaseException) -> None:
        if isinstance(error, Throttled):
            bucket.throttled()

    answer = call(fn, policy, pace=bucket.take, on_retry=slowed)
    bucket.relieved()
    return answer


def backoff(policy: RetryPolicy, attempt: int, uniform: Callable[[float, float], float]) -> float:
    """The wait before try `attempt + 1`, for callers that schedule retries themselves (the executor's
    settled operations): the same full-jitter curve tenacity draws from above."""
    ceiling = min(policy.backoff_max, policy.backoff_base * (2 ** max(0, attempt - 1)))
    return uniform(0.0, ceiling)
