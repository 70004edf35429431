"""Self links and the partial URLs GCE accepts in request bodies. Pure string work, no state."""

from __future__ import annotations

import re
from dataclasses import dataclass

BASE = "https://www.googleapis.com/compute/v1/"

# Requests may name a resource by full URL (either host) or by a path relative to compute/v1.
_PREFIXES = (BASE, "https://compute.googleapis.com/compute/v1/")

_INSTANCE = re.compile(r"(?:projects/(?P<project>[^/]+)/)?zones/(?P<scope>[^/]+)/instances/(?P<name>[^/]+)")
_NETWORK = re.compile(r"(?:projects/(?P<project>[^/]+)/)?(?P<scope>global)/networks/(?P<name>[^/]+)")
_GATEWAY = re.compile(r"(?:projects/(?P<project>[^/]+)/)?(?P<scope>global)/gateways/(?P<name>[^/]+)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Ref:
    """A parsed reference; `project` is None when the caller left it implicit."""

    project: str | None
    scope: str
    name: str


def link(path: str) -> str:
    return BASE + path


def project_path(project: str) -> str:
    return f"projects/{project}"


def global_path(project: str, collection: str, name: str) -> str:
    return f"projects/{project}/global/{collection}/{name}"


def zone_path(project: str, zone: str, collection: str | None = None, name: str | None = None) -> str:
    base = f"projects/{project}/zones/{zone}"
    return base if collection is None else f"{base}/{collection}/{name}"


def region_path(project: str, region: str, collection: str | None = None, name: str | None = None) -> str:
    base = f"projects/{project}/regions/{region}"
    return base if collection is None else f"{base}/{collection}/{name}"


def region_of(zone: str) -> str:
    """us-central1-a → us-central1: GCE zone names are the region plus a one-letter suffix."""
    return zone.rsplit("-", 1)[0]


def _parse(value: str, pattern: re.Pattern[str]) -> Ref | None:
    for prefix in _PREFIXES:
        if value.startswith(prefix):
            value = value[len(prefix) :]
            break
    match = pattern.fullmatch(value)
    if match is None:
        return None
    return Ref(project=match["project"], scope=match["scope"], name=match["name"])


def parse_instance(value: str) -> Ref | None:
    return _parse(value, _INSTANCE)


def parse_network(value: str) -> Ref | None:
    return _parse(value, _NETWORK)


def parse_gateway(value: str) -> Ref | None:
    return _parse(value, _GATEWAY)
