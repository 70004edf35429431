"""The lab: a real Linux data plane in network namespaces that behaves like an AWS VPC or a GCE network.

`up()` builds one namespace per VM (with a cbr0 bridge and two containers) around a fabric
namespace that plays the VPC router, and starts a detached daemon holding the embedded cloud: EC2
(`provider="aws"`) or the Compute Engine emulator (`provider="gce"`). The daemon programs the
fabric from the cloud's routes and forwarding flags only (AWS: the route table and source/dest
checks; GCE: the network's routes and canIpForward), and boots each VM's pod network with the
product's own `cloudroutes node-cidr`. `verify()` waits for the lab to catch up with the cloud
(settle.py), then proves the Kubernetes requirements with real TCP between the VMs the cloud still
runs; `down()` removes everything.

Imports nothing of cloudroutes outside cloudroutes.sim: the lab judges the product from outside.
"""

from __future__ import annotations

from cloudroutes.sim.lab.errors import LabError
from cloudroutes.sim.lab.lifecycle import down, host_problem, up
from cloudroutes.sim.lab.matrix import EXIT_FAILED, EXIT_OK, Check, CheckKind, Dropped, Matrix, Settle
from cloudroutes.sim.lab.probe import DEFAULT_SETTLE_S, parse_seconds, verify
from cloudroutes.sim.lab.state import DEFAULT_STATE_DIR, LabInfo, VmInfo, read_state

__all__ = [
    "DEFAULT_SETTLE_S",
    "DEFAULT_STATE_DIR",
    "EXIT_FAILED",
    "EXIT_OK",
    "Check",
    "CheckKind",
    "Dropped",
    "LabError",
    "LabInfo",
    "Matrix",
    "Settle",
    "VmInfo",
    "down",
    "host_problem",
    "parse_seconds",
    "read_state",
    "up",
    "verify",
]
