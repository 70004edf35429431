"""Configuration: a TOML file, overridden by CLOUDROUTES_<SECTION>_<KEY> variables, overridden by flags.

Everything is validated here, before any cloud call, so a bad value costs nothing but a
one-line ConfigError (exit 2). Past this module, ranges are `ipaddress` networks, never strings.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path
from typing import Any

from cloudroutes.errors import ConfigError
from cloudroutes.model import Cluster, IPNetwork, KubeMode

DEFAULT_PATH = "cloudroutes.toml"
PROVIDERS = ("aws", "gce")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class AwsConfig:
    region: str = ""
    vpc_id: str = ""
    route_tables: tuple[str, ...] = ()
    node_tags: Mapping[str, str] = field(default_factory=dict)
    route_limit: int = 50
    """Routes per table when Service Quotas cannot tell (AWS default for L-93826ACB)."""
    profile: str = ""
    endpoint: str = ""
    emulator: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GceConfig:
    project: str = ""
    network: str = "default"
    zones: tuple[str, ...] = ()
    node_labels: Mapping[str, str] = field(default_factory=dict)
    priority: int = 1000
    fix_forwarding: bool = False
    endpoint: str = ""
    emulator: bool = False
    op_poll_burst: int = 5
    """Operation polls that may start at once ..."""
    op_poll_rate: float = 5.0
    """... and per second after that; they spend the project's read quota (the Kubernetes GCE
    provider polls at 5/s, kubernetes/kubernetes#64630)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KubernetesConfig:
    mode: str = "off"
    """off; publish: cloudroutes assigns and each Node is told its podCIDR; adopt: the Nodes'
    podCIDRs (kube-controller-manager --allocate-node-cidrs) are the assignment."""
    kubeconfig: str = ""
    """Default: KUBECONFIG, then ~/.kube/config, then the in-cluster service account."""
    context: str = ""

    @property
    def kube_mode(self) -> KubeMode:
        return KubeMode(self.mode)


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    write_burst: int | None = None
    """Client-side token bucket for route writes; None: the provider's own, shaped like its cloud's
    meter (AWS: EC2's mutating bucket, 50 ..."""
    write_rate: float | None = None
    """... refilled 5 per second, per account and region)."""
    read_burst: int | None = None
    """Client-side token bucket for reads; None: the provider's own (AWS: 100 ..."""
    read_rate: float | None = None
    """... refilled 20 per second)."""
    concurrency: int = 16
    """Calls in flight at once; the buckets, not this, bound the rate."""
    max_in_flight: int = 200
    """Writes the cloud may be carrying out at once (GCE operations), awaited without holding a call slot."""
    max_attempts: int = 6
    """Tries per action on Throttled/Transient, with jittered exponential backoff."""
    backoff_max: float = 20.0
    """Longest single wait between tries, in seconds."""
    conflict_rounds: int = 3
    """Observe-and-replan rounds after a Conflict before giving up on the pass."""
    max_delete_fraction: float = 0.5
    """A pass deleting more than this share of our routes needs --allow-mass-delete."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    provider: str
    cluster: Cluster
    aws: AwsConfig = AwsConfig()
    gce: GceConfig = GceConfig()
    kubernetes: KubernetesConfig = KubernetesConfig()
    limits: Limits = Limits()
    source: str = ""


_SECTIONS: dict[str, tuple[str, ...]] = {
    "cluster": ("name", "cidr", "node_mask", "node_mask_v6", "reserved"),
    "aws": ("region", "vpc_id", "route_tables", "node_tags", "route_limit", "profile", "endpoint", "emulator"),
    "gce": (
        "project",
        "network",
        "zones",
        "node_labels",
        "priority",
        "fix_forwarding",
        "endpoint",
        "emulator",
        "op_poll_burst",
        "op_poll_rate",
    ),
    "kubernetes": ("mode", "kubeconfig", "context"),
    "limits": tuple(field.name for field in dataclasses.fields(Limits)),
}


def settings() -> dict[str, tuple[str, ...]]:
    """Every settable key, by section: what env variables and flags may name."""
    return dict(_SECTIONS)


def load(
    path: str | None, *, env: Mapping[str, str] | None = None, overrides: Mapping[str, str] | None = None
) -> Config:
    """Read, merge and validate. `overrides` are `section.key=value` pairs from flags."""
    env = os.environ if env is None else env
    overrides = overrides or {}
    raw, source = _read_file(
        path or env.get("CLOUDROUTES_CONFIG"), explicit=bool(path or env.get("CLOUDROUTES_CONFIG"))
    )
    _merge_env(raw, env)
    for dotted, value in overrides.items():
        _set(raw, dotted, value, origin="--set")
    return _build(raw, source)


def from_text(text: str, *, source: str = "<text>") -> Config:
    """A config given as TOML text (the demo shows its config but keeps no file)."""
    try:
        return _build(tomllib.loads(text), source)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc


def _read_file(path: str | None, *, explicit: bool) -> tuple[dict[str, Any], str]:
    target = Path(path or DEFAULT_PATH)
    if not target.exists():
        if explicit:
            raise ConfigError(f"config file {target} not found")
        return {}, ""
    try:
        return tomllib.loads(target.read_text()), str(target)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{target}: not valid TOML: {exc}") from exc


def _merge_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    if "CLOUDROUTES_PROVIDER" in env:
        raw["provider"] = env["CLOUDROUTES_PROVIDER"]
    for section, keys in _SECTIONS.items():
        for key in keys:
            name = f"CLOUDROUTES_{section}_{key}".upper()
            if name in env:
                _set(raw, f"{section}.{key}", env[name], origin=name)


def _set(raw: dict[str, Any], dotted: str, text: str, *, origin: str) -> None:
    """Store a string from env or flags; lists are comma-separated, maps are k=v,k=v."""
    if dotted == "provider":
        raw["provider"] = text
        return
    section, _, key = dotted.partition(".")
    if key not in _SECTIONS.get(section, ()):
        raise ConfigError(f"{origin}: unknown setting {dotted!r}")
    default = _defaults(section).get(key)
    value: Any = text
    if key in ("reserved", "route_tables", "zones") or (key == "cidr" and "," in text):
        value = [item.strip() for item in text.split(",") if item.strip()]
    elif key in ("node_tags", "node_labels"):
        value = dict(_pair(item, origin) for item in text.split(",") if item.strip())
    elif isinstance(default, bool):
        value = _boolean(text, f"{origin}: {dotted}")
    raw.setdefault(section, {})[key] = value


def _boolean(text: str, what: str) -> bool:
    word = text.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{what}: expected true or false, got {text.strip()!r}")


def _pair(item: str, origin: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep:
        raise ConfigError(f"{origin}: expected key=value, got {item.strip()!r}")
    return key.strip(), value.strip()


_CLASSES: dict[str, Any] = {"aws": AwsConfig, "gce": GceConfig, "kubernetes": KubernetesConfig, "limits": Limits}


def _defaults(section: str) -> dict[str, Any]:
    cls = _CLASSES.get(section)
    if cls is None:
        return {"node_mask": 24, "node_mask_v6": 64}
    # An optional number (None: the provider decides) is coerced as the number it would be.
    optional = {"int | None": 0, "float | None": 0.0}
    return {field.name: optional.get(str(field.type), getattr(cls(), field.name)) for field in dataclasses.fields(cls)}


def _build(raw: dict[str, Any], source: str) -> Config:
    unknown = set(raw) - {"provider", *_SECTIONS}
    if unknown:
        raise ConfigError(f"unknown config section or key: {', '.join(sorted(unknown))}")
    provider = str(raw.get("provider", "")).strip().lower()
    if provider not in PROVIDERS:
        raise ConfigError(f"provider must be one of {', '.join(PROVIDERS)} (got {provider or 'nothing'!r})")
    return Config(
        provider=provider,
        cluster=_cluster(_section(raw, "cluster")),
        aws=_typed("aws", raw),
        gce=_typed("gce", raw),
        kubernetes=_kubernetes(raw),
        limits=_typed("limits", raw),
        source=source,
    )


def _kubernetes(raw: dict[str, Any]) -> KubernetesConfig:
    settings: KubernetesConfig = _typed("kubernetes", raw)
    modes = [m.value for m in KubeMode]
    if settings.mode not in modes:
        raise ConfigError(f"kubernetes.mode must be one of {', '.join(modes)} (got {settings.mode!r})")
    return settings


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    section = raw.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"[{name}] must be a table")
    unknown = set(section) - set(_SECTIONS[name])
    if unknown:
        raise ConfigError(f"[{name}]: unknown key {sorted(unknown)[0]!r}")
    return section


def _typed(name: str, raw: dict[str, Any]) -> Any:
    """Coerce each value to its default's type, so env strings and TOML values meet one shape."""
    defaults = _defaults(name)
    values = {key: _coerce(key, value, defaults[key]) for key, value in _section(raw, name).items()}
    return _CLASSES[name](**values)


