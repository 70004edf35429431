"""The record of every request the emulator answered, for tests that count or inspect calls."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cloudroutes.sim import loopback


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    method: str  # HTTP method
    path: str  # URL path, without the query string
    query: Mapping[str, str]
    verb: str  # list, get, patch (Kubernetes audit verbs); "" for an unknown path
    subresource: str  # "status" or ""
    content_type: str
    body: Any  # parsed JSON request body, or None
    status: int  # HTTP status answered
    response: Mapping[str, Any] | None = None  # the JSON body answered

    @property
    def is_write(self) -> bool:
        return self.method in ("PATCH", "PUT", "POST", "DELETE")


CallLog = loopback.CallLog[Call]
