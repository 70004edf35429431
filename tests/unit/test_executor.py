"""executor and token bucket: order per node, retries by error kind, budgets, operations; no real sleeping."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from ipaddress import ip_network

import pytest

from cloudroutes.config import Limits
from cloudroutes.errors import CloudError, Conflict, Denied, Invalid, QuotaExceeded, Throttled, Transient
from cloudroutes.executor import Executor
from cloudroutes.model import (
    ACTION_ORDER,
    NODE_OBJECT_KINDS,
    Action,
    ActionKind,
    ActionResult,
    NodeName,
    Outcome,
    Plan,
    TableKey,
)
from cloudroutes.providers.base import Budget, Pending, Settled
from cloudroutes.ratelimit import DECREASE, TokenBucket
from tests.fakes import FakeProvider, node, route

A0, A1, A2, A3 = (ip_network(f"10.244.{i}.0/24") for i in range(4))


class Clock:
    """A fake monotonic clock; sleeping advances it (and is recorded) instead of blocking."""

    def __init__(self, *, frozen: bool = False) -> None:
        self.now = 100.0
        self.frozen = frozen
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if not self.frozen:
                self.now += seconds


def make_executor(
    fake: FakeProvider, *, max_attempts: int = 4, concurrency: int = 4, burst: int = 1000, rate: float = 1000.0
) -> tuple[Executor, Clock]:
    clock = Clock()
    limits = Limits(max_attempts=max_attempts, concurrency=concurrency, backoff_max=5.0)
    bucket = TokenBucket(burst=burst, rate=rate, clock=clock, sleep=clock.sleep)
    return Executor(fake, limits, bucket=bucket, sleep=clock.sleep, clock=clock), clock


def create(dest: object, who: str, table: str = "rt-a") -> Action:
    return Action(kind=ActionKind.CREATE, table=TableKey(table), destination=dest, node=NodeName(who))  # type: ignore[arg-type]


def failing(
    error: Callable[[], CloudError], *, times: int | None = None, when: Callable[[Action], bool] = lambda a: True
):
    """An on_execute hook: raise `error()` for matching actions, the first `times` times (None: always)."""
    count = Counter[str]()
    lock = threading.Lock()

    def hook(action: Action) -> None:
        if not when(action):
            return
        with lock:
            count["hits"] += 1
            hit = times is None or count["hits"] <= times
        if hit:
            raise error()

    return hook


def by_action(results: tuple[ActionResult, ...]) -> dict[tuple[ActionKind, str | None, object], ActionResult]:
    return {(r.action.kind, r.action.node, r.action.destination): r for r in results}


# -- phases --------------------------------------------------------------------------------


def test_every_action_runs_once_and_the_end_state_is_the_plan() -> None:
    fake = FakeProvider(
        nodes=[node("a", recorded=[A0], forwarding=False), node("b"), node("c", recorded=[A3])],
        tables={"rt-a": [route("rt-a", A0, "a", exact=False), route("rt-a", A2, None)]},
    )
    actions = (
        Action(kind=ActionKind.UNCLAIM, node=NodeName("c")),
        create(A1, "b"),
        Action(kind=ActionKind.REPLACE, table=TableKey("rt-a"), destination=A0, node=NodeName("a")),
        Action(kind=ActionKind.DELETE, table=TableKey("rt-a"), destination=A2),
        Action(kind=ActionKind.ENABLE_FORWARDING, node=NodeName("a")),
        Action(kind=ActionKind.CLAIM, node=NodeName("b"), subnets=(A1,)),
    )
    ex, _ = make_executor(fake)
    results = ex.run(Plan(actions=actions))
    assert sorted(a.kind for a in fake.calls) == sorted(k for k in ACTION_ORDER if k not in NODE_OBJECT_KINDS)
    assert all(r.outcome is Outcome.DONE and r.attempts == 1 for r in results)
    assert fake.table("rt-a") == {A0: "a", A1: "b"}
    assert fake.nodes[NodeName("c")].recorded == ()
    kinds = [a.kind for a in fake.calls]
    assert kinds.index(ActionKind.CLAIM) < kinds.index(ActionKind.CREATE), "b's claim lands before b's route"
    assert kinds.index(ActionKind.UNCLAIM) > max(kinds.index(ActionKind.DELETE), kinds.index(ActionKind.REPLACE))


def test_a_nodes_route_waits_for_its_own_claim_only() -> None:
    """No phase barrier: node a's route goes while node b's claim is still in the cloud's hands."""
    a_routed = threading.Event()

    def b_claim_waits_for_a_route(action: Action) -> None:
        if action.kind is ActionKind.CLAIM and action.node == "b" and not a_routed.wait(timeout=5):
            raise AssertionError("a's route waited for b's claim: a phase barrier")
        if action.kind is ActionKind.CREATE and action.node == "a":
            a_routed.set()

    fake = FakeProvider(nodes=[node("a"), node("b")], on_execute=b_claim_waits_for_a_route)
    actions = (
        Action(kind=ActionKind.CLAIM, node=NodeName("a"), subnets=(A0,)),
        Action(kind=ActionKind.CLAIM, node=NodeName("b"), subnets=(A1,)),
        create(A0, "a"),
        create(A1, "b"),
    )
    ex, _ = make_executor(fake, concurrency=2)
    results = ex.run(Plan(actions=actions))
    assert all(r.outcome is Outcome.DONE for r in results), results
    calls = [(a.kind, a.node) for a in fake.calls]
    assert calls.index((ActionKind.CLAIM, "a")) < calls.index((ActionKind.CREATE, "a"))
    assert calls.index((ActionKind.CLAIM, "b")) < calls.index((ActionKind.CREATE, "b"))


