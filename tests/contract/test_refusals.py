"""Refusals and partial failures on every cloud: bad input is one line, exit 2 and nothing written;
a pass that cannot do everything does what it can, exits 1 and names what is missing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.cli_output import assert_refused, one_line

from .clouds import Cloud, assert_routed

Cli = Callable[..., Any]

# Each case: the config overrides that make the input bad, and what the refusal must say.
REFUSALS: dict[str, Callable[[Cloud], tuple[dict[str, Any], str]]] = {
    "cidr-with-host-bits": lambda cloud: ({"cidr": '"10.244.1.0/16"'}, "host bits"),
    "invalid-cidr": lambda cloud: ({"cidr": '"10.244.0.0/33"'}, "not a CIDR"),
    "node-mask-outside-cluster-prefix": lambda cloud: ({"node_mask": 12}, "does not fit"),
    "cluster-cidr-overlaps-the-network": lambda cloud: (
        {"cidr": cloud.overlapping_cidr()[0]},
        f"overlaps {cloud.overlapping_cidr()[1]}",
    ),
    "network-not-found": lambda cloud: (
        {"network": cloud.missing_network()[0]},
        f"{cloud.missing_network()[1]} not found",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_input_is_one_line_exit_2_and_no_write(cloud: Cloud, cli: Cli, case: str) -> None:
    overrides, says = REFUSALS[case](cloud)
    cloud.add_nodes(2)
    config = cloud.write_config(**overrides)
    cloud.reset_calls()

    assert_refused(cli, config, says)

    assert cloud.writes() == []


def test_no_credentials_is_one_line_exit_2_and_nothing_reaches_the_cloud(
    cloud: Cloud, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud.add_nodes(1)
    cloud.drop_credentials(monkeypatch)
    config = cloud.write_config()
    cloud.reset_calls()

    result = cli("plan", "--config", config)

    assert result.exit_code == 2, result.output
    assert "credentials" in result.output and one_line(result.output)
    assert cloud.calls() == {}, "nothing reached the cloud without credentials"


def test_a_missing_config_file_is_refused(cli: Cli, tmp_path: Any) -> None:
    """No cloud is asked anything: this one needs no `cloud`."""
    result = cli("plan", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2 and "not found" in result.output


def test_an_empty_node_list_does_not_wipe_the_cluster(cloud: Cloud, cli: Cli) -> None:
    nodes = cloud.add_nodes(4)
    config = cloud.write_config()
    assert cli("apply", "--config", config, "--yes").exit_code == 0
    cloud.reset_calls()

    wrong_filter = cli("apply", "--config", config, "--yes", *cloud.select_nothing())

    assert wrong_filter.exit_code == 2 and "--allow-mass-delete" in wrong_filter.output
    assert cloud.writes() == []
    assert_routed(cloud, nodes)


def test_too_small_a_route_quota_creates_no_route_and_names_the_quota(cloud: Cloud, cli: Cli) -> None:
    cloud.limit_routes(room=3)
    cloud.add_nodes(4)
    cloud.reset_calls()

    result = cli("apply", "--config", cloud.write_config(), "--yes")

    assert result.exit_code == 1
    assert "1 route(s) missing" in result.output and cloud.ROUTE_QUOTA in result.output
    assert "route.create" not in cloud.writes()
    assert all(routes == {} for routes in cloud.routes().values())


def test_exhaustion_converges_what_fits_and_names_the_rest(cloud: Cloud, cli: Cli) -> None:
    nodes = cloud.add_nodes(5)

    result = cli("apply", "--config", cloud.write_config(cidr='"10.244.0.0/22"'), "--yes", "-o", "json")

    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert [p["kind"] for p in doc["remaining"]["problems"]] == ["exhausted"]
    assert nodes[4] in doc["remaining"]["problems"][0]["message"], "the newest node is the one left out"
    assert set(cloud.pod_cidrs()) == set(nodes[:4])
    assert_routed(cloud, nodes[:4])
