"""Options every config-reading command shares, and the way they become a Config and a provider."""

from __future__ import annotations

from typing import Annotated

import typer

from cloudroutes import config as config_mod
from cloudroutes.cli.output import LogFormat, Output, fail
from cloudroutes.errors import EXIT_USAGE, ConfigError
from cloudroutes.providers.base import Provider

ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        envvar="CLOUDROUTES_CONFIG",
        help="Config file. Without it: CLOUDROUTES_CONFIG, else the first cloudroutes.toml found in the current "
        "directory, $XDG_CONFIG_HOME/cloudroutes (default ~/.config/cloudroutes), /etc/cloudroutes.",
    ),
]


def _output(value: str) -> Output:
    """Parsed here rather than by click's choice type: a bad value is one line and exit 2, not a usage box."""
    try:
        return Output(str(value).strip().lower())
    except ValueError:
        fail(f"--output must be one of {', '.join(Output)} (got {value!r})", EXIT_USAGE)


OutputOpt = Annotated[
    Output,
    typer.Option("--output", "-o", parser=_output, metavar="text|json", help="text for people, json for machines."),
]
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


def key_flags(args: list[str]) -> list[tuple[str, str, str]]:
    """--cluster-cidr 10.244.0.0/16 or --cluster-cidr=... -> [("--cluster-cidr", "cluster.cidr", ...)];
    anything else is an error."""
    known = {key.flag: key.dotted for key in config_mod.KEYS.values() if key.section}
    found: list[tuple[str, str, str]] = []
    rest = list(args)
    while rest:
        flag, has_value, value = rest.pop(0).partition("=")
        if flag not in known:
            raise ConfigError(f"no such option: {flag}")
        if not has_value:
            if not rest:
                raise ConfigError(f"{flag} needs a value")
            value = rest.pop(0)
        found.append((flag, known[flag], value))
    return found


ProviderOpt = Annotated[str | None, typer.Option("--provider", help="aws or gce (overrides the config).")]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        "--debug",
        help="Log every cloud action to stderr, and the cloud SDKs' own debug logs (secrets redacted).",
    ),
]


def _log_format(value: str) -> LogFormat:
    try:
        return LogFormat(str(value).strip().lower())
    except ValueError:
        fail(f"--log-format must be one of {', '.join(LogFormat)} (got {value!r})", EXIT_USAGE)


LogFormatOpt = Annotated[
    LogFormat,
    typer.Option(
        "--log-format",
        parser=_log_format,
        metavar="text|json",
        help="Logs on stderr: text for people, json for log pipelines (one object per line).",
    ),
]


def load_config(
    path: str | None, sets: list[str] | None, provider: str | None, extra: list[str] | None = None
) -> config_mod.Config:
    """File < environment < flags (--<section>-<key>, --set, --provider: one value per key among them)."""
    given: list[tuple[str, str, str]] = list(key_flags(extra or []))
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--set expects section.key=value, got {item!r}", EXIT_USAGE)
        given.append((f"--set {key.strip()}", key.strip(), value))
    if provider:
        given.append(("--provider", "provider", provider))
    overrides: dict[str, str] = {}
    origins: dict[str, str] = {}
    for origin, dotted, value in given:
        # Two flags for one key are a mistake to point out, not a race the last one wins silently.
        if dotted in overrides and overrides[dotted].strip() != value.strip():
            raise ConfigError(
                f"{dotted} given twice with different values: {origins[dotted]} {overrides[dotted]!r} "
                f"and {origin} {value!r}"
            )
        overrides[dotted], origins[dotted] = value, origin
    return config_mod.load(path, overrides=overrides, origins=origins)


def make_provider(cfg: config_mod.Config) -> Provider:
    """By name, through the registry: the CLI never imports a cloud's module itself. With
    [kubernetes] on, the Node objects join the cloud behind the same face."""
    from cloudroutes import kubernetes

    return kubernetes.provider_for(cfg)
