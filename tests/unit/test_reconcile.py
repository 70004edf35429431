"""reconcile's pure parts: durations, the delay before the next pass, and what /healthz says."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudroutes import reconcile as schedule
from cloudroutes.cli.jsonlog import JsonFormatter
from cloudroutes.cli.serve import Health

intervals = st.floats(min_value=0.1, max_value=7200.0, allow_nan=False)
failures = st.integers(min_value=0, max_value=10_000)
shares = st.floats(min_value=0.0, max_value=schedule.JITTER)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60s", 60.0), ("5m", 300.0), ("1h", 3600.0), ("90", 90.0), ("2.5", 2.5), ("250ms", 0.25), (" 1H ", 3600.0)],
)
def test_durations_people_write(text: str, seconds: float) -> None:
    assert schedule.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5s", "0", "0s", "5 minutes", "1d", "1h30m", "nan"])
def test_what_is_no_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        schedule.parse_duration(text)


@given(interval=intervals, failed=failures, share=shares)
def test_a_wait_is_never_shorter_than_the_interval_nor_longer_than_the_jittered_cap(
    interval: float, failed: int, share: float
) -> None:
    delay = schedule.next_delay(interval, failed, lambda low, high: share)
    assert interval <= delay <= schedule.backoff_cap(interval) * (1 + schedule.JITTER)


@given(interval=intervals, failed=failures)
def test_backoff_grows_with_each_failure_until_the_cap(interval: float, failed: int) -> None:
    now, then = schedule.base_delay(interval, failed), schedule.base_delay(interval, failed + 1)
    assert then >= now
    assert then > now or now == schedule.backoff_cap(interval)


@given(interval=intervals)
def test_a_healthy_loop_passes_every_interval(interval: float) -> None:
    assert schedule.base_delay(interval, 0) == interval


@given(interval=intervals, failed=st.integers(min_value=7, max_value=10_000), share=shares)
def test_after_repeated_failures_passes_are_at_least_a_minute_apart(interval: float, failed: int, share: float) -> None:
    """Doubling from 0.1 s reaches a minute within 10 failures; from 1 s within 6."""
    if interval < 1:
        failed += 4
    delay = schedule.next_delay(interval, failed, lambda low, high: share)
    assert delay >= schedule.FAILING_FLOOR_S


@given(interval=st.floats(min_value=60.0, max_value=7200.0), failed=failures)
def test_a_long_interval_is_never_stretched(interval: float, failed: int) -> None:
    assert schedule.base_delay(interval, failed) == interval


def test_healthz_is_stale_after_three_intervals_without_a_converged_pass() -> None:
    now = [1000.0]
    health = Health(10.0, clock=lambda: now[0])
    assert health.check()[0], "a fresh start is healthy"
    now[0] += 29.9
    assert health.check()[0]
    now[0] += 0.2
    healthy, why = health.check()
    assert not healthy and "stale" in why
    health.succeeded()
    assert health.check()[0]


def test_a_json_log_line_carries_what_it_concerns() -> None:
    record = logging.LogRecord("cloudroutes", logging.WARNING, __file__, 1, "failed: %s", ("create",), None)
    record.__dict__.update(action="create", node="i-1", table="rtb-1", error_kind="", api_call=None)

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "failed: create" and line["level"] == "warning"
    assert line["time"].endswith("+00:00")
    assert {k: line[k] for k in ("action", "node", "table")} == {"action": "create", "node": "i-1", "table": "rtb-1"}
    assert "error_kind" not in line and "api_call" not in line, "empty fields are left out"
