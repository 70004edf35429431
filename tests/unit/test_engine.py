"""engine: observe -> plan -> apply over the fake cloud, and again after a conflict, a bounded number of times."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from ipaddress import ip_network

import pytest

from cloudroutes import engine
from cloudroutes.config import Config, Limits
from cloudroutes.errors import Conflict, GuardError, QuotaExceeded, Throttled
from cloudroutes.executor import Executor
from cloudroutes.model import Action, ActionKind, Cluster, NodeName, Outcome, ProblemKind, TableKey
from cloudroutes.ratelimit import TokenBucket
from tests.fakes import FakeProvider, node, route

A0, A1, A2, A3 = (ip_network(f"10.244.{i}.0/24") for i in range(4))
WRITES = {str(k) for k in ActionKind}


def config(*, conflict_rounds: int = 2) -> Config:
    return Config(
        provider="aws",
        cluster=Cluster(name="demo", cidrs=(ip_network("10.244.0.0/16"),)),
        limits=Limits(conflict_rounds=conflict_rounds, max_attempts=3, concurrency=4),
    )


def run(fake: FakeProvider, cfg: Config, **kwargs: object) -> engine.Report:
    """One pass as the CLI runs it, with a fake clock: nothing here really sleeps."""
    no_sleep = lambda seconds: None  # noqa: E731
    executor = Executor(
        fake, cfg.limits, bucket=TokenBucket(burst=1000, rate=1000.0, clock=lambda: 0.0, sleep=no_sleep), sleep=no_sleep
    )
    planned = engine.make_plan(fake, cfg, destroy=bool(kwargs.get("destroy")))
    kwargs.setdefault("sleep", no_sleep)
    return engine.apply(fake, cfg, planned, executor=executor, **kwargs)  # type: ignore[arg-type]


def once(when: ActionKind, *, side_effect: Callable[[], None] | None = None) -> Callable[[Action], None]:
    """An on_execute hook: the first action of kind `when` raises Conflict (after `side_effect()`, if given)."""
    fired = threading.Event()
    lock = threading.Lock()

    def hook(action: Action) -> None:
        if action.kind is not when:
            return
        with lock:
            if fired.is_set():
                return
            fired.set()
        if side_effect is not None:
            side_effect()
        raise Conflict("RouteAlreadyExists")

    return hook


def always(error: Exception, when: Callable[[Action], bool]) -> Callable[[Action], None]:
    def hook(action: Action) -> None:
        if when(action):
            raise error

    return hook


def new_cluster(**kwargs: object) -> FakeProvider:
    return FakeProvider(
        nodes=[node("n0", forwarding=False), node("n1", age=1), node("n2", age=2)],
        tables={"rt-a": [route("rt-a", "0.0.0.0/0", None, to_vm=False, hop="igw-1")], "rt-b": []},
        **kwargs,  # type: ignore[arg-type]
    )


def assert_converged_cloud(fake: FakeProvider) -> None:
    expected = {A0: "n0", A1: "n1", A2: "n2"}
    assert {d: n for d, n in fake.table("rt-a").items() if d.prefixlen == 24} == expected
    assert fake.table("rt-b") == expected
    assert {nd.name: nd.recorded for nd in fake.nodes.values()} == {"n0": (A0,), "n1": (A1,), "n2": (A2,)}
    assert all(nd.forwarding for nd in fake.nodes.values())


def test_apply_converges_in_one_round() -> None:
    fake = new_cluster()
    report = run(fake, config())
    assert report.converged and report.rounds == 1 and report.final.empty
    assert_converged_cloud(fake)
    assert fake.table("rt-a")[ip_network("0.0.0.0/0")] is None  # the foreign default route is still there
    # One write per action, nothing repeated: 3 claims, 1 forwarding switch, 6 creates.
    assert report.writes == len(fake.calls) == 10
    assert report.api_calls["observe"] == 1  # the read-back; the first observe is make_plan's


def test_a_pass_with_nothing_to_do_makes_zero_writes() -> None:
    fake = new_cluster()
    run(fake, config())
    calls_before = len(fake.calls)
    report = run(fake, config())
    assert report.first.empty and report.converged
    assert len(fake.calls) == calls_before
    assert report.results == [] and report.writes == 0
    assert not WRITES & set(report.api_calls)
    assert report.api_calls == {}  # an empty plan is not even read back


def test_one_conflict_means_observe_plan_again_then_converge() -> None:
    fake = new_cluster()
    fake.on_execute = once(ActionKind.CREATE)
    report = run(fake, config())
    assert report.rounds == 2 and report.converged
    [conflict] = report.failed
    assert conflict.outcome is Outcome.CONFLICT and conflict.attempts == 1
    assert report.unresolved == []
    assert_converged_cloud(fake)
    # The conflicted create is written again only in round 2, after a fresh observation.
    assert report.api_calls["observe"] == 2
    assert report.api_calls["create"] == 7


def test_a_conflict_whose_cause_already_converged_needs_no_second_round() -> None:
    fake = new_cluster()

    def competitor() -> None:  # another run got there first, with the same answer
        fake.routes["rt-a"][A0] = route("rt-a", A0, "n0")

    fake.on_execute = once(ActionKind.CREATE, side_effect=competitor)
    report = run(fake, config())
    assert report.rounds == 1 and report.converged and report.final.empty
    assert_converged_cloud(fake)


def test_a_competitor_taking_our_block_moves_us_without_flapping() -> None:
    fake = new_cluster()

    def competitor() -> None:  # another run gave n9, an older node, the block n0 wanted, and routed it
        fake.nodes[NodeName("n9")] = node("n9", age=-1, recorded=[A0])
        fake.routes["rt-a"][A0] = route("rt-a", A0, "n9")
        fake.routes["rt-b"][A0] = route("rt-b", A0, "n9")

    fake.on_execute = once(ActionKind.CLAIM, side_effect=competitor)
    report = run(fake, config())
    assert report.rounds == 2 and report.final.empty and not report.final.blocked
    blocks = {nd.name: nd.recorded for nd in fake.nodes.values()}
    assert blocks[NodeName("n9")] == (A0,)
    assert sorted(b for nd, bs in blocks.items() for b in bs) == sorted({b for bs in blocks.values() for b in bs})
    for table in ("rt-a", "rt-b"):
        routed = {d: n for d, n in fake.table(table).items() if d.prefixlen == 24}
        assert routed == {b: name for name, bs in blocks.items() for b in bs}


def _competitor_takes_a0(fake: FakeProvider) -> Callable[[], None]:
    def competitor() -> None:
        fake.nodes[NodeName("n9")] = node("n9", age=-1, recorded=[A0])
        fake.routes["rt-a"][A0] = route("rt-a", A0, "n9")

    return competitor


@pytest.mark.parametrize("competes", [False, True], ids=["transient conflict", "competitor took the block"])
def test_routes_skipped_behind_a_conflicted_claim_are_resolved_by_the_next_round(competes: bool) -> None:
    fake = new_cluster()
    fake.on_execute = once(ActionKind.CLAIM, side_effect=_competitor_takes_a0(fake) if competes else None)
    report = run(fake, config())
    assert report.rounds == 2 and report.final.empty  # the cloud did converge ...
    assert any(r.outcome is Outcome.SKIPPED for r in report.results)
    assert report.unresolved == []  # ... so nothing is left unresolved
    assert report.converged


def test_a_failure_retried_successfully_in_the_next_round_is_resolved() -> None:
    fake = new_cluster()
    conflict = once(ActionKind.CREATE)
    throttles = {"left": 3}  # limits.max_attempts == 3: n1's route in rt-b runs out of attempts in round 1

    def hook(action: Action) -> None:
        if action.destination == A1 and action.table == "rt-b" and throttles["left"] > 0:
            throttles["left"] -= 1
            raise Throttled("RequestLimitExceeded")
        if action.destination == A2:
            conflict(action)

    fake.on_execute = hook
    report = run(fake, config())
    assert report.rounds == 2 and report.final.empty
    assert_converged_cloud(fake)
    assert report.unresolved == [] and report.converged


@pytest.mark.parametrize("conflict_rounds", [0, 1, 3])
def test_persistent_conflicts_stop_after_the_configured_rounds(conflict_rounds: int) -> None:
    fake = new_cluster()
    fake.on_execute = always(Conflict("busy"), lambda a: a.kind is ActionKind.CREATE)
    report = run(fake, config(conflict_rounds=conflict_rounds))
    assert report.rounds == conflict_rounds + 1
    assert not report.converged and not report.final.empty
    assert report.unresolved and all(r.outcome is Outcome.CONFLICT for r in report.unresolved)
    # Six creates per round, each tried once per round: never a blind retry.
    assert sum(1 for a in fake.calls if a.kind is ActionKind.CREATE) == 6 * report.rounds


def test_the_mass_delete_guard_stops_before_any_write() -> None:
    # A wrong node filter: no nodes observed, so every route of ours looks dead.
    fake = FakeProvider(nodes=[], tables={"rt-a": [route("rt-a", f"10.244.{i}.0/24", f"gone{i}") for i in range(4)]})
    with pytest.raises(GuardError, match="--allow-mass-delete"):
        run(fake, config())
    assert fake.calls == []
    report = run(fake, config(), allow_mass_delete=True)
    assert report.converged and fake.table("rt-a") == {}


def test_destroy_removes_ours_and_keeps_the_rest() -> None:
    fake = new_cluster()
    run(fake, config())
    fake.routes["rt-b"][A3] = route("rt-b", A3, None, to_vm=False, hop="pcx-1")
    report = run(fake, config(), destroy=True)
    assert report.converged
    assert fake.table("rt-a") == {ip_network("0.0.0.0/0"): None}
    assert fake.table("rt-b") == {A3: None}
    assert not any(nd.recorded for nd in fake.nodes.values())
    assert all(nd.forwarding for nd in fake.nodes.values())  # forwarding flags stay


def test_a_provider_that_cannot_fix_forwarding_reports_instead_of_acting() -> None:
    fake = new_cluster(fixes_forwarding=False)
    report = run(fake, config())
    assert not any(a.kind is ActionKind.ENABLE_FORWARDING for a in fake.calls)
    assert not report.converged and report.final.empty
    assert [p.kind for p in report.final.problems] == [ProblemKind.FORWARDING_OFF]
    fake.capabilities = dataclasses.replace(fake.capabilities, fixes_forwarding=True)
    assert run(fake, config()).converged


def test_quota_exceeded_from_the_cloud_is_unresolved() -> None:
    fake = new_cluster(on_execute=always(QuotaExceeded("RouteLimitExceeded"), lambda a: a.table == "rt-b"))
    report = run(fake, config())
    assert not report.converged and report.rounds == 1
    assert len(report.unresolved) == 3 and fake.table("rt-b") == {}


def test_a_replan_that_trips_the_mass_delete_guard_stops_instead_of_deleting() -> None:
    """Round 1 wrote something; if the world then looks empty (a node filter gone wrong mid-run),
    the next round must not delete the cluster's routes: it stops, unconverged, without raising."""
    nodes = [node(f"n{i}", age=i, recorded=[f"10.244.{i}.0/24"]) for i in range(4)]
    routes = [route("rt-a", f"10.244.{i}.0/24", f"n{i}") for i in range(3)]
    fake = FakeProvider(nodes=nodes, tables={"rt-a": routes})

    def vanish() -> None:
        fake.nodes.clear()

    fake.on_execute = once(ActionKind.CREATE, side_effect=vanish)
    report = run(fake, config())

    assert not report.converged
    assert not [a for a in fake.calls if a.kind is ActionKind.DELETE]
    assert len(fake.routes[TableKey("rt-a")]) == 3


