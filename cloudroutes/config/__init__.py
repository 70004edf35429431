"""Configuration: a TOML file, overridden by CLOUDROUTES_<SECTION>_<KEY> variables, overridden by flags.

The settings are the fields of the dataclasses below and of model.Cluster, read once into KEYS:
a field added there is a key of the file, an environment variable and a flag, parsed by its
type, listed nowhere else. Field metadata says what a type cannot: "key" (the name users write,
when it is not the field's; None: not a setting), "range" (inclusive bounds; any other number
must be above 0), "url" (empty or an http(s) URL), "choices", "one_or_many" (a lone value is a
list of one), "was" (where a moved key used to live), "example" (shown when a required key is
missing).

Everything is validated here, before any cloud call, so a bad value costs nothing but a
one-line ConfigError (exit 2). Past this module, ranges are `ipaddress` networks, never strings.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from cloudroutes.config.values import ENV_PREFIX, Key, convert, kind_of, parse_text
from cloudroutes.errors import ConfigError
from cloudroutes.model import Cluster, IPNetwork, KubeMode

PROVIDERS = ("aws", "gce")
FILE_NAME = "cloudroutes.toml"
SYSTEM_FILE = Path("/etc/cloudroutes") / FILE_NAME
# CLOUDROUTES_* variables that are not config keys but are read elsewhere: the config file's path
# (here, and by --config), node-cidr's metadata URL, the lab's state directory, the Terraform
# tests' provider mirror, the test suite's fault sweep. Any other CLOUDROUTES_* name is a typo or a
# key that no longer exists.
NOT_SETTINGS = frozenset(
    {
        "CLOUDROUTES_CONFIG",
        "CLOUDROUTES_IMDS_URL",
        "CLOUDROUTES_LAB_DIR",
        "CLOUDROUTES_TF_PLUGIN_DIR",
        "CLOUDROUTES_FAULT_SWEEP",
    }
)
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class AwsConfig:
    region: str = ""
    """Empty: AWS_REGION, then AWS_DEFAULT_REGION (the SDKs' order)."""
    profile: str = ""
    """A named profile of the standard AWS config files; empty: the default chain."""
    endpoint: str = field(default="", metadata={"url": True})
    """The EC2 endpoint URL; empty: boto3's own resolution (which honours AWS_ENDPOINT_URL)."""
    emulator: bool = False
    """Fixed dummy credentials, for an embedded cloud; only when asked, never inferred from the endpoint."""
    vpc_id: str = ""
    route_tables: tuple[str, ...] = ()
    node_tags: Mapping[str, str] = field(default_factory=dict)
    route_limit: int = 50
    """Routes per table when Service Quotas cannot tell (AWS default for L-93826ACB)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GceConfig:
    project: str = ""
    network: str = "default"
    zones: tuple[str, ...] = ()
    node_labels: Mapping[str, str] = field(default_factory=dict)
    priority: int = field(default=1000, metadata={"range": (0, 65535)})  # GCE's route priority range
    fix_forwarding: bool = False
    endpoint: str = field(default="", metadata={"url": True})
    """The Compute API's root URL (an emulator's); empty: Google's."""
    emulator: bool = False
    """Anonymous credentials, for an embedded cloud; only when asked, never inferred from the endpoint."""
    op_poll_burst: int = field(default=5, metadata={"was": "limits.op_poll_burst"})
    """Operation polls that may start at once ..."""
    op_poll_rate: float = field(default=5.0, metadata={"was": "limits.op_poll_rate"})
    """... and per second after that: operations in flight are asked about in batches, and each
    ask spends the project's read quota (the Kubernetes GCE provider polls at 5/s)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KubernetesConfig:
    mode: str = field(default="off", metadata={"choices": tuple(m.value for m in KubeMode)})
    """off; publish: cloudroutes assigns and each Node is told its podCIDR; adopt: the Nodes'
    podCIDRs (kube-controller-manager --allocate-node-cidrs) are the assignment."""
    kubeconfig: str = ""
    """Empty: KUBECONFIG, then ~/.kube/config, then the in-cluster service account."""
    context: str = ""
    """A context of the kubeconfig; empty: its current context."""

    @property
    def kube_mode(self) -> KubeMode:
        return KubeMode(self.mode)


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    write_burst: int | None = None
    """Client-side token bucket for mutating calls; None: the provider's own default budget ..."""
    write_rate: float | None = None
    """... and its refill per second (AWS's EC2 mutating bucket: 50, refilled 5/s per account and region)."""
    read_burst: int | None = None
    """The same for reads; None: the provider's own default budget."""
    read_rate: float | None = None
    concurrency: int = 16
    """Calls in flight at once; the buckets, not this, bound the rate."""
    max_in_flight: int = 500
    """Writes the cloud may be carrying out at once (GCE operations), awaited without holding a call slot.
    The Kubernetes route controller allows 200; a GCE operation takes 4-15 s, so at 200 a 250-node
    converge (500 writes) waits three operation latencies. The per-minute write quota (1,500 assumed)
    still bounds how fast they start."""
    max_attempts: int = 6
    """Tries per action on Throttled/Transient, with jittered exponential backoff."""
    backoff_max: float = 20.0
    """Longest single wait between tries, in seconds."""
    conflict_rounds: int = 3
    """Observe-and-replan rounds after a Conflict before giving up on the pass."""
    max_delete_fraction: float = field(default=0.5, metadata={"range": (0, 1)})
    """A pass deleting more than this share of our routes needs --allow-mass-delete."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    provider: str = field(metadata={"choices": PROVIDERS})
    cluster: Cluster
    aws: AwsConfig = AwsConfig()
    gce: GceConfig = GceConfig()
    kubernetes: KubernetesConfig = KubernetesConfig()
    limits: Limits = Limits()
    source: str = field(default="", metadata={"key": None})
    """The file the config came from; "" when none."""


# -- the key table, derived once ------------------------------------------------------------


def _sections() -> dict[str, type[Any]]:
    hints = get_type_hints(Config)
    return {f.name: hints[f.name] for f in dataclasses.fields(Config) if dataclasses.is_dataclass(hints[f.name])}


def _keys_of(cls: type[Any], section: str) -> Iterator[Key]:
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        name = f.metadata.get("key", f.name)
        if name is None or f.name in SECTIONS:
            continue
        kind, optional = kind_of(hints[f.name])
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        yield Key(
            section=section, name=name, attr=f.name, kind=kind, optional=optional, default=default, meta=f.metadata
        )


SECTIONS = _sections()
KEYS: dict[str, Key] = {
    key.dotted: key
    for section, cls in [("", Config), *SECTIONS.items()]
    for key in _keys_of(cls, section if cls is not Config else "")
}
"""Every setting by its dotted name (provider, cluster.cidr, aws.vpc_id, ...)."""
_MOVED = {key.meta["was"]: key.dotted for key in KEYS.values() if "was" in key.meta}


def settings() -> dict[str, tuple[str, ...]]:
    """Every settable key of a section, by section: what env variables and flags may name."""
    return {section: tuple(key.name for key in KEYS.values() if key.section == section) for section in SECTIONS}


# -- where values come from ----------------------------------------------------------------


def load(
    path: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    origins: Mapping[str, str] | None = None,
) -> Config:
    """Read, merge and validate. `overrides` are `section.key=value` pairs from flags; `origins`
    names the flag each came from, for error messages (default: --set)."""
    env = os.environ if env is None else env
    found, looked = find_file(path, env)
    values = _file_values(_read(found)) if found else {}
    values |= _env_values(env)
    values |= _flag_values(overrides or {}, origins or {})
    if not values.get("aws.region"):
        values["aws.region"] = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
    if found is None:
        missing = [key.dotted for key in KEYS.values() if key.required and not values.get(key.dotted)]
        if missing:
            shown = ", ".join(str(p) if p.is_absolute() else f"./{p}" for p in looked)
            raise ConfigError(f"no config file found (looked for {shown}) and nothing sets {', '.join(missing)}")
    return _build(values, str(found or ""))


def from_text(text: str, *, source: str = "<text>") -> Config:
    """A config given as TOML text (the demo shows its config but keeps no file)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    return _build(_file_values(raw), source)