def test_the_providers_node_write_order_is_kept_per_node() -> None:
    """GCE: a node's forwarding PUT must have finished before its label write goes."""
    fake = FakeProvider(
        nodes=[node("a", forwarding=False), node("b", forwarding=False)],
        node_write_order=(ActionKind.ENABLE_FORWARDING, ActionKind.CLAIM),
        operation_polls=2,
    )
    actions = tuple(
        a
        for who, block in (("a", A0), ("b", A1))
        for a in (
            Action(kind=ActionKind.CLAIM, node=NodeName(who), subnets=(block,)),
            Action(kind=ActionKind.ENABLE_FORWARDING, node=NodeName(who)),
        )
    )
    ex, _ = make_executor(fake)
    results = ex.run(Plan(actions=actions))
    assert all(r.outcome is Outcome.DONE for r in results)
    calls = [(a.kind, a.node) for a in fake.calls]
    for who in ("a", "b"):
        assert calls.index((ActionKind.ENABLE_FORWARDING, who)) < calls.index((ActionKind.CLAIM, who))
    assert fake.nodes[NodeName("a")].forwarding and fake.nodes[NodeName("a")].recorded == (A0,)


# -- retries by error kind -----------------------------------------------------------------


@pytest.mark.parametrize(("error", "kind"), [(Throttled, "throttled"), (Transient, "transient")])
def test_retryable_errors_are_retried_then_succeed(error: type[CloudError], kind: str) -> None:
    fake = FakeProvider(nodes=[node("a")], on_execute=failing(lambda: error("slow down"), times=2))
    ex, clock = make_executor(fake)
    [result] = ex.run(Plan(actions=(create(A0, "a"),)))
    assert (result.outcome, result.attempts, result.error_kind) == (Outcome.DONE, 3, "")
    assert ex.tally.retries == Counter({kind: 2})
    assert len(fake.calls) == 3
    assert len(clock.sleeps) == 2 and all(0 <= s <= 5.0 for s in clock.sleeps)  # backoff, capped by backoff_max
    assert fake.table("rt-a") == {A0: "a"}


@pytest.mark.parametrize("max_attempts", [1, 3, 6])
def test_retries_are_bounded_by_max_attempts(max_attempts: int) -> None:
    fake = FakeProvider(nodes=[node("a")], on_execute=failing(lambda: Throttled("RequestLimitExceeded")))
    ex, _ = make_executor(fake, max_attempts=max_attempts)
    [result] = ex.run(Plan(actions=(create(A0, "a"),)))
    assert (result.outcome, result.error_kind, result.attempts) == (Outcome.FAILED, "throttled", max_attempts)
    assert result.error == "RequestLimitExceeded"
    assert len(fake.calls) == max_attempts
    assert sum(ex.tally.retries.values()) == max_attempts - 1
    assert fake.table("rt-a") == {}


