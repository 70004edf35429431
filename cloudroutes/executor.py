"""Runs a plan against a provider: every action as soon as what it waits for has landed, under budgets.

The executor never edits a plan. `schedule.steps` says what each action waits for (per node and
per destination, never a phase across the cluster), so each write family drains its own bucket
in parallel: on AWS, tags, interface flags and routes are metered apart; on GCE a node's route
goes as soon as its label write is accepted (why that is safe: schedule.py's docstring).

Two bounds, kept apart. `limits.concurrency` bounds calls in flight (the HTTP worker pool);
`limits.max_in_flight` bounds writes the cloud is still carrying out (GCE operations), which
hold no worker: the provider's `settle` learns in batches which of them ended.

A failed action becomes a result row, not an abort (the route controller's lesson), but the
failure is returned with its kind so the caller can tell a throttle from a conflict from a
quota wall. Retries follow the error kind (cloudroutes.retrying): Throttled and Transient back
off and try again, also when a GCE operation ends with them; a Conflict is never retried here,
it means the snapshot is stale and the engine must observe and plan again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from cloudroutes import retrying, schedule
from cloudroutes.config import Limits
from cloudroutes.errors import RETRYABLE, CloudError, Conflict, NotFound, Throttled
from cloudroutes.model import Action, ActionKind, ActionResult, Outcome, Plan
from cloudroutes.providers.base import Pending, Provider, Settled
from cloudroutes.ratelimit import Limiter

log = logging.getLogger("cloudroutes")

Progress = Callable[[ActionResult], None]
STOPPED = "stopped before it started"


class _Stopped(Exception):
    """An action reached a worker after the stop: it is reported skipped, never started."""


POLL_MIN_S = 0.05
POLL_MAX_S = 1.0
"""Operations are asked about again after a quarter of the oldest one's age, within these bounds:
a fast operation is learned quickly, a slow batch costs one list call a second at most."""


@dataclass(slots=True)
class Tally:
    """What an apply cost, beyond its results: the numbers a report shows."""

    retries: Counter[str] = field(default_factory=Counter)
    """Retried attempts, by error kind (throttled, transient)."""
    waits: list[tuple[float, float]] = field(default_factory=list)
    """(start, end) of every wait for a write token, from any worker."""

    @property
    def bucket_wait_s(self) -> float:
        """Wall time during which at least one write waited for its budget (not the sum over workers)."""
        total, reach = 0.0, float("-inf")
        for start, end in sorted(self.waits):
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return total


class Executor:
    def __init__(
        self,
        provider: Provider,
        limits: Limits,
        *,
        bucket: Limiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        stop: threading.Event | None = None,
    ) -> None:
        """`bucket`: one bucket for every write (a test's fake clock); by default one per family the
        provider declares, overridden for route writes by limits.write_burst/write_rate.
        `stop`: once set, no new action starts; those started (and GCE operations in flight) are
        seen through, the rest are reported skipped (a SIGTERM to `reconcile`)."""
        self._stop = stop or threading.Event()
        self._provider = provider
        self._limits = limits
        self._policy = retrying.RetryPolicy(attempts=limits.max_attempts, backoff_max=limits.backoff_max)
        self._sleep = sleep
        self._clock = clock
        self._order = provider.capabilities.node_write_order
        self._buckets = _buckets(provider, sleep, clock) if bucket is None else {kind: bucket for kind in ActionKind}
        self._lock = threading.Lock()
        self.tally = Tally()

    def run(self, plan: Plan, progress: Progress | None = None) -> tuple[ActionResult, ...]:
        return _Run(self, schedule.steps(plan.actions, self._order), progress).go()

    # -- calls made from the worker pool ---------------------------------------------------

    def start(self, action: Action, delay: float, attempts: Counter[Action], *, paid: bool) -> Pending | None:
        """Execute one action, retrying Throttled/Transient in place, each try paid from its budget
        (`paid`: the dispatcher already took the first try's token, so the worker never waited for it)."""
        if delay:
            self._sleep(delay)
        unpaid = [not paid]

        def attempt() -> Pending | None:
            if self.stopping:  # queued (or about to retry) when the stop came: not started
                raise _Stopped
            with self._lock:
                attempts[action] += 1
            return self._provider.execute(action)

        bucket = self._buckets[action.kind]

        def on_retry(error: BaseException) -> None:
            self.count_retry(error)
            if isinstance(error, Throttled):
                bucket.throttled()

        def pace() -> None:
            if unpaid[0]:
                self._pay(bucket)
            unpaid[0] = True

        pending = retrying.call(attempt, self._policy, pace=pace, sleep=self._sleep, on_retry=on_retry)
        bucket.relieved()
        return pending

    def settle(self, pending: list[Pending]) -> list[Settled]:
        return list(self._provider.settle(pending))

    def _pay(self, bucket: Limiter) -> None:
        began = self._clock()
        waited = bucket.take()
        if waited > 0:
            self.note_wait(began, began + waited)

    def note_wait(self, began: float, ended: float) -> None:
        with self._lock:
            self.tally.waits.append((began, ended))

    def bucket(self, kind: ActionKind) -> Limiter:
        return self._buckets[kind]

    def note_retry(self, action: Action, error: BaseException) -> None:
        """An operation ended with a retryable error: count it, and slow its family down if throttled."""
        self.count_retry(error)
        if isinstance(error, Throttled):
            self._buckets[action.kind].throttled()

    def count_retry(self, error: BaseException) -> None:
        with self._lock:
            self.tally.retries[getattr(error, "kind", "error")] += 1

    # -- what the run loop needs to know ---------------------------------------------------

    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def policy(self) -> retrying.RetryPolicy:
        return self._policy

    def now(self) -> float:
        return self._clock()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)


def _buckets(
    provider: Provider, sleep: Callable[[float], None], clock: Callable[[], float]
) -> dict[ActionKind, Limiter]:
    """One limiter per family the provider declares: writes the cloud meters together share one.
    A kind the provider leaves out is never written by it; the first family stands in for safety."""
    budgets = provider.capabilities.write_budgets
    families: dict[str, Limiter] = {}
    for budget in budgets.values():
        families.setdefault(budget.family, budget.limiter(clock=clock, sleep=sleep))
    first = next(iter(families.values()))
    return {kind: families[budgets[kind].family] if kind in budgets else first for kind in ActionKind}


class _Run:
    """One run of one plan: the steps' states, the futures in the pool, the operations in flight."""

    def __init__(self, executor: Executor, steps: tuple[schedule.Step, ...], progress: Progress | None) -> None:
        self.ex = executor
        self.steps = steps
        self.progress = progress
        self.waiting = set(range(len(steps)))
        self.landed: set[int] = set()
        self.results: dict[int, ActionResult] = {}
        self.order: list[int] = []
        self.pending: dict[str, tuple[int, Pending]] = {}
        self.attempts: Counter[Action] = Counter()
        self.began: dict[int, float] = {}
        self.delays: dict[int, float] = {}
        """Backoff before a step is started again (its operation ended with a retryable error)."""
        self.futures: dict[Future[Any], tuple[str, int]] = {}
        self.settling = False
        self.next_poll = 0.0
        self.short_of_tokens: dict[int, float] = {}
        """Ready steps whose family's budget is spent, and since when: they hold no worker meanwhile."""
        self.next_token: float | None = None
        self.unlearnable: CloudError | None = None
        """Why asking about operations cannot help (a refused poll): later writes fail with it at once."""

    def go(self) -> tuple[ActionResult, ...]:
        workers = max(1, self.ex.limits.concurrency)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cloudroutes") as pool:
            while len(self.results) < len(self.steps):
                self._dispatch(pool)
                self._poll(pool)
                if not self.futures:
                    if self.short_of_tokens and not self.pending and not self.ex.stopping:
                        # Nothing else to do: the first of them waits for its token in a worker.
                        self._submit(pool, min(self.short_of_tokens), paid=False)
                        continue
                    if not self.pending:
                        break  # nothing can move: what is left waits on something that never ran
                    self.ex.pause(self._timeout() or 0.0)  # until the operations are asked about again
                    continue
                done, _ = wait(list(self.futures), timeout=self._timeout(), return_when=FIRST_COMPLETED)
                for future in done:
                    what, index = self.futures.pop(future)
                    if what == "start":
                        self._started(index, future)
                    else:
                        self.settling = False
                        self._settled(future)
        # Unreachable in a well-formed plan unless asked to stop; never silently dropped.
        why = STOPPED if self.ex.stopping else "what it waits for never ran"
        for index in sorted(self.waiting):
            self._finish(index, Outcome.SKIPPED, error=why)
        return tuple(self.results[i] for i in self.order)

    # -- dispatch ---------------------------------------------------------------------------

    def _dispatch(self, pool: ThreadPoolExecutor) -> None:
        """Start every ready step whose family has a token now. A step short of one waits here, not
        in a worker: a worker asleep on one family's bucket would starve the families metered apart
        (measured: 200 AWS nodes took 1.47x the floor while workers slept on interface-flag tokens
        and the route bucket sat full)."""
        spent: dict[int, float] = {}  # id(limiter) -> seconds until it has a token again
        now = self.ex.now()
        if self.ex.stopping:
            return  # asked to stop: nothing new starts; what is in flight is still seen through
        for index in sorted(self.waiting):
            ready = self._ready(self.steps[index])
            if ready is None:
                self.waiting.discard(index)
                self.short_of_tokens.pop(index, None)
                self._finish(index, Outcome.SKIPPED, error=_why_skipped(self.steps[index].action))
            elif ready:
                starting = sum(1 for what, _ in self.futures.values() if what == "start")
                if len(self.pending) + starting >= self.ex.limits.max_in_flight:
                    break  # the cloud is carrying out as many writes as we allow: wait for some to end
                bucket = self.ex.bucket(self.steps[index].action.kind)
                wait = spent.get(id(bucket))
                if wait is None:
                    wait = bucket.try_take()
                if wait > 0:
                    spent[id(bucket)] = wait
                    self.short_of_tokens.setdefault(index, now)
                    continue
                self._submit(pool, index, paid=True)
        self.next_token = now + min(spent.values()) if spent else None

    def _submit(self, pool: ThreadPoolExecutor, index: int, *, paid: bool) -> None:
        self.waiting.discard(index)
        now = self.ex.now()
        since = self.short_of_tokens.pop(index, None)
        if since is not None and paid:
            self.ex.note_wait(since, now)
        self.began.setdefault(index, since if since is not None else now)
        action = self.steps[index].action
        future = pool.submit(self.ex.start, action, self.delays.pop(index, 0.0), self.attempts, paid=paid)
        self.futures[future] = ("start", index)

    def _ready(self, step: schedule.Step) -> bool | None:
        """True: it may go; False: not yet; None: never, something it needed failed."""
        for index in (*step.after_landed, *step.after_done):
            if index in self.results and self.results[index].outcome is not Outcome.DONE:
                return None
        if not all(i in self.results or i in self.landed for i in step.after_landed):
            return False
        return all(i in self.results for i in (*step.after_finished, *step.after_done))

    def _started(self, index: int, future: Future[Any]) -> None:
        try:
            pending: Pending | None = future.result()
        except _Stopped:
            self._finish(index, Outcome.SKIPPED, error=STOPPED)
            return
        except CloudError as exc:
            self._failed(index, exc)
            return
        if pending is None:
            self._finish(index, Outcome.DONE)
        elif self.unlearnable is not None:
            self._failed(index, self.unlearnable)  # its outcome could only be learned by asking again
        else:
            self.landed.add(index)
            self.pending[pending.handle] = (index, pending)

    # -- operations in flight ---------------------------------------------------------------

    def _poll(self, pool: ThreadPoolExecutor) -> None:
        if not self.pending or self.settling or self.ex.now() < self.next_poll:
            return
        batch = [p for _, p in self.pending.values()]
        self.settling = True
        self.futures[pool.submit(self.ex.settle, batch)] = ("settle", -1)

    def _timeout(self) -> float | None:
        """Until the next poll of the operations in flight, or the next token a waiting step needs."""
        polls = None if not self.pending or self.settling else self.next_poll
        due = [t for t in (self.next_token, polls) if t is not None]
        return max(0.0, min(due) - self.ex.now()) if due else None

    def _settled(self, future: Future[Any]) -> None:
        oldest = min((self.began[i] for i, _ in self.pending.values()), default=self.ex.now())
        age = self.ex.now() - oldest
        self.next_poll = self.ex.now() + min(POLL_MAX_S, max(POLL_MIN_S, age / 4))
        try:
            answers: list[Settled] = future.result()
        except CloudError as exc:
            if isinstance(exc, RETRYABLE):
                log.warning("could not learn the state of %d write(s) in flight: %s", len(self.pending), exc.message)
                return  # asked again at the next poll: the writes themselves did not fail
            # Asking again cannot help (a refused permission, a malformed request): each write in
            # flight is reported with the reason its outcome cannot be learned, instead of polling forever.
            self.unlearnable = exc
            for index, _ in list(self.pending.values()):
                self._failed(index, exc)
            self.pending.clear()
            return
        for answer in answers:
            index, _ = self.pending.pop(answer.pending.handle, (-1, answer.pending))
            if index < 0:
                continue
            if answer.next is not None:
                self.pending[answer.next.handle] = (index, answer.next)
            elif answer.error is None:
                self._finish(index, Outcome.DONE)
            elif isinstance(answer.error, RETRYABLE) and self.attempts[answer.pending.action] < self.ex.policy.attempts:
                self.ex.note_retry(answer.pending.action, answer.error)
                attempt = self.attempts[answer.pending.action]
                delay = retrying.backoff(self.ex.policy, attempt, random.uniform)
                self._resubmit(index, delay)
            else:
                self._failed(index, answer.error)

    def _resubmit(self, index: int, delay: float) -> None:
        """The write ended with a retryable error inside its operation: start the action over."""
        self.waiting.add(index)
        self.landed.discard(index)
        self.delays[index] = delay

    # -- outcomes ---------------------------------------------------------------------------

    def _failed(self, index: int, exc: CloudError) -> None:
        action = self.steps[index].action
        if isinstance(exc, NotFound) and action.kind in (ActionKind.DELETE, ActionKind.UNCLAIM):
            self._finish(index, Outcome.DONE)  # deleting what is already gone is the goal reached
        elif isinstance(exc, Conflict):
            self._finish(index, Outcome.CONFLICT, kind=exc.kind, error=exc.message)
        else:
            self._finish(index, Outcome.FAILED, kind=exc.kind, error=exc.message)

    def _finish(self, index: int, outcome: Outcome, *, kind: str = "", error: str = "") -> None:
        action = self.steps[index].action
        elapsed = self.ex.now() - self.began.get(index, self.ex.now())
        attempts = self.attempts[action]
        result = ActionResult(
            action=action, outcome=outcome, error_kind=kind, error=error, attempts=attempts, elapsed_s=elapsed
        )
        self.results[index] = result
        self.order.append(index)
        _log(result)
        if self.progress:
            self.progress(result)


def _why_skipped(action: Action) -> str:
    if action.kind is ActionKind.MARK_ROUTED:
        return "a route write for its node did not succeed"
    return "its node's subnet could not be recorded"


def _log(result: ActionResult) -> None:
    level = logging.INFO if result.outcome is Outcome.DONE else logging.WARNING
    extra = f": {result.error}" if result.error else ""
    action = result.action
    # For --log-format json: what the line concerns, as fields a log pipeline can filter on.
    fields = {
        "action": str(action.kind),
        "node": action.node or "",
        "table": action.table or "",
        "destination": str(action.destination or ""),
        "outcome": str(result.outcome),
        "error_kind": result.error_kind,
        "attempts": result.attempts,
    }
    log.log(
        level,
        "%s: %s (%d attempt(s), %.2fs)%s",
        result.outcome,
        action.describe(),
        result.attempts,
        result.elapsed_s,
        extra,
        extra=fields,
    )
