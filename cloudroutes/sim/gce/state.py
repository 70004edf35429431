"""The emulated project: resources, pending operations, and the bookkeeping around them.

Every method expects the caller to hold `World.lock` (an RLock); the server takes it once per request.
Writes reserve what they need at request time (a route name, a quota slot) and land their effect when
their operation completes; `advance()` completes what is due.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudroutes.sim.gce import errors, links, model
from cloudroutes.sim.gce.faults import Faults
from cloudroutes.sim.gce.operations import Operation


class World:
    def __init__(
        self, *, project: str, op_seconds: float, routes_quota: int, wait_cap_seconds: float, faults: Faults
    ) -> None:
        self.lock = threading.RLock()
        self.project = project
        self.op_seconds = op_seconds
        self.routes_quota = routes_quota
        self.wait_cap_seconds = wait_cap_seconds
        self.faults = faults
        self._rng = random.Random()
        self._ids: set[str] = set()
        self._last_stamp = datetime.now(UTC) - timedelta(days=1)
        self.project_id = self.new_id()
        self.created = self.stamp()
        self.networks: dict[str, model.Network] = {}
        self.subnetworks: dict[tuple[str, str], model.Subnetwork] = {}  # (region, name)
        self.instances: dict[tuple[str, str], model.Instance] = {}  # (zone, name)
        self.routes: dict[str, model.Route] = {}
        self.zones: set[str] = set()  # every zone an instance was ever added to
        self.pending_inserts: set[str] = set()  # route names
        self.pending_deletes: set[str] = set()
        self.pending_instance_deletes: set[tuple[str, str]] = set()  # (zone, name)
        self.operations: dict[str, Operation] = {}
        self._request_ids: dict[tuple[str, str], str] = {}  # (method id, requestId) → operation name

    # --- clocks and identifiers -------------------------------------------------------------------

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def stamp(self) -> str:
        """An RFC 3339 timestamp, strictly later than the previous one (creation order is observable)."""
        current = max(datetime.now(UTC), self._last_stamp + timedelta(milliseconds=1))
        self._last_stamp = current
        return current.isoformat(timespec="milliseconds")

    def new_id(self) -> str:
        """A unique uint64, as a decimal string the way GCE sends int64 fields."""
        while True:
            value = str(self._rng.getrandbits(63) | 1 << 62)
            if value not in self._ids:
                self._ids.add(value)
                return value

    # --- operations -------------------------------------------------------------------------------

    def advance(self) -> None:
        """Complete every operation whose time has come, oldest first."""
        now = self.now()
        due = [op for op in self.operations.values() if not op.finished and op.done_at <= now]
        for op in sorted(due, key=lambda o: o.done_at):
            op.finish(self.stamp())

    def replay(self, method_id: str, request_id: str | None) -> dict[str, Any] | None:
        """The operation an earlier call with this requestId started, if any: retries do nothing new."""
        name = self._request_ids.get((method_id, request_id)) if request_id else None
        return None if name is None else self.render_operation(self.operations[name])

    def start_operation(
        self,
        *,
        method_id: str,
        kind: str,
        target_path: str,
        target_id: str,
        apply: Any,
        release: Any = None,
        zone: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        started = self.now()
        op = Operation(
            name=self._operation_name(),
            id=self.new_id(),
            kind=kind,
            target_link=links.link(target_path),
            target_id=target_id,
            zone=zone,
            started=started,
            done_at=started + self.op_seconds,
            insert_time=self.stamp(),
            apply=apply,
        )
        if release is not None:
            op.release = release
        if fault := self.faults.take(method_id, in_operation=True):
            op.failure = fault.error()
        self.operations[op.name] = op
        if request_id:
            self._request_ids[(method_id, request_id)] = op.name
        self.advance()  # op_seconds == 0: the operation is already DONE in the insert response
        return self.render_operation(op)

    def _operation_name(self) -> str:
        while True:
            name = f"operation-{int(time.time() * 1000)}-{self._rng.getrandbits(48):012x}"
            if name not in self.operations:
                return name

    def render_operation(self, op: Operation) -> dict[str, Any]:
        return op.render(self.project, self.now())

    def find_operation(self, name: str, zone: str | None) -> Operation:
        op = self.operations.get(name)
        if op is None or op.zone != zone:
            scope = "global" if zone is None else f"zones/{zone}"
            raise errors.not_found(f"projects/{self.project}/{scope}/operations/{name}")
        return op

    # --- lookups ----------------------------------------------------------------------------------

    def instances_by_link(self) -> dict[str, model.Instance]:
        return {model.instance_link(self.project, i.zone, i.name): i for i in self.instances.values()}

    def render_route(self, route: model.Route, by_link: dict[str, model.Instance] | None = None) -> dict[str, Any]:
        return model.render_route(self.project, route, self.instances_by_link() if by_link is None else by_link)

    def subnets_of(self, network: str) -> list[model.Subnetwork]:
        return [s for s in self.subnetworks.values() if s.network == network]

    def known_zones(self) -> list[str]:
        """Zones an aggregated list reports: those with instances, plus a, b, c of every subnet region."""
        regions = {s.region for s in self.subnetworks.values()}
        return sorted(self.zones | {f"{r}-{suffix}" for r in regions for suffix in "abc"})

    def known_regions(self) -> list[str]:
        return sorted({s.region for s in self.subnetworks.values()} | {links.region_of(z) for z in self.zones})

    def quotas(self) -> list[tuple[str, float, float]]:
        return [
            ("ROUTES", self.routes_quota, len(self.routes)),
            ("NETWORKS", 15, len(self.networks)),
            ("SUBNETWORKS", 175, len(self.subnetworks)),
            ("FIREWALLS", 200, 0),
        ]


def request_id(query: dict[str, str]) -> str | None:
    """GCE's requestId must be a UUID other than the all-zero one."""
    value = query.get("requestId")
    if not value:
        return None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.int == 0:
        raise errors.invalid_value("requestId", value, "The request ID must be a valid, non-zero UUID.")
    return value
