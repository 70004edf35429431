"""`reconcile`: `apply --yes` shaped for schedulers: one pass (a CronJob, a systemd timer), or a loop.

One pass exits as `apply` does (0 converged, 1 a cloud failure, 2 invalid config or a refused
guard: nothing written). `--interval` makes it a long-running process (a Deployment); see
cloudroutes/cli/loop.py for how the loop lives through failures and signals.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from cloudroutes import reconcile as schedule
from cloudroutes.cli.converge import MassOpt
from cloudroutes.cli.options import (
    ConfigOpt,
    LogFormatOpt,
    OutputOpt,
    ProviderOpt,
    SetOpt,
    VerboseOpt,
)
from cloudroutes.cli.output import LogFormat, Output, fail, guarded, setup_logging
from cloudroutes.errors import EXIT_USAGE


def _interval(value: str) -> float:
    try:
        return schedule.parse_duration(value)
    except ValueError as exc:
        fail(f"--interval: {exc}", EXIT_USAGE)


def _port(value: str) -> int:
    text = str(value).strip()
    if not text.isdigit() or not 0 < int(text) < 65536:
        fail(f"--metrics-port must be a TCP port, 1-65535 (got {value!r})", EXIT_USAGE)
    return int(text)


IntervalOpt = Annotated[
    float | None,
    typer.Option(
        "--interval",
        parser=_interval,
        metavar="DURATION",
        help="Loop: a pass every DURATION (60s, 5m, 1h, or seconds), jittered, backing off to one a "
        "minute while passes fail. Without it: one pass, exit status as apply's.",
    ),
]
MetricsFileOpt = Annotated[
    str | None,
    typer.Option(
        "--metrics-file",
        metavar="PATH",
        help="Write Prometheus metrics here after every pass (atomically), for node_exporter's textfile collector.",
    ),
]
MetricsPortOpt = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        parser=_port,
        metavar="N",
        help="Loop only: serve /metrics and /healthz on this port (all addresses).",
    ),
]


def reconcile(
    ctx: typer.Context,
    config: ConfigOpt = None,
    output: OutputOpt = Output.text,
    set_: SetOpt = None,
    provider: ProviderOpt = None,
    allow_mass_delete: MassOpt = False,
    interval: IntervalOpt = None,
    metrics_file: MetricsFileOpt = None,
    metrics_port: MetricsPortOpt = None,
    log_format: LogFormatOpt = LogFormat.text,
    verbose: VerboseOpt = False,
) -> None:
    """apply --yes for schedulers: one pass, or with --interval a loop (SIGTERM: finish and exit 0;
    SIGHUP: re-read the config). The mass-delete guard holds: --allow-mass-delete is never implied."""
    setup_logging(verbose, log_format)
    if interval is not None and not verbose:
        # A long-running process says one line per pass (and why a pass failed) even without -v.
        logging.getLogger("cloudroutes.reconcile").setLevel(logging.INFO)
    from cloudroutes.cli import loop

    if metrics_port is not None and interval is None:
        fail("--metrics-port needs --interval (a one-shot pass writes --metrics-file instead)", EXIT_USAGE)
    settings = loop.Settings(
        config=config,
        sets=set_,
        provider=provider,
        extra=list(ctx.args),
        output=output,
        allow_mass_delete=allow_mass_delete,
        interval=interval,
        metrics_file=metrics_file,
        metrics_port=metrics_port,
    )
    guarded(lambda: loop.run(settings))
