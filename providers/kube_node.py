"""The VM's half with Kubernetes: read this node's podCIDRs from its Node object, as `node-cidr --from
kubernetes` does at boot.

In a cluster where kube-controller-manager assigns podCIDRs (--allocate-node-cidrs, cloudroutes'
`[kubernetes] mode = "adopt"`), the Node's `spec.podCIDRs` is where the subnet is decided, so a VM
reads it there rather than from the cloud's tag or label. One GET of the Node, with credentials found
as kubectl finds them (kube_api.resolve); lightkube is imported only when the reader runs.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping

from cloudroutes import errors
from cloudroutes.model import IPNetwork
from cloudroutes.providers.kube import parse_node
from cloudroutes.providers.kube_api import KubeApi, resolve
from cloudroutes.ratelimit import TokenBucket

# A Node's name is a DNS subdomain (RFC 1123, lower case, at most 253 characters): what the API server
# accepts (k8s.io/apimachinery/pkg/util/validation IsDNS1123Subdomain). Checked here so a bad name is a
# usage error, never a path of its own on the wire.
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def default_node_name() -> str:
    """The name a kubelet registers its Node under without --hostname-override: the hostname, in lower
    case (k8s.io/component-helpers/node/util GetHostname)."""
    return socket.gethostname().strip().lower()


def node_subnets(node: str | None, *, metadata: str = "", settings: Mapping[str, str]) -> tuple[IPNetwork, ...]:
    """`node`: the Node's name, default this host's (as the kubelet names it). `settings`: kubeconfig and
    context ("" for kubectl's order: KUBECONFIG, ~/.kube/config, in-cluster). `metadata` is unused: a
    Node is found by name, not through the cloud's metadata service.

    Raises NotAssigned while the Node is not registered or has no podCIDR yet, ConfigError for a bad
    name or kubeconfig."""
    name = node or default_node_name()
    if len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        raise errors.ConfigError(f"--node-name {name!r} is not a Kubernetes node name (a lower-case DNS subdomain)")
    config, source = resolve(settings.get("kubeconfig", ""), settings.get("context", ""))
    # Reads only: the write bucket is never drawn from.
    api = KubeApi(config, writes=TokenBucket(burst=1, rate=1.0), source=source)
    try:
        found = parse_node(api.get(name))
    except errors.NotFound:
        raise errors.NotAssigned(
            f"node {name} is not registered yet (no Node object at {source}); retry once its kubelet has joined"
        ) from None
    finally:
        api.close()
    if not found.pod_cidrs:
        raise errors.NotAssigned(
            f"node {name} has no podCIDR yet (spec.podCIDRs empty); retry once it is assigned"
            " (kube-controller-manager --allocate-node-cidrs, or cloudroutes apply in publish mode)"
        )
    return found.pod_cidrs
