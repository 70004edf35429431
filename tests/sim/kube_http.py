"""A bare HTTP client for the Kubernetes emulator's tests: the wire as it is, no client library between."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from cloudroutes.sim.kube import DEFAULT_TOKEN, KubeSim

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def call(
    sim: KubeSim,
    method: str,
    path: str,
    body: Any = None,
    *,
    content_type: str = "application/json",
    token: str | None = DEFAULT_TOKEN,
) -> Reply:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(sim.endpoint + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(response.status, json.loads(response.read()), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Reply(error.code, json.loads(error.read()), dict(error.headers))


def patch(sim: KubeSim, name: str, body: Any, *, strategic: bool = False, status: bool = False) -> Reply:
    path = f"/api/v1/nodes/{name}" + ("/status" if status else "")
    return call(sim, "PATCH", path, body, content_type=STRATEGIC if strategic else MERGE)