def search_path(env: Mapping[str, str]) -> tuple[Path, ...]:
    """Where a config file is looked for when none is named, in order: the first that exists wins."""
    xdg = env.get("XDG_CONFIG_HOME", "")
    # The XDG Base Directory spec: unset, empty or relative means $HOME/.config.
    base = Path(xdg) if os.path.isabs(xdg) else Path(env.get("HOME") or Path.home()) / ".config"
    return (Path(FILE_NAME), base / "cloudroutes" / FILE_NAME, SYSTEM_FILE)


def find_file(path: str | None, env: Mapping[str, str]) -> tuple[Path | None, tuple[Path, ...]]:
    """--config, else CLOUDROUTES_CONFIG (either must exist), else the search path; and where it looked."""
    named = path or env.get("CLOUDROUTES_CONFIG")
    if named:
        return Path(named), ()
    candidates = search_path(env)
    return next((candidate for candidate in candidates if candidate.exists()), None), candidates


def _read(target: Path) -> dict[str, Any]:
    try:
        with target.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {target} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {target} is a directory") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {target}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{target}: not valid TOML: {exc}") from None


def _file_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, item in raw.items():
        if name not in SECTIONS:
            key = _known(name, f"unknown config section or key: {name}")
            values[key.dotted] = convert(key, item, key.dotted)
            continue
        if not isinstance(item, dict):
            raise ConfigError(f"[{name}] must be a table")
        for sub, value in item.items():
            key = _known(f"{name}.{sub}", f"[{name}]: unknown key {sub!r}")
            values[key.dotted] = convert(key, value, key.dotted)
    return values


