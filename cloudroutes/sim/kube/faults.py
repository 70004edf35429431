"""Failures and races on demand: one-shot faults per verb, and another writer slipping in. Thread-safe."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from cloudroutes.sim.kube import errors

VERBS = frozenset({"list", "get", "patch"})
SUBRESOURCES = frozenset({"", "status"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    verb: str
    subresource: str | None  # None: the main resource or the status subresource, whichever comes first
    code: int
    message: str
    retry_after: int | None

    def matches(self, verb: str, subresource: str) -> bool:
        return self.verb == verb and self.subresource in (None, subresource)

    def error(self, name: str) -> errors.ApiError:
        return errors.for_status(self.code, name, self.verb, self.message, self.retry_after)


@dataclass(frozen=True, slots=True)
class Race:
    """Another client's merge patch, landing on `name` just before the next write to it."""

    name: str
    change: dict[str, Any]


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._races: deque[Race] = deque()

    def add(self, fault: Fault) -> None:
        if fault.verb not in VERBS:
            raise ValueError(f"unknown verb {fault.verb!r}: one of {sorted(VERBS)}")
        if fault.subresource is not None and fault.subresource not in SUBRESOURCES:
            raise ValueError(f"unknown subresource {fault.subresource!r}: '', 'status' or None")
        with self._lock:
            self._faults.append(fault)

    def take(self, verb: str, subresource: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(verb, subresource):
                    self._faults.remove(fault)
                    return fault
        return None

    def add_race(self, race: Race) -> None:
        with self._lock:
            self._races.append(race)

    def take_race(self, name: str) -> Race | None:
        with self._lock:
            for race in self._races:
                if race.name == name:
                    self._races.remove(race)
                    return race
        return None
