"""A small in-memory cloud for engine tests: the route controller's fakecloud, with httpx's MockTransport idea.

`FakeProvider` keeps nodes by name, routes per table keyed by destination (a cloud's own
uniqueness: one route per destination per table), and a log of every call. It applies every
action kind to that state, so a second `observe()` shows what the first apply did. Pass
`on_execute(action)` to make a chosen call fail: it runs before the state changes, and whatever
it raises (Throttled, Conflict, ...) is what the executor sees.

With `operation_polls=N` every write is an operation, as on GCE: `execute` returns a Pending and
the write takes effect when the N-th `settle` after it answers; `on_settle(action)` may return
the error that operation ends with (its write then has no effect).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network

from cloudroutes.errors import CloudError, Conflict, NotFound, QuotaExceeded
from cloudroutes.model import (
    Action,
    ActionKind,
    IPNetwork,
    Node,
    NodeName,
    NodeObject,
    NodeState,
    Observed,
    Route,
    Table,
    TableKey,
    Target,
)
from cloudroutes.providers.base import ApiError, Budget, Capabilities, Pending, Settled, api_error

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

OnExecute = Callable[[Action], None]
OnSettle = Callable[[Action], CloudError | None]
UNMETERED = Budget(family="writes", burst=1_000_000, rate=1_000_000.0)


def net(text: str) -> IPNetwork:
    return ip_network(text)


def node(
    name: str,
    *,
    age: int = 0,
    recorded: Iterable[str | IPNetwork] = (),
    forwarding: bool = True,
    state: NodeState = NodeState.RUNNING,
) -> Node:
    """A node launched `age` minutes after EPOCH (a lower age is the senior node)."""
    return Node(
        name=NodeName(name),
        state=state,
        launched_at=EPOCH + timedelta(minutes=age),
        forwarding=forwarding,
        recorded=tuple(net(s) if isinstance(s, str) else s for s in recorded),
    )


def route(
    table: str,
    destination: str | IPNetwork,
    to: str | None,
    *,
    marked: bool = True,
    to_vm: bool = True,
    exact: bool = True,
    counted: bool = True,
    hop: str = "",
    target: Target = Target.GONE,
    target_cluster: str = "",
) -> Route:
    """`target` (and `target_cluster`) say what the VM is when `to` is None: gone unless told."""
    dest = net(destination) if isinstance(destination, str) else destination
    return Route(
        table=TableKey(table),
        destination=dest,
        node=NodeName(to) if to is not None else None,
        to_vm=to_vm,
        target=target,
        target_cluster=target_cluster,
        marked=marked,
        exact=exact,
        counted=counted,
        hop=hop or (to or "eni-dead"),
        ref=f"{table}/{dest}",
    )


class FakeProvider:
    """Implements the Provider protocol over dicts; thread-safe (the executor runs a phase in a pool)."""

    def __init__(
        self,
        *,
        nodes: Iterable[Node] = (),
        tables: Mapping[str, Iterable[Route]] | Iterable[str] = ("rt-a",),
        limits: Mapping[str, int | None] | None = None,
        occupied: Iterable[str | IPNetwork] = (),
        quota_hint: str = "",
        on_execute: OnExecute | None = None,
        fixes_forwarding: bool = True,
        node_write_order: tuple[ActionKind, ...] = (),
        operation_polls: int = 0,
        on_settle: OnSettle | None = None,
        node_objects: Iterable[NodeObject] = (),
    ) -> None:
        self.nodes: dict[NodeName, Node] = {n.name: n for n in nodes}
        items = tables.items() if isinstance(tables, Mapping) else ((t, ()) for t in tables)
        self.routes: dict[TableKey, dict[IPNetwork, Route]] = {
            TableKey(key): {r.destination: r for r in routes} for key, routes in items
        }
        self.limits: dict[TableKey, int | None] = {TableKey(k): v for k, v in (limits or {}).items()}
        self.occupied = tuple(net(o) if isinstance(o, str) else o for o in occupied)
        self.quota_hint = quota_hint
        self.on_execute = on_execute
        self.calls: list[Action] = []
        """Every execute() call, in order, including the ones that raised."""
        self.capabilities = Capabilities(
            fixes_forwarding=fixes_forwarding,
            write_budgets=dict.fromkeys(ActionKind, UNMETERED),
            read_budget=UNMETERED,
            node_write_order=node_write_order,
        )
        self.node_objects: dict[str, NodeObject] = {n.name: n for n in node_objects}
        """Kubernetes Node objects by name: publish sets podCIDRs only from empty, as the API server does."""
        self.operation_polls = operation_polls
        self.on_settle = on_settle
        self.settles = 0
        """settle() calls made: each one is a single batched ask, whatever the number of operations."""
        self._operations: dict[str, tuple[Action, int]] = {}
        self.peak_operations = 0
        """The most operations ever in flight at once."""
        self._counts: Counter[str] = Counter()
        self._errors: Counter[ApiError] = Counter()
        self._lock = threading.RLock()

    @classmethod
    def from_observed(cls, observed: Observed, **kwargs: object) -> FakeProvider:
        fake = cls(
            nodes=observed.nodes,
            tables={t.key: t.routes for t in observed.tables},
            limits={t.key: t.limit for t in observed.tables},
            occupied=observed.occupied,
            **kwargs,  # type: ignore[arg-type]
        )
        return fake

    # -- the contract ----------------------------------------------------------------------

    @property
    def api_calls(self) -> Mapping[str, int]:
        with self._lock:
            return dict(self._counts)

    @property
    def api_errors(self) -> Mapping[ApiError, int]:
        with self._lock:
            return dict(self._errors)

    def observe(self) -> Observed:
        with self._lock:
            self._counts["observe"] += 1
            tables = tuple(
                Table(
                    key=key,
                    routes=tuple(self._as_seen(r) for r in routes.values()),
                    limit=self.limits.get(key),
                    quota_hint=self.quota_hint,
                )
                for key, routes in self.routes.items()
            )
            objects = tuple(dataclasses.replace(n, ref=n.name) for n in self.node_objects.values())
            return Observed(
                nodes=tuple(self.nodes.values()), tables=tables, occupied=self.occupied, node_objects=objects
            )

    def execute(self, action: Action) -> Pending | None:
        with self._lock:
            self.calls.append(action)
            self._counts[str(action.kind)] += 1
        if self.on_execute is not None:
            try:
                self.on_execute(action)
            except CloudError as exc:
                with self._lock:
                    self._errors[api_error(str(action.kind), exc)] += 1
                raise
        with self._lock:
            if self.operation_polls:
                handle = f"op-{len(self.calls)}"
                self._operations[handle] = (action, self.settles + self.operation_polls)
                self.peak_operations = max(self.peak_operations, len(self._operations))
                return Pending(action=action, handle=handle)
            self._apply(action)
        return None

    def settle(self, pending: Sequence[Pending]) -> Sequence[Settled]:
        with self._lock:
            self.settles += 1
            self._counts["settle"] += 1
            finished = []
            for item in pending:
                action, due = self._operations.get(item.handle, (item.action, 0))
                if due > self.settles:
                    continue
                self._operations.pop(item.handle, None)
                error = self.on_settle(action) if self.on_settle else None
                if error is None:
                    try:
                        self._apply(action)
                    except CloudError as exc:
                        error = exc
                finished.append(Settled(pending=item, error=error))
            return finished

    # -- helpers for tests -----------------------------------------------------------------

    def terminate(self, name: str) -> None:
        """The VM goes away; its routes stay and show a dead target, as a cloud shows them."""
        with self._lock:
            del self.nodes[NodeName(name)]

    def table(self, key: str) -> dict[IPNetwork, NodeName | None]:
        """A table as destination -> target node: the end state tests assert on."""
        with self._lock:
            return {dest: self._as_seen(r).node for dest, r in self.routes[TableKey(key)].items()}

    def writes(self) -> int:
        with self._lock:
            return len(self.calls)

    # -- state changes ---------------------------------------------------------------------

    def _as_seen(self, r: Route) -> Route:
        """A route to a VM that no longer exists targets nothing live (AWS: a blackhole)."""
        if r.node is not None and r.node not in self.nodes:
            return dataclasses.replace(r, node=None, blackhole=True, exact=False)
        return r

    def _apply(self, action: Action) -> None:
        match action.kind:
            case ActionKind.PUBLISH:
                held = self.node_objects[action.ref]
                if held.pod_cidrs and set(held.pod_cidrs) != set(action.subnets):
                    raise Conflict(f"Node {action.ref} already holds {held.pod_cidrs}")
                self.node_objects[action.ref] = dataclasses.replace(held, pod_cidrs=action.subnets)
            case ActionKind.MARK_ROUTED | ActionKind.MARK_UNROUTED:
                routed = action.kind is ActionKind.MARK_ROUTED
                self.node_objects[action.ref] = dataclasses.replace(self.node_objects[action.ref], routed=routed)
            case ActionKind.CLAIM:
                self._set_node(action, recorded=action.subnets)
            case ActionKind.UNCLAIM:
                self._set_node(action, recorded=())
            case ActionKind.ENABLE_FORWARDING:
                self._set_node(action, forwarding=True)
            case ActionKind.CREATE:
                routes = self._routes(action)
                assert action.destination is not None
                if action.destination in routes:
                    raise Conflict(f"route {action.destination} already exists in {action.table}")
                self._live(action)
                limit = self.limits.get(TableKey(action.table or ""))
                if limit is not None and sum(1 for r in routes.values() if r.counted) >= limit:
                    raise QuotaExceeded(f"{action.table}: route limit {limit} reached")
                routes[action.destination] = self._new_route(action)
            case ActionKind.REPLACE:
                routes = self._routes(action)
                assert action.destination is not None
                if action.destination not in routes:
                    raise Conflict(f"route {action.destination} vanished from {action.table}")
                self._live(action)
                routes[action.destination] = self._new_route(action)
            case ActionKind.DELETE:
                routes = self._routes(action)
                if action.destination not in routes:
                    raise NotFound(f"no route {action.destination} in {action.table}")
                del routes[action.destination]  # type: ignore[arg-type]

    def _set_node(self, action: Action, **changes: object) -> None:
        current = self._live(action)
        self.nodes[current.name] = dataclasses.replace(current, **changes)  # type: ignore[arg-type]

    def _live(self, action: Action) -> Node:
        if action.node is None or action.node not in self.nodes:
            raise NotFound(f"no instance {action.node}")
        return self.nodes[action.node]

    def _routes(self, action: Action) -> dict[IPNetwork, Route]:
        if action.table is None or action.table not in self.routes:
            raise NotFound(f"no route table {action.table}")
        return self.routes[action.table]

    @staticmethod
    def _new_route(action: Action) -> Route:
        assert action.table is not None and action.destination is not None
        return route(action.table, action.destination, action.node)


def apply_plan(fake: FakeProvider, actions: Iterable[Action]) -> None:
    """Apply actions straight to the fake, in plan order, with no executor in between."""
    for action in actions:
        fake.execute(action)
