"""The call log: every EC2 request the sim answered, in order, for tests that count or inspect calls.

Which actions count as writes lives here too, since `writes()` and the write faults both ask it.
Never here: deciding an answer, or faults (sim.py, buckets.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

# The mutating actions cloudroutes and its seeds send; reads are everything else.
MUTATING = frozenset(
    {
        "CreateRoute",
        "ReplaceRoute",
        "DeleteRoute",
        "CreateTags",
        "DeleteTags",
        "ModifyInstanceAttribute",
        "ModifyNetworkInterfaceAttribute",
    }
)


@dataclass(frozen=True, slots=True)
class Call:
    action: str
    params: dict[str, str]
    status: int


class CallLog:
    """Thread-safe: the sim's server answers each request on its own thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def record(self, action: str, params: dict[str, str], status: int) -> None:
        with self._lock:
            self._calls.append(Call(action, params, status))

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.action in MUTATING]

    def count(self, actions: Iterable[str] | None = None) -> dict[str, int]:
        wanted = set(actions) if actions is not None else None
        counts: dict[str, int] = {}
        for call in self.calls:
            if wanted is None or call.action in wanted:
                counts[call.action] = counts.get(call.action, 0) + 1
        return counts

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
