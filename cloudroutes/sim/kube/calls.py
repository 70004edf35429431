"""The record of every request the emulator answered, for tests that count or inspect calls."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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


class CallLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