def _coerce(key: str, value: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise TypeError
            return value
        if isinstance(default, (int, float)):
            return _number(key, value, default)
        if isinstance(default, tuple):
            if isinstance(value, str) or not isinstance(value, list):
                raise TypeError
            return tuple(str(item) for item in value)
        if isinstance(default, Mapping):
            if not isinstance(value, dict):
                raise TypeError
            return {str(k): str(v) for k, v in value.items()}
        if not isinstance(value, str):
            raise TypeError
        return value.strip()
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: invalid value {value!r}") from None


_RANGES: dict[str, tuple[float, float]] = {
    "priority": (0, 65535),  # GCE's route priority range
    "max_delete_fraction": (0, 1),
}


def _number(key: str, value: Any, default: int | float) -> int | float:
    """Numbers keep their kind: no bool for an int, no silently truncated 24.5, no env string left unparsed."""
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, str):
        value = float(value) if isinstance(default, float) else int(value.strip())
    if isinstance(default, int) and isinstance(value, float):
        if not value.is_integer():
            raise ValueError
        value = int(value)
    number = type(default)(value)
    if key in _RANGES:
        low, high = _RANGES[key]
        if not low <= number <= high:
            raise ConfigError(f"{key}: invalid value {value!r}: must be between {low:g} and {high:g}")
    elif number <= 0:
        raise ValueError
    return number


