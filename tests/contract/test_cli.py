"""The CLI contract on every cloud: commands, exit codes, where config comes from, JSON, destroy.

The real CLI runs in-process; "no write" is read from the sim's call log, never assumed.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.cli_output import last_line, one_line

from .clouds import Cloud

Cli = Callable[..., Any]


def test_plan_apply_status_exit_codes(cloud: Cloud, cli: Cli) -> None:
    cloud.add_nodes(3)
    config = cloud.write_config()
    cloud.reset_calls()

    assert cli("plan", "--config", config).exit_code == 0
    assert cli("plan", "--config", config, "--detailed-exitcode").exit_code == 3
    assert cli("status", "--config", config, "--check").exit_code == 3
    assert cli("status", "--config", config).exit_code == 0, "without --check, status only reports"
    assert cloud.writes() == []

    applied = cli("apply", "--config", config, "--yes")
    assert applied.exit_code == 0, applied.output
    assert "Converged." in applied.output

    cloud.reset_calls()
    assert cli("plan", "--config", config, "--detailed-exitcode").exit_code == 0
    assert cli("status", "--config", config, "--check").exit_code == 0
    assert cloud.writes() == []
    assert cloud.calls() == {op: 2 for op in cloud.observation}, "plan and status: one observation each"


def test_the_config_path_can_come_from_the_environment(cloud: Cloud, cli: Cli) -> None:
    cloud.add_nodes(1)
    result = cli("plan", "--detailed-exitcode", CLOUDROUTES_CONFIG=cloud.write_config())
    assert result.exit_code == 3, result.output


def test_every_key_can_come_from_the_environment(
    cloud: Cloud, cli: Cli, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud.add_nodes(2)
    monkeypatch.chdir(tmp_path)
    env = {"CLOUDROUTES_" + key.replace(".", "_").upper(): value for key, value in cloud.settings().items()}

    result = cli("plan", "--output", "json", **env)

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["summary"]["create"] == 2 * len(cloud.tables())


def test_every_key_can_come_from_a_flag_of_its_own(
    cloud: Cloud, cli: Cli, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud.add_nodes(1)
    monkeypatch.chdir(tmp_path)
    settings = {**cloud.settings(), "limits.write_rate": "2.5"}
    del settings["cluster.cidr"]
    flags = ["--cluster-cidr=10.245.0.0/16"]  # both spellings: --key=value and --key value
    for key, value in settings.items():
        flags += ["--" + key.replace(".", "-").replace("_", "-"), value]

    result = cli("plan", *flags, "-o", "json")

    assert result.exit_code == 0, result.output
    creates = [a for a in json.loads(result.output)["actions"] if a["kind"] == "create"]
    assert {a["destination"] for a in creates} == {"10.245.0.0/24"}


def test_a_flag_beats_the_file_and_the_environment(cloud: Cloud, cli: Cli) -> None:
    cloud.add_nodes(1)
    config = cloud.write_config(cidr='"10.246.0.0/16"')

    result = cli(
        "plan", "-c", config, "--cluster-cidr", "10.247.0.0/16", "-o", "json", CLOUDROUTES_CLUSTER_CIDR="10.248.0.0/16"
    )

    assert result.exit_code == 0, result.output
    creates = [a for a in json.loads(result.output)["actions"] if a["kind"] == "create"]
    assert {a["destination"] for a in creates} == {"10.247.0.0/24"}


@pytest.mark.parametrize(
    "args", [["--cluster-colour", "red"], ["--cluster-cidr"]], ids=["unknown-flag", "flag-without-value"]
)
def test_a_bad_flag_is_one_line_exit_2_and_no_write(cloud: Cloud, cli: Cli, args: list[str]) -> None:
    cloud.reset_calls()
    result = cli("apply", "--yes", "-c", cloud.write_config(), *args)
    assert result.exit_code == 2 and one_line(result.output), result.output
    assert cloud.writes() == []


def test_json_output_documents_plan_apply_and_status(cloud: Cloud, cli: Cli) -> None:
    nodes = cloud.add_nodes(2)
    target = cloud.add_foreign_route("10.244.9.0/24")
    config = cloud.write_config()
    tables = len(cloud.tables())

    plan = json.loads(cli("plan", "--config", config, "-o", "json").output)
    assert (plan["command"], plan["provider"], plan["cluster"]) == ("plan", cloud.settings()["provider"], "prod")
    assert plan["changes"] == 4 + 2 * tables
    summary = {"claim": 2, "enable-forwarding": 2, "delete": 0, "replace": 0, "create": 2 * tables, "unclaim": 0}
    assert plan["summary"] == summary
    assert {"kind", "node", "table", "destination", "subnets", "reason"} <= set(plan["actions"][0])
    creates = [a for a in plan["actions"] if a["kind"] == "create"]
    assert {a["table"] for a in creates} == set(cloud.tables()) and {a["node"] for a in creates} == set(nodes)
    assert plan["api_calls"] == {op: 1 for op in cloud.observation}
    foreign = {r["destination"]: r for r in plan["foreign_routes"]}
    assert foreign["10.244.9.0/24"]["target"] == target
    assert "0.0.0.0/0" in foreign, "every foreign route of the network is listed"
    assert [p["kind"] for p in plan["problems"]] == ["foreign"] * tables
    assert not any(p["blocking"] for p in plan["problems"])

    cloud.reset_calls()
    result = cli("apply", "--config", config, "--yes", "-o", "json")
    assert result.exit_code == 0, result.output
    applied = json.loads(result.output)
    assert applied["command"] == "apply" and applied["converged"] is True and applied["rounds"] == 1
    assert applied["writes"] == 4 + 2 * tables
    assert all(r["outcome"] == "done" and r["attempts"] == 1 for r in applied["results"])
    writes = Counter(cloud.writes())
    assert writes == {"record": 2, "forwarding": 2, "route.create": 2 * tables}
    assert cloud.reads() == Counter({op: 2 for op in cloud.observation}) + cloud.fresh_reads(writes)
    # The apply's own calls: its writes and the one observation that verifies them (its plan's is not its own).
    assert applied["api_calls"] == cloud.calls() - Counter(cloud.observation)
    assert applied["remaining"]["changes"] == 0 and applied["retries"] == {}

    status = json.loads(cli("status", "--config", config, "-o", "json").output)
    assert status["converged"] is True and status["pending"]["changes"] == 0
    assert [n["node"] for n in status["nodes"]] == nodes
    for node in status["nodes"]:
        assert node["ready"] and node["forwarding"] and node["state"] == "running" and node["issues"] == []
        assert node["routes"] == {"active": tables, "expected": tables}
        assert node["subnets"] == [cloud.pod_cidrs()[node["node"]]]


def test_status_reports_a_stopped_node_without_failing_the_check(cloud: Cloud, cli: Cli) -> None:
    nodes = cloud.add_nodes(2)
    config = cloud.write_config()
    assert cli("apply", "--config", config, "--yes").exit_code == 0
    cloud.stop(nodes[0])
    cloud.reset_calls()

    result = cli("status", "--config", config, "--check", "-o", "json")

    assert result.exit_code == 0, "a stopped node keeps its subnet; only running nodes must be ready"
    rows = {n["node"]: n for n in json.loads(result.output)["nodes"]}
    tables = len(cloud.tables())
    assert rows[nodes[0]]["state"] == "stopped" and rows[nodes[0]]["routes"] == {"active": 0, "expected": tables}
    assert rows[nodes[1]]["ready"] is True
    assert cloud.writes() == []


def test_apply_refuses_without_yes_when_stdin_is_not_a_terminal(cloud: Cloud, cli: Cli) -> None:
    cloud.add_nodes(1)
    cloud.reset_calls()
    result = cli("apply", "--config", cloud.write_config())
    assert result.exit_code == 2
    assert "--yes" in last_line(result.output)
    assert cloud.writes() == []


def apply_answering(answer: str, config: str) -> subprocess.CompletedProcess[bytes]:
    """A pseudo-terminal stands in for the person at the keyboard."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer.encode() + b"\n")
        return subprocess.run(
            [sys.executable, "-m", "cloudroutes", "apply", "-c", config],
            stdin=terminal,
            capture_output=True,
            env=dict(os.environ),
            timeout=120,
        )
    finally:
        os.close(controller)
        os.close(terminal)


