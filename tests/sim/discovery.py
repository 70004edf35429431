"""Google's compute v1 discovery document, turned into JSON Schema validators for the emulator tests.

google-api-python-client ships the document (`googleapiclient/discovery_cache/documents/compute.v1.json`).
Conversion: `"$ref": "X"` becomes `"#/definitions/X"`; documentation keys are dropped; every object that
lists properties gets `additionalProperties: false` (so an invented or misspelt field fails); patterns
are anchored (discovery patterns describe whole values); a request body also gets `required` from the
properties whose `annotations.required` names the method.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from jsonschema import Draft7Validator

_DROP = frozenset(
    {
        "description",
        "enumDescriptions",
        "enumDeprecated",
        "annotations",
        "format",
        "id",
        "readOnly",
        "default",
        "deprecated",
    }
)


def load_document() -> dict[str, Any] | None:
    """The discovery document, or None when googleapiclient is not installed."""
    try:
        import googleapiclient  # noqa: F401
    except ImportError:
        return None
    root = importlib.resources.files("googleapiclient")
    return json.loads((root / "discovery_cache" / "documents" / "compute.v1.json").read_text())


def to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return {"$ref": f"#/definitions/{node['$ref']}"}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or (key == "type" and value == "any"):
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(schema) for name, schema in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = to_json_schema(value)
        elif key == "pattern":
            out[key] = f"^(?:{value})$"
        else:
            out[key] = value
    if "properties" in out:
        out["additionalProperties"] = False
    return out


@dataclass(frozen=True, slots=True)
class Method:
    id: str  # e.g. "compute.routes.insert"
    http_method: str
    pattern: re.Pattern[str]
    request: str | None  # schema name of the body
    response: str | None


class Discovery:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.definitions = {name: to_json_schema(s) for name, s in document["schemas"].items()}
        self._validators: dict[tuple[str, tuple[str, ...]], Draft7Validator] = {}

    @cached_property
    def methods(self) -> list[Method]:
        found: list[Method] = []
        prefix = "/" + self.document["servicePath"]

        def walk(resources: dict[str, Any]) -> None:
            for resource in resources.values():
                for m in resource.get("methods", {}).values():
                    template = re.escape(prefix + (m.get("flatPath") or m["path"]))
                    regex = re.sub(r"\\\{\\?\+?(\w+)\\\}", r"[^/]+", template)
                    found.append(
                        Method(
                            id=m["id"],
                            http_method=m["httpMethod"],
                            pattern=re.compile(regex),
                            request=m.get("request", {}).get("$ref"),
                            response=m.get("response", {}).get("$ref"),
                        )
                    )
                walk(resource.get("resources", {}))

        walk(self.document["resources"])
        return found

    def method_for(self, http_method: str, path: str) -> Method:
        matches = [m for m in self.methods if m.http_method == http_method and m.pattern.fullmatch(path)]
        if len(matches) != 1:
            raise LookupError(f"{http_method} {path} matches {[m.id for m in matches]} in the discovery document")
        return matches[0]

    def required_for(self, schema: str, method_id: str) -> tuple[str, ...]:
        properties = self.document["schemas"][schema].get("properties", {})
        return tuple(
            sorted(n for n, p in properties.items() if method_id in p.get("annotations", {}).get("required", []))
        )

    def validator(self, schema: str, required: tuple[str, ...] = ()) -> Draft7Validator:
        key = (schema, required)
        if key not in self._validators:
            root: dict[str, Any] = {"definitions": self.definitions, "$ref": f"#/definitions/{schema}"}
            if required:
                root = {
                    "definitions": self.definitions,
                    "allOf": [{"$ref": f"#/definitions/{schema}"}],
                    "required": list(required),
                }
            self._validators[key] = Draft7Validator(root)
        return self._validators[key]

    def request_problems(self, method: Method, body: Any) -> list[str]:
        if method.request is None:
            return [] if body is None else [f"{method.id} takes no body"]
        validator = self.validator(method.request, self.required_for(method.request, method.id))
        return [_describe(e) for e in validator.iter_errors(body)]

    def response_problems(self, method: Method, body: Any) -> list[str]:
        if method.response is None:
            return []
        return [_describe(e) for e in self.validator(method.response).iter_errors(body)]


def _describe(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "<root>"
    return f"{where}: {error.message}"