def _cluster(section: dict[str, Any]) -> Cluster:
    name = str(section.get("name", "")).strip()
    if not _NAME.match(name):
        raise ConfigError(
            f"cluster.name {name!r} must be 1-40 lowercase letters, digits or '-', starting and ending alphanumeric"
        )
    cidrs = _cluster_cidrs(section.get("cidr"))
    masks = {
        "node_mask": _coerce("node_mask", section.get("node_mask", 24), 24),
        "node_mask_v6": _coerce("node_mask_v6", section.get("node_mask_v6", 64), 64),
    }
    for cidr in cidrs:
        key = "node_mask" if cidr.version == 4 else "node_mask_v6"
        ceiling = 30 if cidr.version == 4 else 126
        if not cidr.prefixlen <= masks[key] <= ceiling:
            raise ConfigError(
                f"cluster.{key} /{masks[key]} does not fit cluster CIDR {cidr}: "
                f"it must be between /{cidr.prefixlen} and /{ceiling}"
            )
    reserved = section.get("reserved", [])
    if isinstance(reserved, str) or not isinstance(reserved, list):
        raise ConfigError("cluster.reserved must be a list of CIDRs")
    return Cluster(
        name=name,
        cidrs=cidrs,
        reserved=tuple(parse_cidr(item, "cluster.reserved") for item in reserved),
        **masks,
    )


def _cluster_cidrs(value: Any) -> tuple[IPNetwork, ...]:
    if value is None or value == "" or value == []:
        raise ConfigError('cluster.cidr is required (e.g. "10.244.0.0/16")')
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ConfigError("cluster.cidr must be a CIDR string or a list of them")
    cidrs = tuple(parse_cidr(item, "cluster.cidr") for item in items)
    families = [cidr.version for cidr in cidrs]
    if len(cidrs) > 2 or len(set(families)) != len(families):
        raise ConfigError("cluster.cidr takes at most one IPv4 and one IPv6 range")
    return tuple(sorted(cidrs, key=lambda cidr: cidr.version))


def parse_cidr(text: str, what: str) -> IPNetwork:
    """Strict: a CIDR with host bits set is an error with a suggestion, never silently masked."""
    text = str(text).strip()
    if "/" not in text:
        raise ConfigError(f"{what}: {text!r} needs a prefix length (e.g. {text}/24)")
    try:
        return ip_network(text, strict=True)
    except ValueError:
        pass
    try:
        suggestion = ip_network(text, strict=False)
    except ValueError:
        raise ConfigError(f"{what}: {text!r} is not a CIDR") from None
    raise ConfigError(f"{what}: {text!r} has host bits set; did you mean {suggestion}?")
