"""The command line: plan, apply, status, destroy, reconcile, demo, sim, node-cidr, lab.

Exit codes: 0 done or converged; 1 a cloud or runtime failure; 2 invalid usage, config or
input (nothing written); 3 changes pending (`plan --detailed-exitcode`, `status --check`) or a
node's subnet not assigned yet (`node-cidr`). Results go to stdout, logs to stderr. Cloud SDKs
are imported only by the command that needs them, so `--help` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cloudroutes.cli import converge, node, reconcile, sandbox
from cloudroutes.cli.options import KEY_FLAGS_CONTEXT
from cloudroutes.cli.output import out
from cloudroutes.errors import EXIT_OK

__all__ = ["app", "main"]

app = typer.Typer(
    help="Give every VM its own pod subnet and make the cloud's VPC route it there (AWS, GCE).",
    no_args_is_help=True,
    add_completion=False,
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


for command in (converge.plan, converge.apply, converge.destroy):
    app.command(context_settings=KEY_FLAGS_CONTEXT)(command)
app.command("status", context_settings=KEY_FLAGS_CONTEXT)(converge.status_cmd)
app.command("reconcile", context_settings=KEY_FLAGS_CONTEXT)(reconcile.reconcile)
app.command()(sandbox.demo)
app.command("node-cidr")(node.node_cidr)
app.add_typer(sim_app, name="sim")
sim_app.command("aws")(sandbox.sim_aws)
sim_app.command("gce")(sandbox.sim_gce)
app.add_typer(sandbox.lab_app, name="lab")


def main() -> None:
    app()
