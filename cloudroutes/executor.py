"""Runs a plan against a provider: phases in order, bounded concurrency, a write budget, retries.

The executor never edits a plan. A failed action becomes a result row, not an abort (the
route controller's lesson), but the failure is returned with its kind so the caller can
tell a throttle from a conflict from a quota wall. Retries follow the error kind:
Throttled/Transient back off and try again; a Conflict is never retried here, it means the
snapshot is stale and the engine must observe and plan again.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import tenacity

from cloudroutes.config import Limits
from cloudroutes.errors import RETRYABLE, CloudError, Conflict, NotFound
from cloudroutes.model import WRITE_ORDER, Action, ActionKind, ActionResult, NodeName, Outcome, Plan
from cloudroutes.providers.base import Provider
from cloudroutes.ratelimit import TokenBucket

log = logging.getLogger("cloudroutes")

Progress = Callable[[ActionResult], None]


@dataclass(slots=True)
class Tally:
    """What an apply cost, beyond its results: the numbers a report shows."""

    retries: Counter[str] = field(default_factory=Counter)
    """Retried attempts, by error kind (throttled, transient)."""
    bucket_wait_s: float = 0.0


class Executor:
    def __init__(
        self,
        provider: Provider,
        limits: Limits,
        *,
        bucket: TokenBucket | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._provider = provider
        self._limits = limits
        burst, rate = limits.write_burst or 50, limits.write_rate or 5.0  # None: AWS's mutating bucket
        self._bucket = bucket or TokenBucket(burst=burst, rate=rate, sleep=sleep)
        # A cloud may meter some writes in buckets of their own (EC2: CreateTags 100/10 per second,
        # ModifyNetworkInterfaceAttribute 100/5): spending the route bucket on them would halve
        # the pace of route writes for nothing. The provider names them; the rest share one bucket.
        budgets: Mapping[ActionKind, tuple[int, float]] = getattr(provider, "write_budgets", {})
        self._buckets = (
            {kind: TokenBucket(burst=burst, rate=rate, sleep=sleep) for kind, (burst, rate) in budgets.items()}
            if bucket is None
            else {}
        )  # a bucket given by a caller (a test's fake clock) meters everything
        self._sleep = sleep
        self.tally = Tally()

    def run(self, plan: Plan, progress: Progress | None = None) -> tuple[ActionResult, ...]:
        results: list[ActionResult] = []
        failed_nodes: set[NodeName] = set()
        with ThreadPoolExecutor(max_workers=max(1, self._limits.concurrency)) as pool:
            for kind in WRITE_ORDER:
                phase = [a for a in plan.actions if a.kind is kind]
                runnable = [a for a in phase if not _depends_on_failure(a, failed_nodes)]
                skipped = [_skipped(a) for a in phase if a not in runnable]
                # Lazily: pool.map yields results in order as they finish, so progress moves per action.
                for result in itertools.chain(skipped, pool.map(self._one, runnable)):
                    results.append(result)
                    if result.outcome is not Outcome.DONE and kind is ActionKind.CLAIM and result.action.node:
                        failed_nodes.add(result.action.node)
                    if progress:
                        progress(result)
        self.tally.bucket_wait_s = self._bucket.waited + sum(b.waited for b in self._buckets.values())
        return tuple(results)

    def _one(self, action: Action) -> ActionResult:
        started = time.monotonic()
        attempts = 0

        def attempt() -> None:
            nonlocal attempts
            attempts += 1
            self._buckets.get(action.kind, self._bucket).take()
            self._provider.execute(action)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(RETRYABLE),
            stop=tenacity.stop_after_attempt(self._limits.max_attempts),
            wait=tenacity.wait_random_exponential(multiplier=0.5, max=self._limits.backoff_max),
            sleep=self._sleep,
            before_sleep=self._count_retry,
            reraise=True,
        )
        try:
            retrying(attempt)
            outcome, kind, message = Outcome.DONE, "", ""
        except NotFound as exc:
            # Deleting what is already gone is the goal reached (InvalidRoute.NotFound, GCE 404).
            done = action.kind in (ActionKind.DELETE, ActionKind.UNCLAIM)
            outcome, kind, message = (Outcome.DONE, "", "") if done else (Outcome.FAILED, exc.kind, exc.message)
        except Conflict as exc:
            outcome, kind, message = Outcome.CONFLICT, exc.kind, exc.message
        except CloudError as exc:
            outcome, kind, message = Outcome.FAILED, exc.kind, exc.message
        elapsed = time.monotonic() - started
        _log(action, outcome, message, attempts, elapsed)
        return ActionResult(
            action=action, outcome=outcome, error_kind=kind, error=message, attempts=attempts, elapsed_s=elapsed
        )

    def _count_retry(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        self.tally.retries[getattr(error, "kind", "error")] += 1


def _depends_on_failure(action: Action, failed_nodes: set[NodeName]) -> bool:
    """A node whose claim failed gets no route: the VM's ledger must never trail the route table."""
    return action.node in failed_nodes and action.kind in (ActionKind.CREATE, ActionKind.REPLACE)


def _skipped(action: Action) -> ActionResult:
    return ActionResult(
        action=action, outcome=Outcome.SKIPPED, error="its node's subnet could not be recorded", attempts=0
    )


def _log(action: Action, outcome: Outcome, message: str, attempts: int, elapsed: float) -> None:
    level = logging.INFO if outcome is Outcome.DONE else logging.WARNING
    extra = f": {message}" if message else ""
    log.log(level, "%s: %s (%d attempt(s), %.2fs)%s", outcome, action.describe(), attempts, elapsed, extra)
