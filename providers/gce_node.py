"""The VM's half on GCE: read this instance's own subnet from its labels, as `node-cidr` does at boot.

No google-cloud-compute here: importing it costs 1.3-2 s of CPU, which a boot script that polls
would pay on every ask. One plain HTTPS GET of the instance does, with the access token the
metadata server hands the VM's service account
(https://cloud.google.com/compute/docs/access/authenticate-workloads#applications).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from cloudroutes.errors import ConfigError, Denied, NotAssigned, Transient
from cloudroutes.model import IPNetwork
from cloudroutes.providers import gce_names as names

DEFAULT_METADATA = "http://metadata.google.internal"
DEFAULT_ENDPOINT = "https://compute.googleapis.com"
TIMEOUT_S = 5.0


def node_subnets(instance: str | None, *, metadata: str = "", settings: Mapping[str, str]) -> tuple[IPNetwork, ...]:
    """`instance`: zone/name; without it, this VM's own, from the metadata server. `settings`:
    project, endpoint, emulator ("true": send no token, as for an embedded cloud)."""
    base = metadata or DEFAULT_METADATA
    if instance:
        zone, _, name = instance.rpartition("/")
        if not zone:
            raise ConfigError("on GCE --instance-id takes zone/name, e.g. us-central1-a/node-1")
    else:
        zone = metadata_get(base, "instance/zone").rsplit("/", 1)[-1]
        name = metadata_get(base, "instance/name")
    project = settings.get("project") or metadata_get(base, "project/project-id")
    emulator = settings.get("emulator", "").lower() == "true"
    token = (
        "" if emulator else json.loads(metadata_get(base, "instance/service-accounts/default/token"))["access_token"]
    )
    endpoint = (settings.get("endpoint") or DEFAULT_ENDPOINT).rstrip("/")
    path = f"/compute/v1/projects/{quote(project)}/zones/{quote(zone)}/instances/{quote(name)}"
    found = _get_json(f"{endpoint}{path}", token, what=f"instance {zone}/{name} in project {project}")
    labels = found.get("labels", {})
    subnets = tuple(
        s
        for key, version in ((names.CIDR_LABEL, 4), (names.CIDR_LABEL_V6, 6))
        if (s := names.parse_label(labels.get(key), version))
    )
    if not subnets:
        raise NotAssigned(
            f"{zone}/{name} has no subnet yet (label {names.CIDR_LABEL} not set); retry after cloudroutes apply"
        )
    return subnets


def metadata_get(base: str, path: str) -> str:
    request = urllib.request.Request(f"{base}/computeMetadata/v1/{path}", headers={"Metadata-Flavor": "Google"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return str(response.read().decode()).strip()
    except OSError as exc:
        raise ConfigError(f"metadata server at {base} did not answer {path}: {exc}") from None


def _get_json(url: str, token: str, *, what: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S) as response:
            found: dict[str, Any] = json.loads(response.read())
            return found
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise ConfigError(f"{what} not found") from None
        if exc.code in (401, 403):
            raise Denied(f"permission denied: compute.instances.get on {what} ({exc.code})") from None
        raise Transient(f"reading {what}: HTTP {exc.code}") from None
    except (OSError, ValueError) as exc:
        raise Transient(f"reading {what}: {exc}") from None
