"""Cloud adapters behind one small contract, found by name and imported on first use.

The registry holds dotted paths, not classes, so `cloudroutes --help` never pays for a cloud
SDK import (google.cloud.compute_v1 alone costs over a second). A provider is built from its
own config section (named like the provider), the cluster's identity and the shared limits.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cloudroutes.providers.base import Budget, Capabilities, Pending, Provider, Settled

if TYPE_CHECKING:
    from cloudroutes.config import Config, KubernetesConfig
    from cloudroutes.model import IPNetwork
    from cloudroutes.providers.kube import NodeLedger

__all__ = [
    "NODE_READERS",
    "POD_CIDR_READERS",
    "REGISTRY",
    "Budget",
    "Capabilities",
    "NodeReader",
    "Pending",
    "Provider",
    "Settled",
    "create",
    "ledger",
    "node_reader",
    "pod_cidr_reader",
]

REGISTRY: dict[str, str] = {
    "aws": "cloudroutes.providers.aws:AwsProvider",
    "gce": "cloudroutes.providers.gce:GceProvider",
}
NODE_READERS: dict[str, str] = {
    "aws": "cloudroutes.providers.aws_node:node_subnets",
    "gce": "cloudroutes.providers.gce_node:node_subnets",
}
"""How a VM reads its own subnet at boot (`node-cidr`): small modules that load no cloud SDK they can avoid."""
POD_CIDR_READERS: dict[str, str] = {"kubernetes": "cloudroutes.providers.kube_node:node_subnets"}
"""`node-cidr --from kubernetes`: the Node's spec.podCIDRs instead of the VM's tag or label."""

NodeReader = Callable[..., "tuple[IPNetwork, ...]"]


def _load(table: dict[str, str], name: str) -> Any:
    try:
        path = table[name.lower()]
    except KeyError:
        raise ValueError(f"unknown provider {name!r}; known: {', '.join(sorted(table))}") from None
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def create(name: str, config: Config) -> Provider:
    cls = _load(REGISTRY, name)
    provider: Provider = cls(getattr(config, name.lower()), config.cluster, config.limits)
    return provider


def node_reader(name: str) -> NodeReader:
    reader: NodeReader = _load(NODE_READERS, name)
    return reader


def pod_cidr_reader() -> NodeReader:
    """How a VM reads its subnet from its Kubernetes Node instead (`node-cidr --from kubernetes`): the
    Node's name where a cloud reader takes an instance, `settings` kubeconfig and context."""
    reader: NodeReader = _load(POD_CIDR_READERS, "kubernetes")
    return reader


def ledger(settings: KubernetesConfig) -> NodeLedger:
    """The Kubernetes Node objects, reached as kubectl reaches them; lightkube is imported here only."""
    from cloudroutes.providers.kube import KubeNodes

    return KubeNodes(kubeconfig=settings.kubeconfig, context=settings.context)
