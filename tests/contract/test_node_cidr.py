"""`node-cidr`: what a VM reads at boot to set up its bridge, named from outside the VM (every cloud)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .clouds import Cloud

Cli = Callable[..., Any]


def test_node_cidr_waits_for_a_subnet_then_prints_it_in_every_format(cloud: Cloud, cli: Cli) -> None:
    nodes = cloud.add_nodes(2)
    args, env = cloud.node_cidr(nodes[1])

    assert cli("node-cidr", *args, **env).exit_code == 3, "not assigned yet: wait and retry"
    assert cli("apply", "--config", cloud.write_config(), "--yes").exit_code == 0

    plain = cli("node-cidr", *args, **env)
    assert plain.exit_code == 0, plain.output
    assert plain.output.strip() == cloud.pod_cidrs()[nodes[1]] == "10.244.1.0/24"
    docker = json.loads(cli("node-cidr", *args, "--format", "docker", **env).output)
    assert docker == {"bip": "10.244.1.1/24"}
    cni = json.loads(cli("node-cidr", *args, "--format", "cni", **env).output)
    assert cni["bridge"] == "cbr0" and cni["ipMasq"] is False
    assert cni["ipam"]["ranges"] == [[{"subnet": "10.244.1.0/24", "gateway": "10.244.1.1"}]]
