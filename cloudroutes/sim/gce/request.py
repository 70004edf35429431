"""What a handler receives: the matched method, path parameters, query and JSON body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    method_id: str  # discovery-style id, e.g. "routes.insert"
    params: Mapping[str, str]  # path parameters: project, zone, route, ...
    query: Mapping[str, str]
    body: Mapping[str, Any] | None