def test_a_failed_read_back_after_writing_is_a_failure_not_a_refusal() -> None:
    """Exit 2 promises nothing was written; once round 1 wrote, a read-back error is exit 1."""
    from cloudroutes.errors import PreflightError

    fake = FakeProvider(nodes=[node("a")])
    observe = fake.observe
    reads = {"n": 0}

    def observe_then_lose_the_network():  # type: ignore[no-untyped-def]
        reads["n"] += 1
        if reads["n"] > 1:
            raise PreflightError("network default not found in project p")
        return observe()

    fake.observe = observe_then_lose_the_network  # type: ignore[method-assign]
    report = run(fake, config())

    assert not report.converged and "network default not found" in report.unverified
    assert [a.kind for a in fake.calls] == [ActionKind.CLAIM, ActionKind.CREATE]


@pytest.mark.parametrize("stale_reads", [0, 1, 3])
def test_a_read_back_that_lags_the_writes_is_read_again_not_taken_for_drift(stale_reads: int) -> None:
    """EC2's eventual consistency: reads show the cloud as it was before the writes for a while."""
    fake = new_cluster()
    before = fake.observe()
    reads = {"n": 0}
    observe = fake.observe

    def lagging():  # type: ignore[no-untyped-def]
        reads["n"] += 1
        return before if 1 < reads["n"] <= 1 + stale_reads else observe()

    fake.observe = lagging  # type: ignore[method-assign]
    waits: list[float] = []

    report = run(fake, config(), sleep=waits.append)

    assert report.converged and report.rounds == 1
    assert waits == list(engine.READ_BACK_WAITS[:stale_reads])
    assert_converged_cloud(fake)
    assert len(fake.calls) == len(report.first.actions), "nothing written twice"


def test_reads_that_never_catch_up_end_the_wait_and_the_pass_says_so() -> None:
    fake = new_cluster()
    before = fake.observe()
    fake.observe = lambda: before  # type: ignore[method-assign]
    waits: list[float] = []

    report = run(fake, config(), sleep=waits.append)

    assert waits == list(engine.READ_BACK_WAITS)
    assert not report.converged and not report.unverified
