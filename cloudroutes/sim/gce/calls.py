"""The record of every request the emulator answered, for tests that count or inspect calls."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cloudroutes.sim import loopback


@dataclass(frozen=True, slots=True)
class Call:
    method: str  # HTTP method
    path: str  # URL path, without the query string
    query: Mapping[str, str]
    body: Mapping[str, Any] | None  # parsed JSON request body
    status: int  # HTTP status answered
    response: Mapping[str, Any] | None = None  # the JSON body answered

    @property
    def is_write(self) -> bool:
        """POST, PUT and DELETE mutate; POST …/operations/{op}/wait only waits."""
        return self.method in ("POST", "PUT", "DELETE") and not self.path.endswith("/wait")


CallLog = loopback.CallLog[Call]
