"""Names and addresses of the lab: one place, so `down` removes exactly what `up` made.

Pure: no I/O. Every namespace and link the lab creates starts with PREFIX, except `cbr0`, the bridge
every routes-based node has, which exists only inside a VM namespace and dies with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

PREFIX = "crlab-"
FABRIC_NS = f"{PREFIX}fab"
BRIDGE = "cbr0"
# Inside a VM or container namespace the uplink is called the same everywhere; only the names
# within the fabric and the VM's bridge ports must be unique per namespace.
UPLINK = f"{PREFIX}eth0"
CONTAINERS_PER_VM = 2
MAX_NODES = 20

PROVIDERS = ("aws", "gce")  # the embedded clouds the fabric can follow
CLUSTER = "lab"
CLUSTER_CIDR = IPv4Network("10.244.0.0/16")
REGION = "us-east-1"
# GCE: the same subnet and addresses, in a project's "default" network; every VM in one zone.
GCE_PROJECT = "cloudroutes-lab"
GCE_NETWORK = "default"
GCE_REGION = "us-central1"
GCE_ZONE = f"{GCE_REGION}-a"
GCE_CLUSTER_LABEL = ("cloudroutes-cluster", CLUSTER)  # what the product selects its nodes by on GCE
VPC_CIDR = IPv4Network("10.0.0.0/16")
SUBNET_CIDR = IPv4Network("10.0.1.0/24")
ROUTER = IPv4Address("10.0.1.1")  # the VPC router's address, as in AWS (subnet base + 1)
METADATA = IPv4Address("169.254.169.254")  # AWS's and GCE's metadata address: the cloud, seen from VMs
METADATA_ENDPOINT = f"http://{METADATA}"

# Routes the fabric sync owns carry this protocol number, so a dump of them is exactly the lab's
# view of the cloud table and the sync can diff instead of flushing.
ROUTE_PROTO = 244
# Source-check rules of VM i sit at RULE_BASE + 2*i (allow own source) and + 1 (drop the rest).
RULE_BASE = 1000
RULE_END = 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class VmSpec:
    """One VM of the lab: where it lives and which fabric link identifies its packets."""

    index: int
    name: str
    namespace: str
    address: IPv4Address
    fabric_link: str
    containers: tuple[str, ...]


def vm_spec(index: int) -> VmSpec:
    """VM `index` (1-based): vm1 is 10.0.1.11 in crlab-vm1, reached over crlab-f1."""
    namespace = f"{PREFIX}vm{index}"
    return VmSpec(
        index=index,
        name=f"vm{index}",
        namespace=namespace,
        address=SUBNET_CIDR[10 + index],
        fabric_link=f"{PREFIX}f{index}",
        containers=tuple(f"{namespace}-c{k}" for k in range(1, CONTAINERS_PER_VM + 1)),
    )


def vm_specs(nodes: int) -> tuple[VmSpec, ...]:
    if not 1 <= nodes <= MAX_NODES:
        raise ValueError(f"nodes must be between 1 and {MAX_NODES}, got {nodes}")
    return tuple(vm_spec(i) for i in range(1, nodes + 1))


def bridge_port(container: int) -> str:
    """The VM-side end of container `container`'s veth (1-based), a port of cbr0."""
    return f"{PREFIX}c{container}"


def pod_addresses(subnet: IPv4Network) -> tuple[IPv4Address, tuple[IPv4Address, ...]]:
    """(bridge address, container addresses) of a VM's pod subnet: .1, then .10, .11, ..."""
    containers = tuple(subnet[10 + k] for k in range(CONTAINERS_PER_VM))
    return subnet[1], containers


def is_lab_name(name: str) -> bool:
    return name.startswith(PREFIX)
