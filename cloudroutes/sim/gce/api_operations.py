"""globalOperations.get/wait and zoneOperations.get/wait."""

from __future__ import annotations

import time
from typing import Any

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
