"""`cloudroutes schema NAME`: the JSON Schema of a command's --output json, as shipped in the package."""

from __future__ import annotations

from typing import Annotated

import typer

from cloudroutes import render
from cloudroutes.cli.output import fail
from cloudroutes.errors import EXIT_USAGE


def _names(incomplete: str) -> list[str]:
    return [name for name in render.SCHEMAS if name.startswith(incomplete)]


def schema(
    name: Annotated[
        str,
        typer.Argument(
            metavar="|".join(render.SCHEMAS),
            help="A command, or `error` for the object a failed command prints under --output json.",
            autocompletion=_names,
        ),
    ],
) -> None:
    """Print the JSON Schema (draft 2020-12) that a command's --output json follows."""
    if name not in render.SCHEMAS:
        fail(f"no schema named {name!r}; one of: {', '.join(render.SCHEMAS)}", EXIT_USAGE)
    typer.echo(render.schema_text(name), nl=False)
