"""The main job: plan, apply, destroy and status against a real cloud (or an embedded one)."""

from __future__ import annotations

import sys
import threading
from typing import Annotated

import typer

from cloudroutes import engine, ownership, render, status
from cloudroutes.cli.options import (
    ConfigOpt,
    LogFormatOpt,
    OutputOpt,
    ProviderOpt,
    SetOpt,
    VerboseOpt,
    load_config,
    make_provider,
)
from cloudroutes.cli.output import LogFormat, Output, err, fail, guarded, out, setup_logging
from cloudroutes.config import Config
from cloudroutes.errors import EXIT_FAILED, EXIT_OK, EXIT_PENDING, EXIT_USAGE
from cloudroutes.providers.base import Provider


def plan(
    ctx: typer.Context,
    config: ConfigOpt = None,
    output: OutputOpt = Output.text,
    set_: SetOpt = None,
    provider: ProviderOpt = None,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 3 when changes are pending, 0 when none.")
    ] = False,
    verbose: VerboseOpt = False,
    log_format: LogFormatOpt = LogFormat.text,
) -> None:
    """Show what apply would change. Reads the cloud, writes nothing."""
    setup_logging(verbose, log_format)

    def body() -> int:
        cfg = load_config(config, set_, provider, ctx.args)
        cloud = make_provider(cfg)
        planned = engine.make_plan(cloud, cfg)
        foreign = ownership.foreign_routes(planned.observed, cfg.cluster)
        if output is Output.json:
            doc = {"command": "plan", "provider": cfg.provider, "cluster": cfg.cluster.name}
            doc |= render.plan_json(planned.plan, foreign) | {"api_calls": planned.observed.api_calls}
            out.print(render.dumps(doc), markup=False)
        else:
            render.print_plan(out, planned.plan, names=engine.node_names(planned.observed))
        if planned.plan.blocked:
            return EXIT_FAILED
        return EXIT_PENDING if detailed_exitcode and not planned.plan.empty else EXIT_OK

    guarded(body)


def _confirm(what: str, yes: bool, changes: int) -> None:
    if yes or changes == 0:
        return
    if not sys.stdin.isatty():
        fail(f"refusing to {what} without --yes: stdin is not a terminal (nothing was changed)", EXIT_USAGE)
    if not typer.confirm(f"{what.capitalize()} {changes} change(s)?", default=False, err=True):
        fail("cancelled; nothing was changed", EXIT_USAGE)


def _converge(
    *,
    destroy: bool,
    config: str | None,
    output: Output,
    set_: list[str] | None,
    provider: str | None,
    yes: bool,
    allow_mass_delete: bool,
    extra: list[str],
) -> int:
    cfg = load_config(config, set_, provider, extra)
    result = converge_pass(
        make_provider(cfg), cfg, output=output, yes=yes, allow_mass_delete=allow_mass_delete, destroy=destroy
    )
    return EXIT_OK if result.converged else EXIT_FAILED


def converge_pass(
    cloud: Provider,
    cfg: Config,
    *,
    output: Output,
    yes: bool,
    allow_mass_delete: bool,
    destroy: bool = False,
    stop: threading.Event | None = None,
) -> engine.Report:
    """One pass of apply (or destroy), printed: the plan, then the report. `stop`: once set, no new
    write starts (the ones in flight finish), as `reconcile` wants on SIGTERM."""
    planned = engine.make_plan(cloud, cfg, destroy=destroy)
    engine.guard(planned.plan, cfg, allow_mass_delete=allow_mass_delete or destroy)
    if output is Output.text:
        render.print_plan(out, planned.plan, names=engine.node_names(planned.observed))
    _confirm("destroy" if destroy else "apply", yes, len(planned.plan.actions))
    from cloudroutes.progress import progress_bar

    with progress_bar(err, len(planned.plan.actions), enabled=output is Output.text) as tick:
        result = engine.apply(
            cloud, cfg, planned, destroy=destroy, allow_mass_delete=allow_mass_delete, progress=tick, stop=stop
        )
    if output is Output.json:
        doc = {"command": "destroy" if destroy else "apply", "provider": cfg.provider, "cluster": cfg.cluster.name}
        out.print(render.dumps(doc | render.apply_json(result)), markup=False)
    else:
        render.print_apply(out, result)
    return result


YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask; required when stdin is not a terminal.")]
MassOpt = Annotated[
    bool, typer.Option("--allow-mass-delete", help="Allow deleting more than limits.max_delete_fraction of our routes.")
]


def apply(
    ctx: typer.Context,
    config: ConfigOpt = None,
    output: OutputOpt = Output.text,
    set_: SetOpt = None,
    provider: ProviderOpt = None,
    yes: YesOpt = False,
    allow_mass_delete: MassOpt = False,
    verbose: VerboseOpt = False,
    log_format: LogFormatOpt = LogFormat.text,
) -> None:
    """Make the cloud match: claim subnets, enable forwarding, create, re-point and delete routes."""
    setup_logging(verbose, log_format)
    guarded(
        lambda: _converge(
            destroy=False,
            config=config,
            output=output,
            set_=set_,
            provider=provider,
            yes=yes,
            allow_mass_delete=allow_mass_delete,
            extra=ctx.args,
        )
    )


def destroy(
    ctx: typer.Context,
    config: ConfigOpt = None,
    output: OutputOpt = Output.text,
    set_: SetOpt = None,
    provider: ProviderOpt = None,
    yes: YesOpt = False,
    verbose: VerboseOpt = False,
    log_format: LogFormatOpt = LogFormat.text,
) -> None:
    """Remove every route and subnet record this cluster owns. Forwarding flags are left as they are."""
    setup_logging(verbose, log_format)
    guarded(
        lambda: _converge(
            destroy=True,
            config=config,
            output=output,
            set_=set_,
            provider=provider,
            yes=yes,
            allow_mass_delete=True,
            extra=ctx.args,
        )
    )


def status_cmd(
    ctx: typer.Context,
    config: ConfigOpt = None,
    output: OutputOpt = Output.text,
    set_: SetOpt = None,
    provider: ProviderOpt = None,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 3 unless converged and every running node is ready.")
    ] = False,
    verbose: VerboseOpt = False,
    log_format: LogFormatOpt = LogFormat.text,
) -> None:
    """Per node: its subnet, its routes, its forwarding flag, and whether it is ready."""
    setup_logging(verbose, log_format)

    def body() -> int:
        cfg = load_config(config, set_, provider, ctx.args)
        planned = engine.make_plan(make_provider(cfg), cfg)
        rows = status.node_statuses(planned.observed, cfg.cluster)
        running_ready = all(r.ready for r in rows if r.state == "running")
        healthy = planned.plan.empty and not planned.plan.blocked and running_ready
        if output is Output.json:
            doc = {"command": "status", "provider": cfg.provider, "cluster": cfg.cluster.name, "converged": healthy}
            doc |= {"nodes": render.status_json(rows), "pending": render.plan_json(planned.plan)}
            out.print(render.dumps(doc), markup=False)
        else:
            render.print_status(out, rows)
            render.print_problems(out, planned.plan.problems)
            pending = len(planned.plan.actions)
            out.print("[green]Converged.[/]" if healthy else f"[yellow]Not converged: {pending} change(s) pending.[/]")
        return EXIT_PENDING if check and not healthy else EXIT_OK

    guarded(body)
