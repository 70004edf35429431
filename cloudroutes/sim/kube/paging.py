"""`limit` and `continue` for list calls, with continue tokens shaped as the API server's.

A token is base64 JSON `{"v": "meta.k8s.io/v1", "rv": <revision>, "start": "<last name>\\u0000"}`, as
k8s.io/apiserver/pkg/storage/continue.go encodes it: every page of one list reads the same revision,
so a paginated list is one consistent snapshot even while nodes change between pages. A revision the
store has compacted away answers 410 Expired, as etcd's compaction makes the real server answer.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

from cloudroutes.sim.kube import errors

_VERSION = "meta.k8s.io/v1"
EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - "
    "objects that were created, modified, or deleted between the time the first chunk was returned and "
    "now may show up in the list."
)


def limit(query: Mapping[str, str]) -> int:
    """0 means no limit, as on the real server."""
    raw = query.get("limit", "")
    try:
        value = int(raw) if raw else 0
    except ValueError:
        raise errors.bad_request(f'invalid limit "{raw}": must be an integer') from None
    return max(value, 0)


def encode(revision: int, last: str) -> str:
    token = {"v": _VERSION, "rv": revision, "start": last + "\u0000"}
    return base64.b64encode(json.dumps(token, separators=(",", ":")).encode()).decode()


def decode(token: str) -> tuple[int, str]:
    """(revision, last name listed)."""
    try:
        data = json.loads(base64.b64decode(token.encode(), validate=True))
        revision, start = int(data["rv"]), str(data["start"])
        if data.get("v") != _VERSION or revision < 1 or not start.endswith("\u0000"):
            raise ValueError("not a continue token")
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion") from None
    return revision, start[:-1]
