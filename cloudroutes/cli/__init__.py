"""The command line: plan, apply, status, destroy, reconcile, demo, sim, node-cidr, lab, schema.

Exit codes: 0 done or converged; 1 a cloud or runtime failure; 2 invalid usage, config or
input (nothing written); 3 changes pending (`plan --detailed-exitcode`, `status --check`) or a
node's subnet not assigned yet (`node-cidr`). Results go to stdout, logs to stderr. Cloud SDKs
are imported only by the command that needs them, so `--help` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cloudroutes.cli import converge, node, reconcile, sandbox, schema
from cloudroutes.cli.options import KEY_FLAGS_CONTEXT, ConfigCommand, with_key_options
from cloudroutes.cli.output import errors_as_json, out
from cloudroutes.errors import EXIT_OK

__all__ = ["app", "main"]

app = typer.Typer(
    help="Give every VM its own pod subnet and make the cloud's VPC route it there (AWS, GCE).",
    no_args_is_help=True,
    # --install-completion / --show-completion (bash, zsh, fish, PowerShell): commands, options and
    # every config key's own flag.
    add_completion=True,
    pretty_exceptions_enable=False,
)
sim_app = typer.Typer(
    help="Run an embedded cloud in the foreground, to try the commands by hand.", no_args_is_help=True
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"cloudroutes {version('cloudroutes')}", markup=False, highlight=False)
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Give every VM its own pod subnet and make the cloud's VPC route it there (AWS, GCE)."""
    errors_as_json(False)  # until a command asks for JSON: in-process runs must not inherit it


# The commands that read a config: every key is a flag of its own (--aws-vpc-id), and a malformed
# command line is one line, exit 2.
for name, command in (
    ("plan", converge.plan),
    ("apply", converge.apply),
    ("destroy", converge.destroy),
    ("status", converge.status_cmd),
    ("reconcile", reconcile.reconcile),
):
    app.command(name, cls=ConfigCommand, context_settings=KEY_FLAGS_CONTEXT)(with_key_options(command))
app.command()(sandbox.demo)
app.command("node-cidr")(node.node_cidr)
app.add_typer(sim_app, name="sim")
sim_app.command("aws")(sandbox.sim_aws)
sim_app.command("gce")(sandbox.sim_gce)
app.add_typer(sandbox.lab_app, name="lab")
app.command()(schema.schema)


def main() -> None:
    app()
