"""`ComputeSim`: the embedded GCE Compute Engine emulator's public face.

One object owns the world (resources and operations), the fault switches, the call log and the HTTP
server. Test-side methods change the world directly and take the same lock the server takes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cloudroutes.sim import loopback
from cloudroutes.sim.chaos import Chaos
from cloudroutes.sim.gce import faults, model, seed
from cloudroutes.sim.gce.calls import Call, CallLog
from cloudroutes.sim.gce.permissions import Permissions
from cloudroutes.sim.gce.server import Dispatcher, serve
from cloudroutes.sim.gce.state import World


class ComputeSim(loopback.Served, loopback.LoggedCalls[Call]):
    def __init__(
        self,
        project: str = "demo-project",
        *,
        op_seconds: float = 0.0,
        rate_limit_every: int = 0,
        routes_quota: int = 250,
        port: int = 0,
        host: str = "127.0.0.1",
        wait_cap_seconds: float = 2.0,
    ) -> None:
        self._faults = faults.Faults()
        self._limiter = faults.RateLimiter(rate_limit_every)
        self._calls = CallLog()
        self._permissions = Permissions()
        self._world = World(
            project=project,
            op_seconds=op_seconds,
            routes_quota=routes_quota,
            wait_cap_seconds=wait_cap_seconds,
            faults=self._faults,
        )
        self._host, self._port = host, port

    def _serve(self) -> loopback.HttpServer:
        return serve(Dispatcher(self._world, self._limiter, self._calls, self._permissions), self._host, self._port)

    @property
    def project(self) -> str:
        return self._world.project

    # --- knobs ------------------------------------------------------------------------------------

    @property
    def rate_limit_every(self) -> int:
        return self._limiter.every

    @rate_limit_every.setter
    def rate_limit_every(self, value: int) -> None:
        self._limiter.every = value  # also restarts the count

    @property
    def routes_quota(self) -> int:
        return self._world.routes_quota

    @routes_quota.setter
    def routes_quota(self, value: int) -> None:
        with self._world.lock:
            self._world.routes_quota = value

    @property
    def op_seconds(self) -> float:
        return self._world.op_seconds

    @op_seconds.setter
    def op_seconds(self, value: float) -> None:
        """Applies to operations started from now on."""
        with self._world.lock:
            self._world.op_seconds = value

    def grant_only(self, permissions: Iterable[str] | None) -> None:
        """Permission mode: from now on a call needing a permission outside `permissions` (a custom
        role's includedPermissions) is refused with GCE's 403 "Required '...' permission for '...'".
        None: every call allowed again."""
        self._permissions.grant(permissions)

    def set_chaos(self, chaos: Chaos) -> None:
        """Seeded random faults from now on (Chaos() turns them off)."""
        self._faults.set_chaos(chaos)

    def trip_after(self, writes: int, action: Callable[[], None]) -> None:
        """Call `action` once the `writes`-th write from now on has landed, before its answer leaves."""
        self._faults.trip_after(writes, action)

    def fail_next(
        self,
        operation_kind: str,
        *,
        http_status: int = 503,
        reason: str = "backendError",
        message: str = "Backend Error",
        in_operation: bool = False,
    ) -> None:
        """Make the next call of `operation_kind` (a discovery id: "routes.insert", "routes.delete",
        "instances.update", "instances.setLabels", "instances.delete", or any read such as "routes.list") fail once.

        `in_operation=False`: the HTTP call itself answers `http_status`. `in_operation=True`: the call
        succeeds and returns an operation that ends DONE with `error`, and the write has no effect."""
        self._faults.add(
            faults.Fault(
                method_id=operation_kind,
                http_status=http_status,
                reason=reason,
                message=message,
                in_operation=in_operation,
            )
        )

    # --- seeding ----------------------------------------------------------------------------------

    def add_network(self, name: str) -> str:
        with self._world.lock:
            return seed.add_network(self._world, name)

    def add_subnetwork(
        self, network: str, *, region: str, name: str, cidr: str, secondary: Mapping[str, str] | None = None
    ) -> str:
        with self._world.lock:
            return seed.add_subnetwork(self._world, network, region=region, name=name, cidr=cidr, secondary=secondary)

    def add_instance(
        self,
        name: str,
        *,
        zone: str,
        network: str = "default",
        ip: str | None = None,
        labels: Mapping[str, str] | None = None,
        can_ip_forward: bool = False,
        status: str = "RUNNING",
    ) -> str:
        with self._world.lock:
            return seed.add_instance(
                self._world,
                name,
                zone=zone,
                network=network,
                ip=ip,
                labels=labels,
                can_ip_forward=can_ip_forward,
                status=status,
            )

    def set_instance_status(self, zone: str, name: str, status: str) -> None:
        with self._world.lock:
            seed.set_instance_status(self._world, zone, name, status)

    def delete_instance(self, zone: str, name: str) -> None:
        with self._world.lock:
            seed.delete_instance(self._world, zone, name)

    def add_route(
        self,
        *,
        name: str,
        dest_range: str,
        next_hop_instance: str | None = None,
        next_hop_gateway: str | None = None,
        next_hop_ip: str | None = None,
        description: str = "",
        priority: int = 1000,
        network: str = "default",
        tags: Iterable[str] = (),
    ) -> str:
        with self._world.lock:
            return seed.add_route(
                self._world,
                name=name,
                dest_range=dest_range,
                next_hop_instance=next_hop_instance,
                next_hop_gateway=next_hop_gateway,
                next_hop_ip=next_hop_ip,
                description=description,
                priority=priority,
                network=network,
                tags=tags,
            )

    def remove_route(self, name: str) -> None:
        with self._world.lock:
            seed.remove_route(self._world, name)

    # --- observation ------------------------------------------------------------------------------

    def routes(self) -> list[dict[str, Any]]:
        """Every route as GCE JSON (with warnings), sorted by name; completes due operations first."""
        with self._world.lock:
            self._world.advance()
            by_link = self._world.instances_by_link()
            return [self._world.render_route(r, by_link) for _, r in sorted(self._world.routes.items())]

    def instances(self) -> list[dict[str, Any]]:
        with self._world.lock:
            self._world.advance()
            ordered = sorted(self._world.instances.values(), key=lambda i: (i.zone, i.name))
            return [model.render_instance(self._world.project, i) for i in ordered]

    def operations(self) -> list[dict[str, Any]]:
        with self._world.lock:
            self._world.advance()
            return [self._world.render_operation(op) for op in self._world.operations.values()]
