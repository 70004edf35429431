"""One pass: observe -> assign -> plan -> apply, and again after a conflict, a bounded number of times.

The only module that strings the pure core (ipam, planner) to the imperative shell (provider,
executor). A Conflict means the snapshot went stale while we wrote (another run, a person);
the answer is a fresh observation and a fresh plan, never a blind retry of the same call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cloudroutes import guards, nodeobjects, planner
from cloudroutes.config import Config
from cloudroutes.errors import CloudroutesError, GuardError
from cloudroutes.executor import Executor, Progress
from cloudroutes.model import Action, ActionResult, KubeMode, Observed, Outcome, Plan
from cloudroutes.providers.base import Provider

log = logging.getLogger("cloudroutes")

READ_BACK_WAITS = (0.25, 0.5, 1.0, 2.0, 4.0)
"""Seconds to wait before reading back again while the read-back does not show writes that
succeeded. EC2 is eventually consistent: a Describe may show a resource as it was before a write
for a while (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html), and a pass
that took that for drift would report a converged cluster as unconverged and the next pass would
write it all again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Planned:
    observed: Observed
    plan: Plan


@dataclass(slots=True, kw_only=True)
class Report:
    """What a pass did: the plan it started from, every result, the final plan, what it cost."""

    first: Plan
    final: Plan
    observed: Observed
    """The latest observation: the read-back after applying, or the one planned from if nothing ran."""
    results: list[ActionResult] = field(default_factory=list)
    rounds: int = 1
    api_calls: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    bucket_wait_s: float = 0.0
    unverified: str = ""
    """Why the read-back after applying failed, if it did: the run then cannot claim convergence."""

    @property
    def failed(self) -> list[ActionResult]:
        return [r for r in self.results if r.outcome is not Outcome.DONE]

    @property
    def unresolved(self) -> list[ActionResult]:
        """Failures nothing made good: a fresh observation with nothing left to do means every
        earlier failure (a conflict, a throttled create, a skipped route) was resolved later."""
        return [] if self.final.empty else self.failed

    @property
    def converged(self) -> bool:
        return self.final.empty and not self.final.blocked and not self.unresolved and not self.unverified

    @property
    def writes(self) -> int:
        return sum(r.attempts for r in self.results)


def node_names(observed: Observed) -> dict[str, str]:
    return {node.name: node.display for node in observed.nodes if node.display}


def make_plan(provider: Provider, config: Config, *, destroy: bool = False) -> Planned:
    observed = provider.observe()
    guards.preflight(observed, config.cluster)
    if destroy:  # Node objects stay as they are: their podCIDRs cannot be cleared
        return Planned(observed=observed, plan=planner.plan_destroy(observed, config.cluster))
    guards.neighbours(observed, config.cluster)
    mode = config.kubernetes.kube_mode
    nodeobjects.preflight(observed, config.cluster, mode)
    if mode is KubeMode.ADOPT:
        assignment, _ = nodeobjects.adopted(observed)
    else:
        assignment = planner.assign(observed, config.cluster)
    fix = provider.capabilities.fixes_forwarding
    plan = planner.plan(observed, assignment, config.cluster, fix_forwarding=fix, kube=mode)
    return Planned(observed=observed, plan=plan)


def guard(plan: Plan, config: Config, *, allow_mass_delete: bool) -> None:
    if allow_mass_delete:
        return
    refusal = guards.mass_delete(plan, config.limits.max_delete_fraction)
    if refusal:
        raise GuardError(refusal)


def apply(
    provider: Provider,
    config: Config,
    planned: Planned,
    *,
    destroy: bool = False,
    allow_mass_delete: bool = False,
    progress: Progress | None = None,
    executor: Executor | None = None,
    sleep: Callable[[float], None] = time.sleep,
    stop: threading.Event | None = None,
) -> Report:
    """Run a confirmed plan; after a conflict observe and plan again, up to limits.conflict_rounds.
    `stop`: once set, no new write starts and no new round begins; writes in flight finish."""
    executor = executor or Executor(provider, config.limits, stop=stop)
    report = Report(first=planned.plan, final=planned.plan, observed=planned.observed)
    calls_before = Counter(provider.api_calls)
    current = planned
    for round_number in range(1, config.limits.conflict_rounds + 2):
        if current.plan.empty:
            break
        try:
            guard(current.plan, config, allow_mass_delete=allow_mass_delete or destroy)
        except GuardError:
            if round_number == 1:
                raise  # before any write: refuse the whole run (exit 2, nothing written)
            log.warning("the re-plan after a conflict trips the mass-delete guard; stopping here")
            break
        results = executor.run(current.plan, progress)
        report.results += results
        report.rounds = round_number
        try:
            current = _read_back(provider, config, results, destroy=destroy, sleep=sleep)
        except CloudroutesError as exc:
            # Writes happened: whatever the read-back says, this is no longer "nothing written" (exit 2).
            log.error("could not read the cloud back after applying: %s", exc.message)
            report.unverified = exc.message
            break
        report.final, report.observed = current.plan, current.observed
        conflicts = [r for r in results if r.outcome is Outcome.CONFLICT]
        if not conflicts or current.plan.empty or executor.stopping:
            break
        log.warning("%d conflict(s): the cloud changed under us; planning again", len(conflicts))
    report.api_calls = Counter(provider.api_calls) - calls_before
    report.retries = executor.tally.retries
    report.bucket_wait_s = executor.tally.bucket_wait_s
    return report


def _read_back(
    provider: Provider,
    config: Config,
    results: Sequence[ActionResult],
    *,
    destroy: bool,
    sleep: Callable[[float], None],
) -> Planned:
    """Observe and plan again; while the plan asks again for writes that just succeeded, the reads
    lag the writes: wait and look again, a bounded number of times (READ_BACK_WAITS)."""
    done = {_identity(r.action) for r in results if r.outcome is Outcome.DONE}
    current = make_plan(provider, config, destroy=destroy)
    for wait in READ_BACK_WAITS:
        unseen = sum(1 for a in current.plan.actions if _identity(a) in done)
        if not unseen:
            break
        log.info("the cloud does not show %d write(s) that succeeded yet; reading again in %.2fs", unseen, wait)
        sleep(wait)
        current = make_plan(provider, config, destroy=destroy)
    return current


def _identity(action: Action) -> tuple[object, ...]:
    """What an action changes, without the handles an observation refreshes (refs, fingerprints)."""
    return (action.kind, action.table, action.destination, action.node, action.subnets)
