"""What `reconcile` tells Prometheus: the cluster as the last pass left it, and what passes cost.

One CollectorRegistry per Metrics (never prometheus_client's global one: no process or platform
collectors mixed in, and a test can hold two). Gauges describe the latest pass; counters add up
over the life of the process (a one-shot pass starts them at zero, which Prometheus reads as a
counter reset). The exposition format and the atomic file write are prometheus_client's.
"""

from __future__ import annotations

import os
import time
from collections import Counter as Tally
from collections.abc import Mapping

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge

from cloudroutes.engine import Report
from cloudroutes.model import ActionKind, Cluster, Observed, Plan
from cloudroutes.ownership import is_ours
from cloudroutes.providers.base import ApiError

# The _created series prometheus_client adds beside each counter say when the process started
# counting; node_exporter's textfile collector and most dashboards have no use for them.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

OK = "ok"
"""The `code` of a call that succeeded."""


class PassResult:
    """`cloudroutes_passes_total{result}`: how a pass ended."""

    CONVERGED = "converged"
    """Nothing left to do: the exit status `apply` gives 0."""
    FAILED = "failed"
    """A read failed, or some actions failed or were held back (exit 1 for `apply`)."""
    REFUSED = "refused"
    """Refused before any write: the mass-delete guard, or the cloud refuting the config (exit 2)."""


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.nodes = Gauge("cloudroutes_nodes", "VMs selected as nodes, in the last observation.", registry=r)
        self.routes = Gauge(
            "cloudroutes_routes",
            "Routes of this cluster per managed table, by state: active (delivers to its node), "
            "blackhole (its VM is stopped or gone), misdirected (points elsewhere), missing (to create).",
            ["table", "state"],
            registry=r,
        )
        self.pending = Gauge("cloudroutes_pending_changes", "Actions a plan made now would still hold.", registry=r)
        self.converged = Gauge("cloudroutes_converged", "1 when the last pass converged, else 0.", registry=r)
        self.blocked = Gauge(
            "cloudroutes_blocked",
            "Problems that keep the cluster from converging (quota, exhausted range, forwarding off).",
            registry=r,
        )
        self.actions = Counter(
            "cloudroutes_actions", "Actions run, by kind and outcome.", ["kind", "outcome"], registry=r
        )
        self.api_calls = Counter(
            "cloudroutes_api_calls",
            "Cloud API calls, by operation and code (ok, or the cloud's error code).",
            ["operation", "code"],
            registry=r,
        )
        self.throttled = Counter("cloudroutes_throttled", "API calls the cloud refused for its rate limit.", registry=r)
        self.passes = Counter("cloudroutes_passes", "Passes, by result.", ["result"], registry=r)
        self.duration = Gauge("cloudroutes_pass_duration_seconds", "How long the last pass took.", registry=r)
        self.last_pass = Gauge(
            "cloudroutes_last_pass_timestamp_seconds", "When the last pass ended (Unix time).", registry=r
        )
        self.last_success = Gauge(
            "cloudroutes_last_success_timestamp_seconds",
            "When the last converged pass ended (Unix time); 0 if none yet.",
            registry=r,
        )
        self._calls_seen: Tally[str] = Tally()
        self._errors_seen: Tally[ApiError] = Tally()

    # -- filling -----------------------------------------------------------------------------

    def record_pass(self, *, result: str, duration_s: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.passes.labels(result=result).inc()
        self.duration.set(duration_s)
        self.last_pass.set(now)
        self.converged.set(1 if result == PassResult.CONVERGED else 0)
        if result == PassResult.CONVERGED:
            self.last_success.set(now)

    def record_report(self, report: Report, cluster: Cluster) -> None:
        """The state the pass left (its read-back) and the actions it ran."""
        self.record_state(report.observed, report.final, cluster)
        for done in report.results:
            self.actions.labels(kind=str(done.action.kind), outcome=str(done.outcome)).inc()

    def record_state(self, observed: Observed, plan: Plan, cluster: Cluster) -> None:
        self.nodes.set(len(observed.nodes))
        self.pending.set(len(plan.actions))
        self.blocked.set(sum(1 for p in plan.problems if p.blocking))
        self.routes.clear()  # a table no longer managed must not linger with its last numbers
        counts: Tally[tuple[str, str]] = Tally()
        for table in observed.tables:
            for state in ("active", "blackhole", "misdirected", "missing"):
                counts[(table.key, state)] += 0
            for route in table.routes:
                if is_ours(route, cluster):
                    counts[(table.key, _state(route.node is not None, route.exact, route.blackhole))] += 1
        for action in plan.actions:
            if action.kind is ActionKind.CREATE and action.table:
                counts[(action.table, "missing")] += 1
        for (key, state), count in counts.items():
            self.routes.labels(table=key, state=state).set(count)

    def record_calls(self, calls: Mapping[str, int], errors: Mapping[ApiError, int]) -> None:
        """The provider's running totals: what grew since the last time counts."""
        new_calls = Tally(dict(calls)) - self._calls_seen
        new_errors = Tally(dict(errors)) - self._errors_seen
        self._calls_seen, self._errors_seen = Tally(dict(calls)), Tally(dict(errors))
        failed: Tally[str] = Tally()
        for error, count in new_errors.items():
            self.api_calls.labels(operation=error.operation, code=error.code).inc(count)
            failed[error.operation] += count
            if error.kind == "throttled":
                self.throttled.inc(count)
        for operation, count in new_calls.items():
            # A call that fails before the SDK hands back a pager is counted as failed only.
            if (ok := count - failed[operation]) > 0:
                self.api_calls.labels(operation=operation, code=OK).inc(ok)

    def new_provider(self) -> None:
        """The provider was made anew (a reloaded config): its running totals start from zero."""
        self._calls_seen, self._errors_seen = Tally(), Tally()

    def carry_last_success(self, seconds: float) -> None:
        """A one-shot run carries the previous run's last success over from its metrics file."""
        self.last_success.set(seconds)

    # -- telling -------------------------------------------------------------------------------

    def exposition(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)

    def write(self, path: str) -> None:
        """Atomically (a temporary file beside it, then a rename): the collector never reads half a file."""
        prometheus_client.write_to_textfile(path, self.registry)


def last_success_in(path: str) -> float:
    """cloudroutes_last_success_timestamp_seconds as a previous run wrote it to `path`, or 0."""
    from prometheus_client.parser import text_string_to_metric_families

    if not os.path.exists(path):
        return 0.0
    try:
        with open(path, encoding="utf-8") as file:
            families = list(text_string_to_metric_families(file.read()))
    except (OSError, ValueError):
        return 0.0
    for family in families:
        for sample in family.samples:
            if sample.name == "cloudroutes_last_success_timestamp_seconds":
                return float(sample.value)
    return 0.0


def _state(to_live_node: bool, exact: bool, blackhole: bool) -> str:
    if blackhole:
        return "blackhole"
    return "active" if to_live_node and exact else "misdirected"
