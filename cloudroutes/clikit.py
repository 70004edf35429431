"""What every command shares: consoles, options, config loading, and errors turned into exit codes."""

from __future__ import annotations

import enum
import logging
import sys
from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from cloudroutes import config as config_mod
from cloudroutes.errors import EXIT_FAILED, EXIT_USAGE, CloudError, CloudroutesError, ConfigError

# Piped or logged output gets room for full ids and CIDRs instead of rich's 80-column default.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)


class Output(enum.StrEnum):
    text = "text"
    json = "json"


ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", "-c", envvar="CLOUDROUTES_CONFIG", help="Config file [default: ./cloudroutes.toml]."),
]
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="text for people, json for machines.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a config key: section.key=value (e.g. cluster.cidr=10.244.0.0/16). Repeatable. "
        "Every key is also a flag of its own: --<section>-<key> VALUE "
        "(--cluster-cidr, --aws-vpc-id, --gce-project, ...).",
    ),
]
KEY_FLAGS_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}
"""Commands that read a config accept --<section>-<key> flags, which typer cannot list one by one."""


def key_flags(args: list[str]) -> dict[str, str]:
    """--cluster-cidr 10.244.0.0/16 or --cluster-cidr=... -> {"cluster.cidr": ...}; anything else is an error."""
    known = {
        f"--{section}-{key.replace('_', '-')}": f"{section}.{key}"
        for section, keys in config_mod.settings().items()
        for key in keys
    }
    found: dict[str, str] = {}
    rest = list(args)
    while rest:
        flag, has_value, value = rest.pop(0).partition("=")
        if flag not in known:
            raise ConfigError(f"no such option: {flag}")
        if not has_value:
            if not rest:
                raise ConfigError(f"{flag} needs a value")
            value = rest.pop(0)
        found[known[flag]] = value
    return found


ProviderOpt = Annotated[str | None, typer.Option("--provider", help="aws or gce (overrides the config).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log every cloud action to stderr.")]


def fail(message: str, code: int) -> NoReturn:
    # One line, never wrapped: cron mails and CI logs grep for it.
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise typer.Exit(code)


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "google"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def load_config(
    path: str | None, sets: list[str] | None, provider: str | None, extra: list[str] | None = None
) -> config_mod.Config:
    """File < environment < flags (--<section>-<key>, then --set, then --provider)."""
    overrides: dict[str, str] = key_flags(extra or [])
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--set expects section.key=value, got {item!r}", EXIT_USAGE)
        overrides[key.strip()] = value
    if provider:
        overrides["provider"] = provider
    return config_mod.load(path, overrides=overrides)


def guarded(body: Callable[[], int]) -> NoReturn:
    """Turn our errors into one line and the documented exit code; never a traceback."""
    try:
        code = body()
    except CloudroutesError as exc:
        prefix = f"{exc.kind}: " if isinstance(exc, CloudError) else ""
        fail(f"{prefix}{exc.message}", exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_FAILED)
    raise typer.Exit(code)


def make_provider(cfg: config_mod.Config) -> Any:
    from cloudroutes import providers

    return providers.create(cfg.provider, cfg)
