"""One setting's value: its kind read from a type hint, parsed from text or TOML, checked.

No I/O, and nothing here knows which keys exist: the package's __init__ derives those from the
dataclasses and hands each value here with the Key it belongs to.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any, Union, get_args, get_origin
from urllib.parse import urlsplit

from cloudroutes.errors import ConfigError
from cloudroutes.model import IPNetwork

ENV_PREFIX = "CLOUDROUTES_"


class Kind(enum.Enum):
    TEXT = "a string"
    BOOL = "true or false"
    INT = "a whole number"
    FLOAT = "a number"
    LIST = "a list of strings"
    MAP = "a table of strings"
    CIDRS = "a list of CIDRs"


@dataclass(frozen=True, slots=True, kw_only=True)
class Key:
    """One setting: where it lives, how users write it, how it parses, what it is when unset."""

    section: str
    """"" for a top-level key (provider)."""
    name: str
    attr: str
    """The dataclass field it fills."""
    kind: Kind
    optional: bool = False
    """None is allowed, as the default: "let the provider decide"."""
    default: Any = dataclasses.MISSING
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.dotted.replace(".", "_").upper()

    @property
    def flag(self) -> str:
        return "--" + self.dotted.replace(".", "-").replace("_", "-")

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING

    @property
    def expected(self) -> str:
        if self.kind is Kind.CIDRS and self.meta.get("one_or_many"):
            return "a CIDR or a list of CIDRs"
        return self.kind.value


_SCALARS = {str: Kind.TEXT, bool: Kind.BOOL, int: Kind.INT, float: Kind.FLOAT}


def kind_of(hint: Any) -> tuple[Kind, bool]:
    """A field's type hint -> how its value parses, and whether None is allowed."""
    args = get_args(hint)
    if get_origin(hint) in (Union, types.UnionType) and type(None) in args:
        (inner,) = (arg for arg in args if arg is not type(None))
        return kind_of(inner)[0], True
    if hint in _SCALARS:
        return _SCALARS[hint], False
    if get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        if args[0] is str:
            return Kind.LIST, False
        if set(get_args(args[0])) == {IPv4Network, IPv6Network}:
            return Kind.CIDRS, False
    if get_origin(hint) in (Mapping, dict) and args == (str, str):
        return Kind.MAP, False
    raise TypeError(f"config: no parser for a field of type {hint!r}")


_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def parse_text(key: Key, text: str, origin: str) -> Any:
    """An env or flag string -> the shape TOML would give: lists are `a,b`, maps `k=v,k2=v2`."""
    word = text.strip()
    try:
        if key.kind is Kind.BOOL:
            return _WORDS[word.lower()]
        if key.kind is Kind.INT:
            return int(word)
        if key.kind is Kind.FLOAT:
            return float(word)
    except (KeyError, ValueError):
        raise ConfigError(f"{origin}: invalid value {word!r}: expected {key.expected}") from None
    if key.kind in (Kind.LIST, Kind.CIDRS):
        return [item.strip() for item in text.split(",") if item.strip()]
    if key.kind is Kind.MAP:
        return dict(_pair(item, origin) for item in text.split(",") if item.strip())
    return text


def _pair(item: str, origin: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep:
        raise ConfigError(f"{origin}: expected key=value, got {item.strip()!r}")
    return key.strip(), value.strip()


def convert(key: Key, value: Any, origin: str) -> Any:
    """A TOML-shaped value -> the field's type, checked; `origin` names where it came from."""
    if key.kind is Kind.CIDRS:
        return _cidrs(key, value, origin)
    try:
        converted = _CONVERTERS[key.kind](value)
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: invalid value {value!r}: expected {key.expected}") from None
    if "choices" in key.meta and converted not in key.meta["choices"]:
        raise ConfigError(f"{origin} must be one of {', '.join(key.meta['choices'])} (got {converted!r})")
    problem = _problem(key, converted)
    if problem:
        raise ConfigError(f"{origin}: invalid value {value!r}: {problem}")
    return converted


def _problem(key: Key, value: Any) -> str:
    if key.kind in (Kind.INT, Kind.FLOAT):
        if not math.isfinite(value):
            return "must be a finite number"
        low, high = key.meta.get("range", (0, math.inf))
        if "range" in key.meta and not low <= value <= high:
            return f"must be between {low:g} and {high:g}"
        if "range" not in key.meta and value <= 0:
            return "must be more than 0"
    if key.meta.get("url") and value:
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.netloc:
            return "expected an http(s) URL, e.g. http://127.0.0.1:8080"
    return ""


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value.strip()


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):  # TOML's true/false; words only from env and flags
        raise TypeError
    return value


def _int(value: Any) -> int:
    """No bool for an int, no silently truncated 24.5, no nan or inf."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError
    if isinstance(value, float) and not value.is_integer():
        raise ValueError
    return int(value)


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError
    return float(value)


def _list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError
    return tuple(item.strip() for item in value)


def _map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise TypeError
    return {str(k): v for k, v in value.items()}


_CONVERTERS = {
    Kind.TEXT: _text,
    Kind.BOOL: _bool,
    Kind.INT: _int,
    Kind.FLOAT: _float,
    Kind.LIST: _list,
    Kind.MAP: _map,
}


def _cidrs(key: Key, value: Any, origin: str) -> tuple[IPNetwork, ...]:
    if key.meta.get("one_or_many") and isinstance(value, str):
        value = [value] if value.strip() else []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{origin}: invalid value {value!r}: expected {key.expected}")
    # IPv4 first, whatever order they were written in: the order reports and ipam rely on.
    return tuple(sorted((parse_cidr(item, origin) for item in value), key=lambda cidr: cidr.version))


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
