"""The emulated etcd: Node objects, one global revision, and a short history for consistent paging.

Every method expects the caller to hold `Store.lock` (an RLock); the server takes it once per request.
Stored objects are never changed in place: a write replaces the object, so a snapshot of the
name -> object map is a cheap, consistent view of one revision (what a `continue` token lists from).
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from cloudroutes.sim.kube import errors

Node = dict[str, Any]
Validator = Callable[[Mapping[str, Any]], list[str]]


def timestamp(now: datetime | None = None) -> str:
    """metav1.Time as JSON: RFC 3339, UTC, whole seconds."""
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    def __init__(self, *, validator: Validator | None, history: int) -> None:
        self.lock = threading.RLock()
        self.validator = validator
        self.revision = 1
        self.nodes: dict[str, Node] = {}
        self._history: OrderedDict[int, dict[str, Node]] = OrderedDict({1: {}})
        self._keep = history
        self.schema_failures: list[str] = []
        """Objects the emulator itself produced that failed the validator: each one is an emulator bug."""

    # --- reads ------------------------------------------------------------------------------------

    def get(self, name: str) -> Node:
        node = self.nodes.get(name)
        if node is None:
            raise errors.not_found(name)
        return node

    def at(self, revision: int) -> dict[str, Node] | None:
        """The objects as they stood at `revision`, or None once compacted away."""
        kept = [r for r in self._history if r <= revision]
        return self._history[kept[-1]] if kept and revision <= self.revision else None

    # --- writes -----------------------------------------------------------------------------------

    def put(self, node: Node) -> Node:
        """Store a new version: the next revision becomes its resourceVersion."""
        self.revision += 1
        stored = copy.deepcopy(node)
        stored["metadata"]["resourceVersion"] = str(self.revision)
        self.check(stored, who="stored")
        self.nodes = {**self.nodes, stored["metadata"]["name"]: stored}
        self._remember()
        return stored

    def delete(self, name: str) -> None:
        self.get(name)
        self.revision += 1
        self.nodes = {k: v for k, v in self.nodes.items() if k != name}
        self._remember()

    def _remember(self) -> None:
        self._history[self.revision] = self.nodes
        while len(self._history) > self._keep:
            self._history.popitem(last=False)

    def new_node(self, name: str, body: Node) -> Node:
        body = copy.deepcopy(body)
        meta = body.setdefault("metadata", {})
        meta.update(name=name, uid=str(uuid.uuid4()), creationTimestamp=timestamp())
        body = {"kind": "Node", "apiVersion": "v1", **body}
        return self.put(body)

    # --- the schema -------------------------------------------------------------------------------

    def problems(self, obj: Mapping[str, Any]) -> list[str]:
        return list(self.validator(obj)) if self.validator is not None else []

    def check(self, obj: Mapping[str, Any], *, who: str) -> None:
        """An object the emulator produced must pass the schema; if not, that is the emulator's bug."""
        if problems := self.problems(obj):
            failure = f"{who} {obj.get('kind', '?')} failed the schema: {'; '.join(problems)}"
            self.schema_failures.append(failure)
            raise errors.internal(failure)
