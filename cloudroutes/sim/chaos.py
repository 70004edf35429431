"""A seeded random fault profile every embedded cloud takes, so one fault matrix drives them all.
Each cloud's faults module says how it answers each kind (EC2: sim/ec2/chaos.py; Compute:
sim/gce/faults.py). Standard library only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Chaos:
    """Each a share of the calls it applies to (0: never)."""

    seed: int = 0
    throttle_reads: float = 0.0
    """Reads refused for their rate."""
    throttle_writes: float = 0.0
    """Writes refused for their rate (nothing happens)."""
    server_errors: float = 0.0
    """Any call answered with a server error (nothing happens)."""
    failed_operations: float = 0.0
    """Writes accepted that fail afterwards, as the cloud fails a write it took."""
