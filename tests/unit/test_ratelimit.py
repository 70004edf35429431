"""The token bucket learns the account's real rate: AIMD on throttled answers, with a fake clock."""

from __future__ import annotations

import pytest

from cloudroutes.config import Limits
from cloudroutes.errors import Throttled
from cloudroutes.executor import Executor
from cloudroutes.model import Plan
from cloudroutes.ratelimit import DECREASE, MIN_SHARE, TokenBucket, WindowQuota
from tests.fakes import FakeProvider, node
from tests.unit.test_executor import Clock, creates, failing


def bucket(rate: float = 10.0, burst: int = 10) -> tuple[TokenBucket, Clock]:
    clock = Clock()
    return TokenBucket(burst=burst, rate=rate, clock=clock, sleep=clock.sleep), clock


def test_a_throttle_cuts_the_rate_and_spends_the_tokens_we_thought_we_had() -> None:
    limiter, clock = bucket()
    limiter.throttled()
    assert limiter.rate == pytest.approx(10.0 * DECREASE)
    limiter.take()
    assert clock.sleeps == [pytest.approx(1 / (10.0 * DECREASE))], "no token left: the next call waits 1/rate"


def test_calls_refused_together_cut_the_rate_once_a_second() -> None:
    limiter, clock = bucket()
    for _ in range(20):
        limiter.throttled()
    assert limiter.rate == pytest.approx(10.0 * DECREASE)
    clock.now += 1.0
    limiter.throttled()
    assert limiter.rate == pytest.approx(10.0 * DECREASE**2)


def test_the_rate_never_drops_below_its_floor() -> None:
    limiter, clock = bucket()
    for _ in range(50):
        limiter.throttled()
        clock.now += 1.0
    assert limiter.rate == pytest.approx(10.0 * MIN_SHARE)


def test_calls_that_go_through_win_the_rate_back_up_to_nominal_only() -> None:
    limiter, _ = bucket()
    limiter.throttled()
    for _ in range(10):
        limiter.relieved()
    assert 10.0 * DECREASE < limiter.rate < 10.0
    for _ in range(100):
        limiter.relieved()
    assert limiter.rate == 10.0


def test_the_executor_slows_a_family_down_when_the_cloud_throttles_it() -> None:
    clock = Clock()
    limiter = TokenBucket(burst=100, rate=10.0, clock=clock, sleep=clock.sleep)
    fake = FakeProvider(nodes=[node(f"n{i}") for i in range(3)], on_execute=failing(lambda: Throttled("slow"), times=1))
    executor = Executor(fake, Limits(max_attempts=4), bucket=limiter, sleep=clock.sleep, clock=clock)
    results = executor.run(Plan(actions=creates(1)))
    assert results[0].attempts == 2
    assert 10.0 * DECREASE <= limiter.rate < 10.0, "cut by the throttle, then one success won a step back"


# -- a quota per window (GCE's per-minute request quotas) ----------------------------------


def quota(limit: int = 5, window: float = 60.0) -> tuple[WindowQuota, Clock]:
    clock = Clock()
    return WindowQuota(limit=limit, window=window, clock=clock, sleep=clock.sleep), clock


def test_a_whole_windows_quota_goes_at_once_and_the_next_call_waits_for_the_window() -> None:
    limiter, clock = quota()
    assert [limiter.take() for _ in range(5)] == [0.0] * 5
    assert limiter.take() == pytest.approx(60.0)
    assert clock.now == pytest.approx(160.0)


def test_no_sliding_window_ever_holds_more_than_the_limit() -> None:
    limiter, clock = quota(limit=3, window=10.0)
    granted = []
    for step in range(20):
        limiter.take()
        granted.append(clock.now)
        clock.now += (step % 4) * 1.5
    for start in granted:
        assert sum(1 for t in granted if start <= t < start + 10.0) <= 3


def test_a_throttled_quota_shrinks_and_grows_back() -> None:
    limiter, _ = quota(limit=100)
    limiter.throttled()
    assert limiter.rate == pytest.approx(100 * DECREASE / 60)
    for _ in range(200):
        limiter.relieved()
    assert limiter.rate == pytest.approx(100 / 60)


def test_try_take_never_blocks_and_says_how_long_until_a_token() -> None:
    now = [0.0]
    bucket = TokenBucket(burst=2, rate=4.0, clock=lambda: now[0], sleep=_never)
    assert [bucket.try_take(), bucket.try_take()] == [0.0, 0.0]
    assert bucket.try_take() == pytest.approx(0.25)
    assert bucket.try_take() == pytest.approx(0.25), "asking takes nothing"
    now[0] = 0.25
    assert bucket.try_take() == 0.0


def test_window_try_take_grants_a_window_s_worth_then_names_when_the_oldest_expires() -> None:
    now = [0.0]
    quota = WindowQuota(limit=3, window=60.0, clock=lambda: now[0], sleep=_never)
    for moment in (0.0, 10.0, 20.0):
        now[0] = moment
        assert quota.try_take() == 0.0
    now[0] = 30.0
    assert quota.try_take() == pytest.approx(30.0)
    now[0] = 60.0
    assert quota.try_take() == 0.0


def _never(seconds: float) -> None:
    raise AssertionError(f"try_take slept {seconds} s")
