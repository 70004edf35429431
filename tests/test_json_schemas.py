"""The JSON Schemas shipped in the package: `cloudroutes schema NAME` prints them, they are valid
draft 2020-12, strict enough to catch a field that drifts, and consistent with one another."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from cloudroutes import render
from tests.cli_output import one_line, validator

Cli = Callable[..., Any]


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(render.schema_text(name))
    return loaded


@pytest.mark.parametrize("name", render.SCHEMAS)
def test_schema_prints_the_shipped_file(cli: Cli, name: str) -> None:
    result = cli("schema", name)
    assert result.exit_code == 0, result.output
    shipped = resources.files("cloudroutes").joinpath("schemas", f"{name}.schema.json").read_text()
    assert result.stdout == shipped
    Draft202012Validator.check_schema(json.loads(result.stdout))
    assert json.loads(result.stdout)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_an_unknown_schema_is_one_line_naming_the_valid_ones(cli: Cli) -> None:
    result = cli("schema", "plans")
    assert result.exit_code == 2 and one_line(result.output), result.output
    assert all(name in result.output for name in render.SCHEMAS)


def test_every_shipped_schema_file_is_one_the_command_knows() -> None:
    files = {f.name for f in resources.files("cloudroutes").joinpath("schemas").iterdir() if f.name.endswith(".json")}
    assert files == {f"{name}.schema.json" for name in render.SCHEMAS}


@pytest.mark.parametrize("name", render.SCHEMAS)
def test_schemas_are_strict_at_every_object(name: str) -> None:
    """Every object with named properties forbids others and requires them all: a renamed or new
    field fails validation until the schema (and the README) say so."""

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if "properties" in node:
                assert node.get("additionalProperties") is False, where
                assert sorted(node.get("required", [])) == sorted(node["properties"]), where
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    walk(schema(name), name)


def test_apply_destroy_and_reconcile_share_one_shape() -> None:
    """reconcile is one apply pass shaped for schedulers: the same document but for `command`."""
    shapes = {}
    for name in ("apply", "destroy", "reconcile"):
        document = schema(name)
        assert document["properties"]["command"] == {"const": name}
        document["properties"]["command"] = None
        document.pop("title")
        shapes[name] = document
    assert shapes["apply"] == shapes["destroy"] == shapes["reconcile"]


def test_the_shared_definitions_agree_across_files() -> None:
    """Each file stands alone (no $ref across files, so any validator reads it), so a definition
    several carry is checked here to be the same everywhere."""
    seen: dict[str, tuple[str, Any]] = {}
    for name in render.SCHEMAS:
        for key, definition in schema(name).get("$defs", {}).items():
            first = seen.setdefault(key, (name, definition))
            assert first[1] == definition, f"$defs/{key} differs between {first[0]} and {name}"


def test_a_drifted_document_is_refused() -> None:
    plan = {
        "format_version": render.FORMAT_VERSION,
        "command": "plan",
        "provider": "aws",
        "cluster": "prod",
        "changes": 0,
        "blocked": False,
        "summary": {"claim": 0, "enable-forwarding": 0, "delete": 0, "replace": 0, "create": 0, "unclaim": 0},
        "actions": [],
        "problems": [],
        "foreign_routes": [],
        "api_calls": {"DescribeVpcs": 1},
    }
    assert list(validator("plan").iter_errors(plan)) == []
    assert list(validator("plan").iter_errors({**plan, "colour": "red"})), "an unknown field"
    assert list(validator("plan").iter_errors({k: v for k, v in plan.items() if k != "blocked"})), "a missing one"
    assert list(validator("plan").iter_errors({**plan, "format_version": "2.0"})), "another format"
    bad_action = {"kind": "create", "node": "n", "table": "t", "destination": "10.244.0.0/24", "subnets": []}
    assert list(validator("plan").iter_errors({**plan, "actions": [bad_action]})), "an action without its fields"
    error = render.error_json("config", "cluster.cidr is required")
    assert list(validator("error").iter_errors(error)) == []
    assert list(validator("error").iter_errors(render.error_json("config", "two\nlines"))), "one line only"
