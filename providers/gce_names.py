"""GCE encodings: route names, the ownership marker, and subnets written into instance labels.

Route names come from (cluster, destination) alone, so two runs name the same route the same
way and GCE's 409 on a taken name is the compare-and-swap. The full cluster name (at most 40
characters, checked by config) stays in the name and the hash, unlike Kubernetes' 26-character
cut that made clusters sharing a prefix collide.
"""

from __future__ import annotations

import hashlib
from ipaddress import ip_network

from cloudroutes.model import IPNetwork

PREFIX = "cr-"
CIDR_LABEL = "cloudroutes-pod-cidr"
CIDR_LABEL_V6 = "cloudroutes-pod-cidr-v6"
CLUSTER_LABEL = "cloudroutes-cluster"


def route_name(cluster: str, destination: IPNetwork) -> str:
    """cr-<cluster>-<16 hex of sha256(cluster|destination)>: at most 60 characters, valid for GCE."""
    digest = hashlib.sha256(f"{cluster}|{destination}".encode()).hexdigest()[:16]
    return f"{PREFIX}{cluster}-{digest}"


def marker(cluster: str) -> str:
    """The description every route of ours carries: the full cluster name, not a prefix."""
    return f"cloudroutes: pod subnet route of cluster {cluster}"


def is_marked(name: str, description: str, cluster: str) -> bool:
    return name.startswith(f"{PREFIX}{cluster}-") and description == marker(cluster)


def label_value(subnet: IPNetwork) -> str:
    """Label values allow only [a-z0-9_-]: '.' and ':' become '-', '/' becomes '_'.

    10.244.3.0/24 -> 10-244-3-0_24; fd00:10:244:3::/64 -> fd00-10-244-3--_64. The family is
    known from the label key, so the encoding reverses without ambiguity."""
    return str(subnet).replace(".", "-").replace(":", "-").replace("/", "_")


def parse_label(value: str | None, version: int) -> IPNetwork | None:
    if not value or "_" not in value:
        return None  # not our encoding: without its prefix length an address would read as a /32 or /128
    separator = "." if version == 4 else ":"
    try:
        subnet = ip_network(value.replace("-", separator).replace("_", "/"), strict=True)
    except ValueError:
        return None
    return subnet if subnet.version == version else None


def label_key(subnet: IPNetwork) -> str:
    return CIDR_LABEL if subnet.version == 4 else CIDR_LABEL_V6
