"""globalOperations.get/wait/list and zoneOperations.get/wait/list."""

from __future__ import annotations

import time
from typing import Any

from cloudroutes.sim.gce import links, model, paging
from cloudroutes.sim.gce.request import Request
from cloudroutes.sim.gce.state import World


def get_operation(world: World, req: Request) -> dict[str, Any]:
    return world.render_operation(world.find_operation(req.params["operation"], req.params.get("zone")))


def wait_operation(world: World, req: Request) -> dict[str, Any]:
    """Block until the operation is DONE or the wait cap passes, then return it as it stands.

    GCE caps a wait at about two minutes; the emulator's cap is `wait_cap_seconds` (default 2 s) so a
    client that loops on wait is exercised without slowing tests. The lock is released while sleeping.
    """
    with world.lock:
        deadline = world.now() + world.wait_cap_seconds
    while True:
        with world.lock:
            world.advance()
            op = world.find_operation(req.params["operation"], req.params.get("zone"))
            now = world.now()
            if op.finished or now >= deadline:
                return world.render_operation(op)
            pause = min(op.done_at, deadline) - now
        time.sleep(max(pause, 0.001))


def list_operations(world: World, req: Request) -> dict[str, Any]:
    """One scope's operations (global, or one zone's), filtered and paged like any list: a caller
    learns the state of many operations in one call (`name = "a" OR name = "b" ...`)."""
    zone = req.params.get("zone")
    rendered = [world.render_operation(op) for op in world.operations.values() if op.zone == zone]
    items, token = paging.select(rendered, req.query, fields=model.OPERATION_FIELDS, key=lambda o: (o["name"],))
    scope = f"projects/{world.project}/global" if zone is None else links.zone_path(world.project, zone)
    path = f"{scope}/operations"
    return paging.list_body("compute#operationList", links.link(path), path, items, token)
