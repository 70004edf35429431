"""The provider contract: one read, one write, and the error kinds in between.

Like the Kubernetes cloud-provider `Routes` interface, but with the snapshot and the error
taxonomy explicit. Everything cloud-specific (ENI ids, self links, tag encodings, operation
polling) stays behind it; everything decided (which subnet, which route goes) stays in the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from cloudroutes.model import Action, Observed


class Provider(Protocol):
    def observe(self) -> Observed:
        """One consistent snapshot: nodes, managed tables with their routes, occupied ranges, limits.

        Raises PreflightError when the cloud refutes the config (no such VPC, no managed table).
        """
        ...

    def execute(self, action: Action) -> None:
        """Perform one action; raise a CloudError kind (Throttled, Conflict, NotFound, ...) on failure."""
        ...

    # Optional: `write_budgets: Mapping[ActionKind, tuple[int, float]]`, the (burst, per second)
    # of writes the cloud meters apart from the main write bucket. Read with getattr by the executor.

    @property
    def api_calls(self) -> Mapping[str, int]:
        """Cloud API calls made so far, by operation name, for reports and efficiency tests."""
        ...
