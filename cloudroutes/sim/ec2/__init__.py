"""The embedded EC2 cloud: moto's server on loopback, with AWS's route rules moto lacks, faults
(latency, throttling, EC2's token buckets, read lag) and a call log.

    from cloudroutes.sim.ec2 import Ec2Sim, seed
    with Ec2Sim(route_limit=50) as sim:
        world = seed.cluster(sim.client())

Modules: sim (Ec2Sim, the public face), server (the WSGI layer in front of moto), rules (AWS's route
rules), lag (read lag), buckets (EC2's throttling buckets), calls (the call log), errors (EC2's error
answer), backend (lookups in moto's in-process state), seed (a cluster's worth of AWS, built through
the public API).

`seed` needs no moto (it works against any EC2 endpoint), so `Ec2Sim` is imported on first use:
`from cloudroutes.sim.ec2 import seed` stays free of moto and werkzeug. Never here: any logic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cloudroutes.sim.ec2 import seed
from cloudroutes.sim.ec2.calls import Call

if TYPE_CHECKING:
    from cloudroutes.sim.ec2.sim import Ec2Sim

__all__ = ["Call", "Ec2Sim", "seed"]


def __getattr__(name: str) -> Any:
    if name == "Ec2Sim":
        from cloudroutes.sim.ec2.sim import Ec2Sim

        return Ec2Sim
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
