"""The Node, NodeList and Status schemas kubernetes-validate ships, as a validator for the Kubernetes emulator.

kubernetes-validate packages the OpenAPI-derived JSON Schemas of every Kubernetes release; the
"-local-strict" flavour sets additionalProperties false everywhere, so an invented or misspelt field
fails. Its `validate()` finds a schema by kind and apiVersion, which cannot name meta/v1 Status (served
as apiVersion v1), so the three schemas are loaded here from the package's files, offline, with the
same registry `validate()` builds. Times are checked against metav1.Time's JSON form.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

_FILES = {"Node": "node-v1.json", "NodeList": "nodelist-v1.json", "Status": "status-meta-v1.json"}
# metav1.Time marshals as RFC 3339 in UTC with whole seconds: 2026-01-02T03:04:05Z.
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")

_formats = FormatChecker(formats=())


@_formats.checks("date-time")
def _is_time(value: object) -> bool:
    return not isinstance(value, str) or bool(_TIME.fullmatch(value))


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", name.split("-")[0]))


@cache
def schema_dir() -> Any:
    root = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    strict = [d for d in root.iterdir() if d.name.endswith("-local-strict")]
    return max(strict, key=lambda d: _version_key(d.name))


@cache
def _validators() -> dict[str, Draft202012Validator]:
    folder = schema_dir()
    definitions = Resource.from_contents(json.loads((folder / "_definitions.json").read_text()))
    schemas = {kind: json.loads((folder / name).read_text()) for kind, name in _FILES.items()}
    registry: Registry = Registry()
    registry = definitions @ registry
    for schema in schemas.values():
        registry = Resource.from_contents(schema) @ registry
    return {
        kind: Draft202012Validator(schema, registry=registry, format_checker=_formats)
        for kind, schema in schemas.items()
    }


def problems(obj: Mapping[str, Any]) -> list[str]:
    """Everything wrong with `obj` by its kind's schema; a kind the emulator never sends is wrong too."""
    validator = _validators().get(str(obj.get("kind")))
    if validator is None:
        return [f"kind {obj.get('kind')!r} is not one the emulator may send (Node, NodeList, Status)"]
    found = []
    for error in validator.iter_errors(dict(obj)):
        where = "/".join(str(p) for p in error.absolute_path) or "<root>"
        found.append(f"{where}: {error.message}")
    return found
