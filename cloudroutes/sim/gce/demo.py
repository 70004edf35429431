"""A seeded emulator in the foreground: what `python -m cloudroutes.sim.gce` and the product CLI run."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from cloudroutes.sim.gce.sim import ComputeSim

REGION = "us-central1"
ZONES = ("us-central1-a", "us-central1-b")
CLUSTER_LABEL = {"cloudroutes-cluster": "demo"}


def seed_demo(sim: ComputeSim, nodes: int, *, default_route: bool = True) -> None:
    """Network 'default', subnet 10.128.0.0/20 and `nodes` VMs (node-1…) alternating over two zones.

    VMs start with canIpForward false, as GCE creates them; turning it on is the tool's job. Like every
    real GCE network, 'default' gets a 0.0.0.0/0 route to the internet gateway: a foreign route."""
    sim.add_network("default")
    sim.add_subnetwork("default", region=REGION, name="default", cidr="10.128.0.0/20")
    for n in range(1, nodes + 1):
        sim.add_instance(
            f"node-{n}",
            zone=ZONES[(n - 1) % len(ZONES)],
            ip=f"10.128.0.{10 + n}" if n < 240 else None,
            labels=CLUSTER_LABEL,
        )
    if default_route:
        sim.add_route(
            name="default-route-internet",
            dest_range="0.0.0.0/0",
            next_hop_gateway="default-internet-gateway",
            description="Default route to the Internet.",
        )


def exports(sim: ComputeSim) -> dict[str, str]:
    """What a shell needs to point cloudroutes at a seeded emulator: its address and the demo cluster."""
    return {
        "CLOUDROUTES_GCE_ENDPOINT": sim.endpoint,
        "CLOUDROUTES_GCE_PROJECT": sim.project,
        "CLOUDROUTES_GCE_EMULATOR": "true",
        "CLOUDROUTES_PROVIDER": "gce",
        "CLOUDROUTES_CLUSTER_NAME": CLUSTER_LABEL["cloudroutes-cluster"],
        "CLOUDROUTES_CLUSTER_CIDR": "10.244.0.0/16",
        "CLOUDROUTES_GCE_NETWORK": "default",
        "CLOUDROUTES_GCE_FIX_FORWARDING": "true",
    }


def serve_forever(
    nodes: int = 3,
    port: int = 0,
    out: TextIO = sys.stdout,
    *,
    project: str = "demo-project",
    op_seconds: float = 0.0,
    stop: threading.Event | None = None,
) -> None:
    """Serve until Ctrl-C (or until `stop` is set), printing the shell exports a client needs."""
    sim = ComputeSim(project=project, port=port, op_seconds=op_seconds)
    sim.start()
    try:
        seed_demo(sim, nodes)
        for key, value in exports(sim).items():
            print(f"export {key}={value}", file=out)
        out.flush()
        waiter = stop or threading.Event()
        # Wake up periodically: a plain wait() would delay Ctrl-C on some platforms.
        while not waiter.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
