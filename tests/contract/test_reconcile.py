"""`reconcile` on every cloud: a one-shot pass is `apply --yes` (same writes, same exit status).

The loop runs as a real subprocess against the embedded cloud (signals, a port, a metrics file):
see test_reconcile_loop.py. "No write" is read from the sim's call log, never assumed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .clouds import Cloud, assert_routed

Cli = Callable[..., Any]


def test_one_pass_converges_and_exits_as_apply(cloud: Cloud, cli: Cli) -> None:
    nodes = cloud.add_nodes(3)
    config = cloud.write_config()

    first = cli("reconcile", "--config", config)

    assert first.exit_code == 0, first.output
    assert_routed(cloud, nodes)
    cloud.reset_calls()
    again = cli("reconcile", "--config", config)
    assert again.exit_code == 0, again.output
    assert cloud.writes() == [], "a pass with nothing to do writes nothing"


def test_one_pass_takes_applys_per_key_flags(cloud: Cloud, cli: Cli) -> None:
    nodes = cloud.add_nodes(1)
    config = cloud.write_config()

    result = cli("reconcile", "--config", config, "--cluster-node-mask", "26")

    assert result.exit_code == 0, result.output
    assert cloud.pod_cidrs()[nodes[0]].endswith("/26")


def test_the_mass_delete_guard_holds_and_is_never_implied(cloud: Cloud, cli: Cli) -> None:
    nodes = cloud.add_nodes(2)
    config = cloud.write_config()
    assert cli("reconcile", "--config", config).exit_code == 0
    cloud.reset_calls()

    refused = cli("reconcile", "--config", config, *cloud.select_nothing())
    applied = cli("apply", "--config", config, "--yes", *cloud.select_nothing())

    assert refused.exit_code == applied.exit_code == 2
    assert "--allow-mass-delete" in refused.output
    assert cloud.writes() == []
    assert_routed(cloud, nodes)


def test_a_bad_config_is_exit_2_and_writes_nothing(cloud: Cloud, cli: Cli) -> None:
    cloud.add_nodes(1)
    config = cloud.write_config()
    cloud.reset_calls()

    result = cli("reconcile", "--config", config, "--cluster-cidr", "10.244.0.1/16")

    assert result.exit_code == 2
    assert cloud.writes() == []
