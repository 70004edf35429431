"""When the next reconcile pass runs: the interval, backoff while passes fail, jitter. Pure, no I/O.

A healthy loop passes every `interval`. While passes fail the wait doubles from the interval on,
up to a cap of at least a minute (`FAILING_FLOOR_S`), so a broken account (a refused permission,
an outage) sees at most one pass a minute however short the interval. An interval longer than a
minute is never stretched: backing off past it would only delay the repair. Jitter only ever
lengthens a wait (up to `JITTER` of it): replicas and cron-started siblings drift apart, and the
cap stays a floor on the gap between failing passes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

FAILING_FLOOR_S = 60.0
"""After repeated failures, passes are at least this far apart."""
JITTER = 0.1
"""A wait grows by up to this share of itself, at random."""

_DURATION = re.compile(r"(?P<number>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>ms|s|m|h)?")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """`60s`, `5m`, `1h`, `250ms`, or plain seconds (`90`, `2.5`) -> seconds. Raises ValueError."""
    found = _DURATION.fullmatch(text.strip().lower())
    if not found:
        raise ValueError(f"not a duration: {text!r} (e.g. 60s, 5m, 1h, or seconds)")
    seconds = float(found["number"]) * _UNIT_S[found["unit"]]
    if seconds <= 0:
        raise ValueError(f"a duration must be above 0 (got {text!r})")
    return seconds


def backoff_cap(interval: float) -> float:
    """The longest wait between passes while they fail."""
    return max(interval, FAILING_FLOOR_S)


def base_delay(interval: float, failures: int) -> float:
    """The wait before the next pass, before jitter, after `failures` failed passes in a row."""
    if failures <= 0:
        return interval
    cap = backoff_cap(interval)
    # Doubling past the cap only risks an overflow: stop at the exponent that already reaches it.
    exponent = min(failures, 64)
    return min(cap, interval * 2.0**exponent)


def next_delay(interval: float, failures: int, uniform: Callable[[float, float], float]) -> float:
    """`base_delay` stretched by a random share of up to JITTER (`uniform` is random.uniform)."""
    base = base_delay(interval, failures)
    return base * (1.0 + uniform(0.0, JITTER))
