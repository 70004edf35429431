"""The provider contract: one read, a write that may finish later, and what the cloud can do.

Like the Kubernetes cloud-provider `Routes` interface, but with the snapshot, the error taxonomy
and the capabilities explicit. Everything cloud-specific (ENI ids, self links, tag encodings,
operation polling) stays behind it; everything decided (which subnet, which route goes, in what
order) stays in the engine. The engine never asks which cloud it is talking to: what differs
between clouds and matters to the engine is declared here, in `Capabilities`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from cloudroutes.errors import CloudError
from cloudroutes.model import Action, ActionKind, Observed
from cloudroutes.ratelimit import Limiter, TokenBucket, WindowQuota


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """A client-side limit shaped like one of the cloud's own meters."""

    family: str
    """The cloud's name for the meter; write kinds naming the same family share one limiter."""
    burst: int
    rate: float
    """Tokens per second after the burst."""
    window: float = 0.0
    """0: a token bucket (burst, then rate per second). Over 0: a quota of `burst` calls in any
    `window` seconds, as GCE meters (rate is then burst / window, for reports)."""

    def limiter(
        self, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> Limiter:
        if self.window > 0:
            return WindowQuota(limit=self.burst, window=self.window, clock=clock, sleep=sleep)
        return TokenBucket(burst=self.burst, rate=self.rate, clock=clock, sleep=sleep)


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What a provider can do and how its cloud meters it, read by the engine and the executor."""

    fixes_forwarding: bool
    """It can switch a VM's forwarding flag on; if not, a node with it off is reported, not fixed."""
    write_budgets: Mapping[ActionKind, Budget]
    """The meter each write kind spends. `limits.write_burst/write_rate` override the route writes' one."""
    read_budget: Budget
    """The meter observe() spends, kept by the provider itself (`limits.read_burst/read_rate` override it)."""
    provider_id: str = ""
    """The cloud's name in a Kubernetes Node's spec.providerID (aws:///zone/i-..., gce://project/zone/name)."""
    node_write_order: tuple[ActionKind, ...] = ()
    """Writes to one VM that must each have finished before the next starts, in this order (GCE:
    forwarding, then labels: the instance PUT is guarded by a fingerprint a label write changes)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """A write the cloud accepted and is still carrying out (a GCE operation)."""

    action: Action
    handle: str
    """The provider's name for the work under way (an operation's scope and name); opaque."""
    step: str = ""
    """Which step of a multi-step action this is (a GCE re-point: delete, then insert); opaque."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settled:
    """A pending write that finished: with an error, or with a further step under way."""

    pending: Pending
    error: CloudError | None = None
    next: Pending | None = None


class ApiError(NamedTuple):
    """A cloud API call that failed, as metrics count it."""

    operation: str
    """As `api_calls` names it (DescribeRouteTables, routes.insert, kubernetes.nodes.patch)."""
    code: str
    """The cloud's own error code (RequestLimitExceeded, rateLimitExceeded, 409), else the error kind."""
    kind: str
    """The engine's error kind (throttled, transient, conflict, ...)."""


def api_error(operation: str, error: BaseException) -> ApiError:
    """How a failed call is counted: any error, ours (with the cloud's code) or one never classified."""
    kind = str(getattr(error, "kind", "error"))
    return ApiError(operation=operation, code=str(getattr(error, "code", "") or kind), kind=kind)


class Provider(Protocol):
    @property
    def capabilities(self) -> Capabilities: ...

    def observe(self) -> Observed:
        """One consistent snapshot: nodes, managed tables with their routes, occupied ranges, limits.

        Reads are retried by error kind under the read budget. Raises PreflightError when the
        cloud refutes the config (no such VPC, no managed table)."""
        ...

    def execute(self, action: Action) -> Pending | None:
        """Start one action, using only what the action carries (its node's and route's refs).

        None: done. A Pending: accepted and under way; `settle` says when it ends. Raises a
        CloudError kind (Throttled, Conflict, NotFound, ...) when the cloud refuses it."""
        ...

    def settle(self, pending: Sequence[Pending]) -> Sequence[Settled]:
        """Which of these finished, learned in as few calls as the cloud allows. Those still
        running are left out of the answer. A provider whose writes finish in `execute` returns ()."""
        ...

    @property
    def api_calls(self) -> Mapping[str, int]:
        """Cloud API calls made so far, by operation name, for reports and efficiency tests."""
        ...

    @property
    def api_errors(self) -> Mapping[ApiError, int]:
        """Those of `api_calls` that failed (refused, throttled, unanswered), by operation and code."""
        ...