def test_apply_asks_on_a_terminal_and_no_writes_nothing(cloud: Cloud) -> None:
    cloud.add_nodes(2)
    config = cloud.write_config()
    cloud.reset_calls()

    declined = apply_answering("n", config)
    assert declined.returncode == 2 and b"change(s)?" in declined.stderr
    assert cloud.writes() == []

    accepted = apply_answering("y", config)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert len(cloud.pod_cidrs()) == 2


def test_destroy_removes_routes_and_records_but_leaves_forwarding_and_foreign_routes(cloud: Cloud, cli: Cli) -> None:
    nodes = cloud.add_nodes(3)
    cloud.add_foreign_route("10.244.200.0/24")
    labels = {n: cloud.labels(n) for n in nodes}
    before = cloud.raw_routes()
    config = cloud.write_config()
    assert cli("apply", "--config", config, "--yes").exit_code == 0
    assert all(len(routes) == 3 for routes in cloud.routes().values())

    result = cli("destroy", "--config", config, "--yes")

    assert result.exit_code == 0, result.output
    assert cloud.pod_cidrs() == {}
    assert all(routes == {} for routes in cloud.routes().values())
    assert cloud.raw_routes() == before, "foreign routes survive destroy, nothing of ours is left"
    assert {n: cloud.labels(n) for n in nodes} == labels, "records removed, every other tag kept"
    assert all(cloud.forwarding(n) for n in nodes)
    cloud.reset_calls()
    assert cli("destroy", "--config", config, "--yes").exit_code == 0
    assert cloud.writes() == [], "destroying nothing writes nothing"
