"""Options every config-reading command shares, and the way they become a Config and a provider."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from cloudroutes import config as config_mod
from cloudroutes.cli.output import LogFormat, Output, errors_as_json, fail
from cloudroutes.config.values import Key, Kind
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
"""Unknown options reach the command (ctx.args), which refuses them in one line naming the option
(key_flags), instead of click's usage box."""
KEYS_PANEL = "Config keys"
_METAVARS = {
    Kind.TEXT: "TEXT",
    Kind.BOOL: "BOOL",
    Kind.INT: "INT",
    Kind.FLOAT: "NUMBER",
    Kind.LIST: "A,B",
    Kind.MAP: "K=V,K2=V2",
    Kind.CIDRS: "CIDR[,CIDR]",
}


def _key_option(key: Key) -> inspect.Parameter:
    """One config key as a typer option of its own (--aws-vpc-id), listed in --help and offered by
    shell completion. Repeatable, so that two different values are refused (load_config), not
    silently won by the last."""
    help_text = f"{key.dotted}; env {key.env}; {_default(key)}."
    metavar = "|".join(key.meta["choices"]) if "choices" in key.meta else _METAVARS[key.kind]
    option = typer.Option(key.flag, help=help_text, metavar=metavar, rich_help_panel=KEYS_PANEL, show_default=False)
    annotation = Annotated[list[str] | None, option]
    return inspect.Parameter(_param_name(key), inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def _default(key: Key) -> str:
    """As the README's key table writes it: required, the provider's, or the TOML-like default."""
    if key.required:
        return "required"
    value = key.default
    if value is None:
        return "default: the provider's"
    if isinstance(value, bool):
        return f"default: {str(value).lower()}"
    if isinstance(value, Mapping):
        value = dict(value)
    elif isinstance(value, tuple):
        value = [str(item) for item in value]
    return f"default: {json.dumps(value)}"


def _param_name(key: Key) -> str:
    return "key__" + key.dotted.replace(".", "__")


def with_key_options(command: Callable[..., None]) -> Callable[..., None]:
    """`command` (which takes `ctx` and reads its config through load_config(..., ctx.args)) with
    every config key as a real option: --help lists them under "Config keys" and completion offers
    them. Their values reach the command as before, as `--<section>-<key>=VALUE` in ctx.args."""
    keys = [key for key in config_mod.KEYS.values() if key.section]  # `provider` has --provider already

    @functools.wraps(command)
    def with_keys(*args: Any, **kwargs: Any) -> None:
        given = [f"{key.flag}={value}" for key in keys for value in kwargs.pop(_param_name(key)) or ()]
        ctx: typer.Context = kwargs["ctx"]
        ctx.args = [*given, *ctx.args]
        command(*args, **kwargs)

    signature = inspect.signature(command, eval_str=True)
    parameters = [*signature.parameters.values(), *(_key_option(key) for key in keys)]
    with_keys.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return with_keys


class ConfigCommand(TyperCommand):
    """A command that reads a config: a malformed command line (an option without its value) is one
    line and exit 2 like every other refusal, a JSON object on stdout when it asked for --output json."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        wants_json = _asks_for_json(args)
        try:
            return super().parse_args(ctx, args)
        except _USAGE_ERROR as exc:
            errors_as_json(wants_json)
            fail(exc.format_message(), EXIT_USAGE, kind="usage")


# click's UsageError, found through the one subclass typer exports: recent typer releases carry their
# own copy of click (typer._click), older ones use click itself, and either raises its own class.
_USAGE_ERROR: Any = next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "UsageError")


def _asks_for_json(args: list[str]) -> bool:
    """-o json, --output json, --output=json, -ojson: read before click parses, since parsing is what failed."""
    for index, arg in enumerate(args):
        if arg in ("-o", "--output") and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith("--output="):
            value = arg.partition("=")[2]
        elif arg.startswith("-o") and not arg.startswith("--"):
            value = arg[2:]
        else:
            continue
        if value.strip().lower() == Output.json:
            return True
    return False


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