def _env_values(env: Mapping[str, str]) -> dict[str, Any]:
    by_env = {key.env: key for key in KEYS.values()}
    values: dict[str, Any] = {}
    for name in sorted(env):  # sorted: the same variable is named first on every run
        if not name.startswith(ENV_PREFIX) or name in NOT_SETTINGS:
            continue
        key = by_env.get(name)
        if key is None:
            closest = difflib.get_close_matches(name, by_env, n=1, cutoff=0)
            raise ConfigError(f"{name} is not a cloudroutes setting; did you mean {closest[0]}?")
        values[key.dotted] = convert(key, parse_text(key, env[name], name), name)
    return values


def _flag_values(overrides: Mapping[str, str], origins: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for dotted, text in overrides.items():
        key = _known(dotted.strip(), f"--set: unknown setting {dotted!r}")
        origin = origins.get(dotted, f"--set {key.dotted}")
        values[key.dotted] = convert(key, parse_text(key, text, origin), origin)
    return values


def _known(dotted: str, problem: str) -> Key:
    if dotted in KEYS:
        return KEYS[dotted]
    if dotted in _MOVED:
        raise ConfigError(f"{problem}: it moved to {_MOVED[dotted]}")
    closest = difflib.get_close_matches(dotted, KEYS, n=1)
    raise ConfigError(problem + (f"; did you mean {closest[0]}?" if closest else ""))


# -- one Config out of the values ----------------------------------------------------------


def _build(values: Mapping[str, Any], source: str) -> Config:
    for key in KEYS.values():
        if key.required and not values.get(key.dotted):
            raise ConfigError(_required(key))
    sections = {
        section: cls(**{k.attr: values[k.dotted] for k in KEYS.values() if k.section == section and k.dotted in values})
        for section, cls in SECTIONS.items()
    }
    config = Config(provider=values["provider"], source=source, **sections)
    _check_cluster(config.cluster)
    return config


def _required(key: Key) -> str:
    if "choices" in key.meta:
        return f"{key.dotted} is required: one of {', '.join(key.meta['choices'])}"
    example = f' (e.g. "{key.meta["example"]}")' if "example" in key.meta else ""
    return f"{key.dotted} is required{example}"


def _check_cluster(cluster: Cluster) -> None:
    """What no single key can tell: the name's form, one range per family, masks that fit, reserved inside."""
    if not _NAME.match(cluster.name):
        raise ConfigError(
            f"cluster.name {cluster.name!r} must be 1-40 lowercase letters, digits or '-', "
            "starting and ending alphanumeric"
        )
    families = [cidr.version for cidr in cluster.cidrs]
    if len(families) > 2 or len(set(families)) != len(families):
        raise ConfigError("cluster.cidr takes at most one IPv4 and one IPv6 range")
    for cidr in cluster.cidrs:
        key = "node_mask" if cidr.version == 4 else "node_mask_v6"
        mask, ceiling = cluster.mask_for(cidr), (30 if cidr.version == 4 else 126)
        if not cidr.prefixlen <= mask <= ceiling:
            raise ConfigError(
                f"cluster.{key} /{mask} does not fit cluster CIDR {cidr}: "
                f"it must be between /{cidr.prefixlen} and /{ceiling}"
            )
    for reserved in cluster.reserved:
        _check_reserved(reserved, cluster.cidrs)


def _check_reserved(reserved: IPNetwork, cidrs: tuple[IPNetwork, ...]) -> None:
    """Two CIDRs are disjoint or one holds the other: a reserved range must lie strictly inside one."""
    for cidr in cidrs:
        if cidr.version != reserved.version:
            continue
        if reserved.supernet_of(cidr):  # type: ignore[arg-type]  # same family, checked above
            raise ConfigError(
                f"cluster.reserved {reserved} covers the whole cluster range {cidr}: no subnet would be left"
            )
        if reserved.subnet_of(cidr):  # type: ignore[arg-type]
            return
    ranges = ", ".join(str(cidr) for cidr in cidrs)
    raise ConfigError(f"cluster.reserved {reserved} lies outside every cluster range ({ranges}): it reserves nothing")
