"""maxResults / pageToken / nextPageToken for list calls, and the shape of list responses.

A page token records the sort key of the last item returned rather than an offset, so paging stays
correct while routes are inserted and deleted between pages (the tool lists while it writes).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cloudroutes.sim.gce import errors, filters

MAX_RESULTS = 500
Resource = dict[str, Any]
Key = Callable[[Resource], tuple[str, ...]]


def max_results(query: Mapping[str, str]) -> int:
    raw = query.get("maxResults", "")
    if raw == "":
        return MAX_RESULTS
    try:
        value = int(raw)
    except ValueError:
        raise errors.invalid_value("maxResults", raw, "Must be an integer.") from None
    if not 0 <= value <= MAX_RESULTS:
        raise errors.invalid_value("maxResults", raw, f"Must be between 0 and {MAX_RESULTS}.")
    return value or MAX_RESULTS  # 0 means "the default", as in GCE


def _encode(key: tuple[str, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode(token: str) -> tuple[str, ...]:
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError):
        key = None
    if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
        raise errors.invalid_value("pageToken", token, "The page token is invalid.")
    return tuple(key)


def select(
    resources: Iterable[Resource], query: Mapping[str, str], *, fields: Iterable[str], key: Key
) -> tuple[list[Resource], str | None]:
    """Filter, order, and cut one page; returns the page and the next page's token (None on the last)."""
    order = query.get("orderBy", "")
    if order not in ("", "name"):
        raise errors.bad_request(f"orderBy '{order}' is not supported by the emulator (only 'name').")
    keep = filters.compile_filter(query.get("filter", ""), fields)
    size = max_results(query)
    ordered = sorted((r for r in resources if keep(r)), key=key)
    if token := query.get("pageToken"):
        after = _decode(token)
        ordered = [r for r in ordered if key(r) > after]
    chunk = ordered[:size]
    return chunk, (_encode(key(chunk[-1])) if len(ordered) > size else None)


def list_body(kind: str, self_link: str, list_id: str, items: list[Resource], token: str | None) -> Resource:
    body: Resource = {"kind": kind, "id": list_id, "selfLink": self_link}
    if items:  # GCE leaves `items` out of an empty page
        body["items"] = items
    if token:
        body["nextPageToken"] = token
    return body


def no_results(scope: str) -> Resource:
    """The warning an aggregated list gives a scope with nothing on this page."""
    return {
        "code": "NO_RESULTS_ON_PAGE",
        "message": f"There are no results for scope '{scope}' on this page.",
        "data": [{"key": "scope", "value": scope}],
    }
