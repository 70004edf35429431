"""cloudroutes: one pod subnet per VM, routed by the cloud's VPC, so containers need no NAT.

The public surface is listed here and pinned by tests/test_exported_members.py. Importing the
package loads no cloud SDK: providers are imported by name, on first use.
"""

from __future__ import annotations

from cloudroutes.config import Config, from_text, load
from cloudroutes.errors import (
    CloudError,
    CloudroutesError,
    ConfigError,
    Conflict,
    Denied,
    GuardError,
    Invalid,
    NotFound,
    PreflightError,
    QuotaExceeded,
    Throttled,
    Transient,
)
from cloudroutes.model import (
    Action,
    ActionKind,
    ActionResult,
    Assignment,
    Node,
    Observed,
    Outcome,
    Plan,
    Problem,
    Route,
    Table,
)
from cloudroutes.planner import assign, plan, plan_destroy

__all__ = [
    "Action",
    "ActionKind",
    "ActionResult",
    "Assignment",
    "CloudError",
    "CloudroutesError",
    "Config",
    "ConfigError",
    "Conflict",
    "Denied",
    "GuardError",
    "Invalid",
    "Node",
    "NotFound",
    "Observed",
    "Outcome",
    "Plan",
    "PreflightError",
    "Problem",
    "QuotaExceeded",
    "Route",
    "Table",
    "Throttled",
    "Transient",
    "assign",
    "from_text",
    "load",
    "plan",
    "plan_destroy",
]