def test_a_conflict_is_never_retried() -> None:
    fake = FakeProvider(nodes=[node("a")], on_execute=failing(lambda: Conflict("RouteAlreadyExists")))
    ex, clock = make_executor(fake)
    [result] = ex.run(Plan(actions=(create(A0, "a"),)))
    assert (result.outcome, result.error_kind, result.attempts) == (Outcome.CONFLICT, "conflict", 1)
    assert len(fake.calls) == 1 and clock.sleeps == [] and not ex.tally.retries


def test_a_real_conflict_from_the_cloud_is_reported_as_such() -> None:
    fake = FakeProvider(nodes=[node("a"), node("b")], tables={"rt-a": [route("rt-a", A0, "b")]})
    ex, _ = make_executor(fake)
    [result] = ex.run(Plan(actions=(create(A0, "a"),)))
    assert result.outcome is Outcome.CONFLICT and fake.table("rt-a") == {A0: "b"}


@pytest.mark.parametrize(
    ("error", "kind"),
    [(QuotaExceeded, "quota-exceeded"), (Denied, "denied"), (Invalid, "invalid"), (CloudError, "error")],
)
def test_hard_failures_are_not_retried(error: type[CloudError], kind: str) -> None:
    fake = FakeProvider(nodes=[node("a")], on_execute=failing(lambda: error("no")))
    ex, clock = make_executor(fake)
    [result] = ex.run(Plan(actions=(create(A0, "a"),)))
    assert (result.outcome, result.error_kind, result.attempts, result.error) == (Outcome.FAILED, kind, 1, "no")
    assert len(fake.calls) == 1 and clock.sleeps == []


def test_the_cloud_quota_wall_is_a_failure_not_a_retry() -> None:
    fake = FakeProvider(nodes=[node("a"), node("b")], tables={"rt-a": [route("rt-a", A0, "a")]}, limits={"rt-a": 1})
    ex, _ = make_executor(fake)
    [result] = ex.run(Plan(actions=(create(A1, "b"),)))
    assert (result.outcome, result.error_kind, result.attempts) == (Outcome.FAILED, "quota-exceeded", 1)


@pytest.mark.parametrize(
    ("action", "outcome"),
    [
        pytest.param(
            Action(kind=ActionKind.DELETE, table=TableKey("rt-a"), destination=A2),
            Outcome.DONE,
            id="deleting a route already gone is done",
        ),
        pytest.param(
            Action(kind=ActionKind.UNCLAIM, node=NodeName("gone")),
            Outcome.DONE,
            id="unclaiming a node already gone is done",
        ),
        pytest.param(create(A1, "gone"), Outcome.FAILED, id="creating a route to a node that is gone fails"),
        pytest.param(
            Action(kind=ActionKind.CLAIM, node=NodeName("gone"), subnets=(A1,)),
            Outcome.FAILED,
            id="claiming for a node that is gone fails",
        ),
    ],
)
def test_not_found(action: Action, outcome: Outcome) -> None:
    fake = FakeProvider(nodes=[node("a")])
    ex, _ = make_executor(fake)
    [result] = ex.run(Plan(actions=(action,)))
    assert (result.outcome, result.attempts) == (outcome, 1)
    assert result.error_kind == ("" if outcome is Outcome.DONE else "not-found")


@pytest.mark.parametrize("error", [Denied, Conflict, Throttled])
def test_a_failed_claim_skips_that_nodes_routes_only(error: type[CloudError]) -> None:
    fake = FakeProvider(
        nodes=[node("a", forwarding=False), node("b")],
        tables={"rt-a": [route("rt-a", A2, "a", exact=False)]},
        on_execute=failing(lambda: error("no"), when=lambda a: a.kind is ActionKind.CLAIM and a.node == "a"),
    )
    plan = Plan(
        actions=(
            Action(kind=ActionKind.CLAIM, node=NodeName("a"), subnets=(A0,)),
            Action(kind=ActionKind.CLAIM, node=NodeName("b"), subnets=(A1,)),
            Action(kind=ActionKind.ENABLE_FORWARDING, node=NodeName("a")),
            Action(kind=ActionKind.REPLACE, table=TableKey("rt-a"), destination=A2, node=NodeName("a")),
            create(A0, "a"),
            create(A1, "b"),
        )
    )
    ex, _ = make_executor(fake, max_attempts=2)
    results = by_action(ex.run(plan))
    assert results[(ActionKind.CLAIM, "a", None)].outcome is not Outcome.DONE
    assert results[(ActionKind.CREATE, "a", A0)].outcome is Outcome.SKIPPED
    assert results[(ActionKind.CREATE, "a", A0)].attempts == 0
    assert results[(ActionKind.REPLACE, "a", A2)].outcome is Outcome.SKIPPED
    assert results[(ActionKind.CREATE, "b", A1)].outcome is Outcome.DONE
    assert results[(ActionKind.ENABLE_FORWARDING, "a", None)].outcome is Outcome.DONE
    assert [a.kind for a in fake.calls if a.node == "a"].count(ActionKind.CREATE) == 0
    assert fake.table("rt-a") == {A1: "b", A2: "a"}


