"""Reading what the CLI printed: the shapes every refusal and prompt must have, and every JSON
document checked against the JSON Schema the package ships for it."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

from jsonschema import Draft202012Validator

from cloudroutes import render

REFUSING_COMMANDS = (["plan"], ["apply", "--yes"], ["status", "--check"])


def one_line(text: str) -> bool:
    return text.strip() != "" and "\n" not in text.strip()


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def assert_refused(
    cli: Callable[..., Any], config: str, says: str, commands: Sequence[list[str]] = REFUSING_COMMANDS
) -> None:
    """Every command that reads the config refuses it: exit 2, one line, saying why."""
    for command in commands:
        result = cli(*command, "--config", config)
        assert result.exit_code == 2, result.output
        assert says in result.output, result.output
        assert one_line(result.output), result.output


# -- JSON output ---------------------------------------------------------------------------


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """The shipped schema (as `cloudroutes schema NAME` prints it), itself checked against draft 2020-12."""
    schema = json.loads(render.schema_text(name))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def asks_for_json(args: Sequence[str]) -> bool:
    """The command line asks for --output json (-o json, --output=json, -ojson)."""
    for index, arg in enumerate(args):
        value = None
        if arg in ("-o", "--output") and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith("--output="):
            value = arg.partition("=")[2]
        elif arg.startswith("-o") and not arg.startswith("--") and len(arg) > 2:
            value = arg[2:]
        if value is not None and value.strip().lower() == "json":
            return True
    return False


def parse_json(command: str, stdout: str) -> dict[str, Any]:
    """A command's --output json, read and validated: its own schema when it succeeded, the error
    object's when it failed (`{"error": ...}`). Raises on anything the schema does not allow."""
    document: dict[str, Any] = json.loads(stdout)
    name = "error" if "error" in document else command
    errors = sorted(validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, f"{command} --output json breaks {name}.schema.json: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}" for e in errors[:5]
    )
    return document


def check_json_output(args: Sequence[str], stdout: str) -> None:
    """Every run of a command that has a schema and was asked for JSON prints a document it allows
    (the `cli` fixture calls this on every run, so every test reading JSON also checks the schema)."""
    if args and args[0] in render.SCHEMAS and asks_for_json(args) and "--help" not in args:
        parse_json(args[0], stdout)
