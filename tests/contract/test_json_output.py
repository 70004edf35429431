"""--output json on every cloud: each command's document follows the JSON Schema the package ships,
a failure is one JSON object on stdout with the exit code text mode gives, a blocked plan is told
apart from a cloud failure, and foreign routes are listed wherever a plan is.

(The `cli` fixture already checks every JSON run of every suite against its schema; the tests here
read the documents through the same check on purpose, and assert what a schema cannot.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.cli_output import last_line, one_line, parse_json

from .clouds import Cloud

Cli = Callable[..., Any]


def test_every_command_prints_a_document_its_schema_allows(cloud: Cloud, cli: Cli) -> None:
    cloud.add_nodes(2)
    config = cloud.write_config()
    docs = {}
    for args in (["plan"], ["apply", "--yes"], ["status"], ["destroy", "--yes"]):
        result = cli(*args, "-c", config, "-o", "json")
        assert result.exit_code == 0, result.output
        docs[args[0]] = parse_json(args[0], result.stdout)
    assert {doc["format_version"] for doc in docs.values()} == {"1.0"}
    assert [doc["command"] for doc in docs.values()] == ["plan", "apply", "status", "destroy"]
    assert not any(doc["blocked"] for doc in docs.values())


def test_foreign_routes_are_listed_in_status_and_in_both_plans_of_apply(cloud: Cloud, cli: Cli) -> None:
    """They used to be listed by `plan` only: `status` and apply's plans said [] on the same cloud."""
    cloud.add_nodes(2)
    target = cloud.add_foreign_route("10.244.9.0/24")
    config = cloud.write_config()

    planned = parse_json("plan", cli("plan", "-c", config, "-o", "json").stdout)["foreign_routes"]
    applied = parse_json("apply", cli("apply", "-c", config, "--yes", "-o", "json").stdout)
    status = parse_json("status", cli("status", "-c", config, "-o", "json").stdout)

    assert {r["target"] for r in planned if r["destination"] == "10.244.9.0/24"} == {target}
    assert applied["plan"]["foreign_routes"] == planned
    assert applied["remaining"]["foreign_routes"] == planned, "the read-back sees the same foreign routes"
    assert status["pending"]["foreign_routes"] == planned


def test_a_bad_config_is_one_json_object_on_stdout_with_exit_2(cloud: Cloud, cli: Cli) -> None:
    cloud.add_nodes(1)
    config = cloud.write_config(cidr='"10.244.1.0/16"')
    cloud.reset_calls()
    for args in (["plan"], ["apply", "--yes"], ["status", "--check"], ["destroy", "--yes"]):
        text = cli(*args, "-c", config)
        result = cli(*args, "-c", config, "-o", "json")

        assert result.exit_code == text.exit_code == 2, result.output
        assert one_line(result.stdout) and result.stderr == "", "one object on stdout, nothing else"
        error = parse_json(args[0], result.stdout)["error"]
        assert error["kind"] == "config" and "host bits" in error["message"]
        assert last_line(text.output) == f"error: {error['message']}", "the same words as text mode"
    assert cloud.writes() == []


def test_a_cloud_failure_is_one_json_object_on_stdout_with_exit_1(cloud: Cloud, cli: Cli) -> None:
    cloud.add_nodes(1)
    config = cloud.write_config()
    reads = next(g for g, allows in cloud.grants().items() if allows & {"ec2:DescribeVpcs", "compute.routes.list"})
    env = cloud.restrict(without=reads)
    cloud.reset_calls()

    result = cli("apply", "-c", config, "--yes", "-o", "json", **env)

    assert result.exit_code == 1, result.output
    error = parse_json("apply", result.stdout)["error"]
    assert error["kind"] == "denied" and error["message"].startswith("permission denied: ")
    assert error["message"].removeprefix("permission denied: ") in cloud.grants()[reads]
    assert cloud.writes() == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--cluster-cidr"], "requires an argument"),
        (["--cluster-colour", "red"], "no such option: --cluster-colour"),
        (["--set", "cluster.cidr"], "--set expects section.key=value"),
    ],
    ids=["flag-without-value", "unknown-flag", "bad-set"],
)
def test_a_malformed_command_line_is_a_json_usage_error_under_output_json(
    cloud: Cloud, cli: Cli, args: list[str], says: str
) -> None:
    cloud.reset_calls()
    for output in (["-o", "json"], ["--output=json"], ["-ojson"]):
        result = cli("apply", "--yes", "-c", cloud.write_config(), *output, *args)
        assert result.exit_code == 2, result.output
        error = parse_json("apply", result.stdout)["error"]
        assert error["kind"] in ("usage", "config") and says in error["message"], error
    assert cloud.writes() == []


def test_apply_without_yes_is_refused_in_json_too(cloud: Cloud, cli: Cli) -> None:
    cloud.add_nodes(1)
    cloud.reset_calls()
    result = cli("apply", "-c", cloud.write_config(), "-o", "json")
    assert result.exit_code == 2
    assert "--yes" in parse_json("apply", result.stdout)["error"]["message"]
    assert cloud.writes() == []


def test_a_blocked_plan_is_told_apart_from_a_cloud_failure(cloud: Cloud, cli: Cli) -> None:
    cloud.limit_routes(room=1)
    cloud.add_nodes(2)
    config = cloud.write_config()

    plan = cli("plan", "-c", config, "-o", "json")
    applied = cli("apply", "-c", config, "--yes", "-o", "json")
    text = cli("apply", "-c", config, "--yes")

    assert plan.exit_code == applied.exit_code == text.exit_code == 1
    assert parse_json("plan", plan.stdout)["blocked"] is True
    report = parse_json("apply", applied.stdout)
    assert report["blocked"] is True and report["remaining"]["blocked"] is True and report["converged"] is False
    assert not [r for r in report["results"] if r["outcome"] != "done"], "nothing failed: the plan is blocked"
    assert "Blocked (quota)" in text.output and "no cloud failure" in text.output


def test_a_failed_write_is_not_blocked(cloud: Cloud, cli: Cli) -> None:
    cloud.add_nodes(1)
    config = cloud.write_config()
    routes = next(g for g, allows in cloud.grants().items() if allows & {"ec2:CreateRoute", "compute.routes.create"})

    result = cli("apply", "-c", config, "--yes", "-o", "json", **cloud.restrict(without=routes))

    assert result.exit_code == 1, result.output
    report = parse_json("apply", result.stdout)
    assert report["blocked"] is False and report["converged"] is False
    assert {r["outcome"] for r in report["results"]} >= {"failed"}


def test_the_json_names_no_field_the_readme_does_not(cloud: Cloud, cli: Cli) -> None:
    """Every top-level field of every command's document is named in the README's JSON section."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## JSON output") :]
    section = section[: section.index("\n## ", 1)]
    cloud.add_nodes(1)
    config = cloud.write_config()
    for args in (["plan"], ["apply", "--yes"], ["status"]):
        doc = json.loads(cli(*args, "-c", config, "-o", "json").stdout)
        missing = [field for field in doc if f"`{field}`" not in section and f'"{field}"' not in section]
        assert missing == [], f"{args[0]}: document these in README 'JSON output'"