# -- the write budget ----------------------------------------------------------------------


def test_bucket_burst_then_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(burst=2, rate=1.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        bucket.take()
    assert sum(clock.sleeps) == pytest.approx(3.0)
    assert bucket.waited == pytest.approx(3.0)
    assert clock.now == pytest.approx(103.0)


def test_bucket_reserves_tokens_for_callers_arriving_together() -> None:
    # A frozen clock: five callers at the same instant. Each waits until its own token exists.
    clock = Clock(frozen=True)
    bucket = TokenBucket(burst=2, rate=1.0, clock=clock, sleep=clock.sleep)
    threads = [threading.Thread(target=bucket.take) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(clock.sleeps) == pytest.approx([1.0, 2.0, 3.0])


def test_bucket_refills_up_to_burst_only() -> None:
    clock = Clock()
    bucket = TokenBucket(burst=2, rate=1.0, clock=clock, sleep=clock.sleep)
    bucket.take()
    bucket.take()
    clock.now += 100.0  # a long idle spell refills two tokens, not a hundred
    for _ in range(3):
        bucket.take()
    assert clock.sleeps == pytest.approx([1.0])


def test_bucket_at_the_aws_mutating_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(burst=50, rate=5.0, clock=clock, sleep=clock.sleep)
    for _ in range(60):
        bucket.take()
    assert sum(clock.sleeps) == pytest.approx(2.0)  # 10 calls past the burst at 5/s


@pytest.mark.parametrize(("burst", "rate"), [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_bucket_refuses_nonsense(burst: int, rate: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(burst=burst, rate=rate)


def test_executor_spends_writes_through_the_bucket() -> None:
    fake = FakeProvider(nodes=[node(f"n{i}") for i in range(5)])
    ex, clock = make_executor(fake, concurrency=1, burst=2, rate=1.0)
    results = ex.run(Plan(actions=tuple(create(ip_network(f"10.244.{i}.0/24"), f"n{i}") for i in range(5))))
    assert all(r.outcome is Outcome.DONE for r in results)
    assert sum(clock.sleeps) == pytest.approx(3.0)
    assert ex.tally.bucket_wait_s == pytest.approx(3.0)


def test_retries_pay_the_bucket_too() -> None:
    fake = FakeProvider(nodes=[node("a")], on_execute=failing(lambda: Throttled("slow"), times=2))
    clock = Clock(frozen=True)  # only bucket debt shows in the sleeps' sum beyond the backoff
    bucket = TokenBucket(burst=1, rate=1.0, clock=clock, sleep=lambda s: None)
    ex = Executor(fake, Limits(max_attempts=4, concurrency=1), bucket=bucket, sleep=clock.sleep)
    [result] = ex.run(Plan(actions=(create(A0, "a"),)))
    assert result.attempts == 3
    # Three takes from a bucket of one, whose rate the first throttle cut (the clock is frozen, so
    # the second throttle, within the same second, cuts nothing more): 0 + 1 + 2 tokens of debt.
    assert bucket.waited == pytest.approx((1.0 + 2.0) / DECREASE)


def test_writes_a_provider_meters_apart_do_not_spend_the_route_bucket() -> None:
    """EC2 meters CreateTags on its own: five claims must not make one route create wait."""
    names = [f"n{i}" for i in range(5)]
    plan = Plan(
        actions=(
            *(
                Action(kind=ActionKind.CLAIM, node=NodeName(n), subnets=(ip_network(f"10.244.{i}.0/24"),))
                for i, n in enumerate(names)
            ),
            create(ip_network("10.244.0.0/24"), "n0"),
        )
    )
    routes = Budget(family="routes", burst=1, rate=0.001)
    waits: dict[str, float] = {}
    for label, tags in (("apart", Budget(family="tags", burst=100, rate=1000.0)), ("shared", routes)):
        fake = FakeProvider(nodes=[node(n) for n in names])
        fake.capabilities = dataclasses.replace(
            fake.capabilities, write_budgets={ActionKind.CREATE: routes, ActionKind.CLAIM: tags}
        )
        clock = Clock()
        executor = Executor(fake, Limits(), sleep=clock.sleep, clock=clock)
        executor.run(plan)
        waits[label] = executor.tally.bucket_wait_s
    assert waits["apart"] == 0
    assert waits["shared"] > 1000, "five claims and a create through a bucket of one"


def test_a_family_short_of_tokens_holds_no_worker_from_the_others() -> None:
    """Two workers, six interface-flag writes from a bucket of one token a second, six route writes
    from a full bucket: the routes go at once. (They used to queue behind workers asleep on flag
    tokens while the route bucket sat full: 200 AWS nodes took 1.47x the floor.)"""
    flags = [f"f{i}" for i in range(6)]
    routed = [f"r{i}" for i in range(6)]
    plan = Plan(
        actions=(
            *(Action(kind=ActionKind.ENABLE_FORWARDING, node=NodeName(n)) for n in flags),
            *(create(ip_network(f"10.244.{i}.0/24"), n) for i, n in enumerate(routed)),
        )
    )
    clock = Clock()
    sent_at: dict[str, float] = {}
    fake = FakeProvider(
        nodes=[node(n) for n in flags + routed], on_execute=lambda action: sent_at.setdefault(str(action.node), clock())
    )
    fake.capabilities = dataclasses.replace(
        fake.capabilities,
        write_budgets={
            ActionKind.ENABLE_FORWARDING: Budget(family="flags", burst=1, rate=1.0),
            ActionKind.CREATE: Budget(family="routes", burst=100, rate=1000.0),
        },
    )
    results = Executor(fake, Limits(concurrency=2), sleep=clock.sleep, clock=clock).run(plan)
    assert all(r.outcome is Outcome.DONE for r in results)
    assert {n: sent_at[n] for n in routed} == dict.fromkeys(routed, 100.0), "no route write waited for a flag token"
    assert sorted(sent_at[n] for n in flags) == pytest.approx([100.0, 101.0, 102.0, 103.0, 104.0, 105.0])


def test_progress_is_reported_per_action_not_per_phase() -> None:
    """A long apply's progress bar must move while the phase runs, not jump when it ends."""
    from cloudroutes.config import Limits
    from cloudroutes.executor import Executor
    from cloudroutes.model import Action, ActionKind, NodeName, Outcome, Plan, TableKey
    from tests.fakes import FakeProvider, node

    first_reported = threading.Event()
    creates = tuple(
        Action(
            kind=ActionKind.CREATE, node=NodeName(n), table=TableKey("rt-a"), destination=ip_network(f"10.244.{i}.0/24")
        )
        for i, n in enumerate(["a", "b"])
    )

    def second_waits_for_the_first_report(action: Action) -> None:
        if action.node == "b" and not first_reported.wait(timeout=5):
            raise AssertionError("no progress was reported while the phase ran")

    fake = FakeProvider(nodes=[node("a"), node("b")], on_execute=second_waits_for_the_first_report)
    executor = Executor(fake, Limits(concurrency=1, write_burst=100), sleep=lambda seconds: None)
    results = executor.run(Plan(actions=creates), progress=lambda result: first_reported.set())
    assert [r.outcome for r in results] == [Outcome.DONE, Outcome.DONE]


# -- operations (writes the cloud finishes later) ------------------------------------------


def creates(count: int) -> tuple[Action, ...]:
    return tuple(create(ip_network(f"10.244.{i}.0/24"), f"n{i}") for i in range(count))


def test_operations_in_flight_are_learned_in_batches_not_one_call_each() -> None:
    fake = FakeProvider(nodes=[node(f"n{i}") for i in range(40)], operation_polls=2)
    ex, _ = make_executor(fake, concurrency=8)
    results = ex.run(Plan(actions=creates(40)))
    assert all(r.outcome is Outcome.DONE and r.attempts == 1 for r in results)
    assert len(fake.table("rt-a")) == 40
    assert fake.settles < 40 / 4, "one settle answers for many operations"


def test_operations_in_flight_are_bounded_by_max_in_flight_not_by_workers() -> None:
    fake = FakeProvider(nodes=[node(f"n{i}") for i in range(12)], operation_polls=3)
    clock = Clock()
    limits = Limits(concurrency=2, max_in_flight=5)
    bucket = TokenBucket(burst=1000, rate=1000.0, clock=clock, sleep=clock.sleep)
    results = Executor(fake, limits, bucket=bucket, sleep=clock.sleep, clock=clock).run(Plan(actions=creates(12)))
    assert all(r.outcome is Outcome.DONE for r in results)
    assert fake.peak_operations == 5, "more operations than workers, never more than max_in_flight"


@pytest.mark.parametrize(("error", "outcome"), [(Throttled, Outcome.DONE), (Conflict, Outcome.CONFLICT)])
def test_an_operation_that_ends_in_error_is_retried_only_when_the_kind_says_so(
    error: type[CloudError], outcome: Outcome
) -> None:
    ended = Counter[str]()

    def first_ends_badly(action: Action) -> CloudError | None:
        ended["n"] += 1
        return error("inside the operation") if ended["n"] == 1 else None

    fake = FakeProvider(nodes=[node("n0")], operation_polls=1, on_settle=first_ends_badly)
    ex, _ = make_executor(fake)
    [result] = ex.run(Plan(actions=creates(1)))
    assert result.outcome is outcome
    assert result.attempts == (2 if outcome is Outcome.DONE else 1)
    assert bool(fake.table("rt-a")) == (outcome is Outcome.DONE)


class _SettleRefused(FakeProvider):
    """Its writes start operations, and asking about them is refused (a role without *Operations.list)."""

    def settle(self, pending: Sequence[Pending]) -> Sequence[Settled]:
        self.settles += 1
        raise Denied("permission denied: compute.globalOperations.list")


def test_a_refused_operations_poll_fails_the_writes_in_flight_instead_of_polling_forever() -> None:
    fake = _SettleRefused(nodes=[node("n0"), node("n1")], operation_polls=1)
    ex, _ = make_executor(fake)
    results = ex.run(Plan(actions=creates(2)))
    assert [(r.outcome, r.error_kind, r.error) for r in results] == [
        (Outcome.FAILED, "denied", "permission denied: compute.globalOperations.list")
    ] * 2
    assert fake.settles == 1, "a refusal is not asked again"


def test_a_route_waits_for_its_claim_to_land_not_for_its_operation_to_end() -> None:
    """Why that is safe is schedule.py's docstring: the route's name is the compare-and-swap."""
    fake = FakeProvider(nodes=[node("a")], operation_polls=3)
    actions = (Action(kind=ActionKind.CLAIM, node=NodeName("a"), subnets=(A0,)), create(A0, "a"))
    ex, _ = make_executor(fake)
    results = ex.run(Plan(actions=actions))
    assert all(r.outcome is Outcome.DONE for r in results)
    assert fake.peak_operations == 2, "the route's operation started while the label's was still running"


def test_once_stopped_no_new_write_starts_and_the_one_in_flight_finishes() -> None:
    """reconcile's SIGTERM: the write under way lands, nothing after it starts, nothing is dropped."""
    stop = threading.Event()
    fake = FakeProvider(nodes=[node("a"), node("b"), node("c")], on_execute=lambda action: stop.set())
    plan = Plan(actions=(create(A0, "a"), create(A1, "b"), create(A2, "c")))
    clock = Clock()
    limits = Limits(concurrency=1)
    bucket = TokenBucket(burst=1000, rate=1000.0, clock=clock, sleep=clock.sleep)
    ex = Executor(fake, limits, bucket=bucket, sleep=clock.sleep, clock=clock, stop=stop)

    results = ex.run(plan)

    assert len(fake.calls) == 1, "only the write already started when the stop came"
    assert len(fake.table("rt-a")) == 1, "and it landed"
    assert sorted(r.outcome for r in results) == [Outcome.DONE, Outcome.SKIPPED, Outcome.SKIPPED]
    assert {r.error for r in results if r.outcome is Outcome.SKIPPED} == {"stopped before it started"}
