"""How `node-cidr` prints a VM's subnets: a CIDR per line, a Docker daemon.json fragment, or a CNI config.

Values in, text out. Reading the subnet is the provider's (providers/*_node.py, via the registry).
"""

from __future__ import annotations

import json
from typing import Any

from cloudroutes.errors import ConfigError
from cloudroutes.model import IPNetwork

FORMATS = ("plain", "docker", "cni")


def render(subnets: tuple[IPNetwork, ...], fmt: str) -> str:
    """plain: one CIDR per line; docker: a daemon.json fragment; cni: a bridge plugin config."""
    if fmt == "plain":
        return "\n".join(str(s) for s in subnets)
    v4 = next((s for s in subnets if s.version == 4), None)
    if fmt == "docker":
        doc: dict[str, Any] = {"bip": f"{_gateway(v4)}/{v4.prefixlen}"} if v4 else {}
        v6 = next((s for s in subnets if s.version == 6), None)
        if v6:
            doc |= {"ipv6": True, "fixed-cidr-v6": str(v6)}
        return json.dumps(doc, indent=2)
    if fmt == "cni":
        ranges = [[{"subnet": str(s), "gateway": _gateway(s)}] for s in subnets]
        routes = [{"dst": "0.0.0.0/0" if s.version == 4 else "::/0"} for s in subnets]
        config = {
            "cniVersion": "1.0.0",
            "name": "cloudroutes",
            "type": "bridge",
            "bridge": "cbr0",
            "isGateway": True,
            "ipMasq": False,  # the point of routed subnets: pods keep their own address on the wire
            "ipam": {"type": "host-local", "ranges": ranges, "routes": routes},
        }
        return json.dumps(config, indent=2)
    raise ConfigError(f"--format must be one of {', '.join(FORMATS)}")


def _gateway(subnet: IPNetwork | None) -> str:
    """The bridge takes the first address of the node's subnet."""
    assert subnet is not None
    return str(subnet.network_address + 1)
