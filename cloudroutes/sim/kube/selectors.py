"""Label selectors as `?labelSelector=` carries them, parsed and matched. Pure functions, no I/O.

The grammar of k8s.io/apimachinery/pkg/labels: requirements joined by commas, each one of
`key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`.
The numeric `gt`/`lt` forms (`key>1`) are refused: nothing here needs them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cloudroutes.sim.kube import errors

_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = rf"(?:[a-z0-9](?:[-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_NAME}"
_VALUE = rf"(?:{_NAME})?"
_SET = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s+\(([^()]*)\)\s*$")
_COMPARE = re.compile(rf"^\s*({_KEY})\s*(==|!=|=)\s*({_VALUE})\s*$")
_EXISTS = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")

Labels = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # exists, !exists, =, !=, in, notin
    values: frozenset[str] = frozenset()

    def matches(self, labels: Labels) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values  # != and notin


def _split(selector: str) -> list[str]:
    """Commas separate requirements, except inside the parentheses of a set."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(selector):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(selector[start:i])
            start = i + 1
    parts.append(selector[start:])
    return parts


def _requirement(text: str) -> Requirement:
    if found := _SET.match(text):
        values = [v.strip() for v in found.group(3).split(",")]
        if not all(re.fullmatch(_VALUE, v) for v in values):
            raise errors.bad_request(f"unable to parse requirement: invalid label value in {text.strip()!r}")
        return Requirement(found.group(1), found.group(2), frozenset(values))
    if found := _COMPARE.match(text):
        op = "=" if found.group(2) in ("=", "==") else "!="
        return Requirement(found.group(1), op, frozenset({found.group(3)}))
    if found := _EXISTS.match(text):
        return Requirement(found.group(2), "!exists" if found.group(1) else "exists")
    raise errors.bad_request(f"unable to parse requirement: {text.strip()!r} is not a valid label selector term")


def parse(selector: str) -> Callable[[Labels], bool]:
    """A predicate over a label map; an empty selector matches everything."""
    if not selector.strip():
        return lambda labels: True
    requirements = [_requirement(part) for part in _split(selector)]
    return lambda labels: all(r.matches(labels) for r in requirements)
