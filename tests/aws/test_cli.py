"""The CLI contract on AWS: commands, flags, exit codes, output, and "no write" on every refusal.

"No write" is read from the sim's call log, never assumed from the code path.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from cloudroutes.sim.ec2 import seed


def no_writes(world) -> bool:
    return world.sim.writes() == []


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


# -- the happy path ------------------------------------------------------------------------


def test_plan_apply_status_exit_codes(world, cli):
    seed.launch(world.ec2, world.seed, 3)
    config = world.write_config()
    world.sim.reset_calls()

    assert cli("plan", "--config", config).exit_code == 0
    assert cli("plan", "--config", config, "--detailed-exitcode").exit_code == 3
    assert cli("status", "--config", config, "--check").exit_code == 3
    assert no_writes(world)

    applied = cli("apply", "--config", config, "--yes")
    assert applied.exit_code == 0, applied.output
    assert "Converged." in applied.output

    world.sim.reset_calls()
    assert cli("plan", "--config", config, "--detailed-exitcode").exit_code == 0
    assert cli("status", "--config", config, "--check").exit_code == 0
    assert no_writes(world)


def test_config_path_from_environment(world, cli):
    seed.launch(world.ec2, world.seed, 1)
    result = cli("plan", "--detailed-exitcode", CLOUDROUTES_CONFIG=world.write_config())
    assert result.exit_code == 3


def test_every_key_can_come_from_the_environment(world, cli, tmp_path, monkeypatch):
    seed.launch(world.ec2, world.seed, 1)
    monkeypatch.chdir(tmp_path)
    env = {
        "CLOUDROUTES_PROVIDER": "aws",
        "CLOUDROUTES_CLUSTER_NAME": "prod",
        "CLOUDROUTES_CLUSTER_CIDR": "10.244.0.0/16",
        "CLOUDROUTES_AWS_VPC_ID": world.seed.vpc_id,
        "CLOUDROUTES_AWS_REGION": "us-east-1",
    }
    result = cli("plan", "--output", "json", **env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["summary"]["create"] == 2


def test_json_output_documents_plan_and_apply(world, cli):
    seed.launch(world.ec2, world.seed, 2)
    config = world.write_config()

    plan = json.loads(cli("plan", "--config", config, "-o", "json").output)
    assert plan["command"] == "plan" and plan["changes"] == 8
    assert plan["summary"] == {"claim": 2, "enable-forwarding": 2, "delete": 0, "replace": 0, "create": 4, "unclaim": 0}
    assert {"kind", "node", "table", "destination", "subnets", "reason"} <= set(plan["actions"][0])
    assert plan["api_calls"]["DescribeRouteTables"] == 1

    applied = json.loads(cli("apply", "--config", config, "--yes", "-o", "json").output)
    assert applied["converged"] is True and applied["writes"] == 8
    assert all(r["outcome"] == "done" for r in applied["results"])
    assert applied["api_calls"]["CreateRoute"] == 4
    assert applied["remaining"]["changes"] == 0

    status = json.loads(cli("status", "--config", config, "-o", "json").output)
    assert status["converged"] is True
    assert all(n["ready"] and n["routes"] == {"active": 2, "expected": 2} for n in status["nodes"])


def test_apply_refuses_without_yes_when_stdin_is_not_a_terminal(world, cli):
    seed.launch(world.ec2, world.seed, 1)
    world.sim.reset_calls()
    result = cli("apply", "--config", world.write_config())
    assert result.exit_code == 2
    assert "--yes" in last_line(result.output)
    assert no_writes(world)


def test_destroy_removes_routes_and_records_but_leaves_forwarding(world, cli):
    seed.foreign_routes(world.ec2, world.seed)
    nodes = seed.launch(world.ec2, world.seed, 2)
    config = world.write_config()
    assert cli("apply", "--config", config, "--yes").exit_code == 0

    result = cli("destroy", "--config", config, "--yes")

    assert result.exit_code == 0, result.output
    assert world.pod_cidrs() == {}
    for table in world.seed.table_ids:
        assert not [d for d in world.routes(table) if d.startswith("10.244.") and d != "10.244.200.0/24"]
    assert "10.244.200.0/24" in world.routes(world.seed.table_ids[0]), "foreign route survives destroy"
    instances = world.instances()
    assert all(instances[n]["NetworkInterfaces"][0]["SourceDestCheck"] is False for n in nodes)


# -- refusals: one line, exit 2, nothing written --------------------------------------------

REFUSALS = [
    pytest.param({"cidr": '"10.0.128.0/17"'}, "overlaps 10.0.0.0/16", id="cluster-cidr-overlaps-vpc"),
    pytest.param({"cidr": '"10.244.0.0/16"', "node_mask": 12}, "does not fit", id="node-mask-outside-cluster-prefix"),
    pytest.param({"cidr": '"10.244.1.0/16"'}, "host bits", id="cidr-with-host-bits"),
    pytest.param({"cidr": '"10.244.0.0/33"'}, "not a CIDR", id="invalid-cidr"),
    pytest.param({"vpc_id": "vpc-0000000000000dead"}, "not found", id="vpc-not-found"),
    pytest.param({"route_tables": '["rtb-0000000000000dead"]'}, "route table", id="missing-route-table"),
]


@pytest.mark.parametrize(("overrides", "says"), REFUSALS)
def test_bad_input_is_one_line_exit_2_and_no_write(world, cli, overrides, says):
    seed.launch(world.ec2, world.seed, 2)
    config = world.write_config(**overrides)
    world.sim.reset_calls()

    for command in (["plan"], ["apply", "--yes"]):
        result = cli(*command, "--config", config)
        assert result.exit_code == 2, result.output
        assert says in result.output
        assert result.output.strip().count("\n") == 0, "one line"
    assert no_writes(world)


def test_no_managed_route_table_is_refused(make_world, cli):
    world = make_world(tag_tables=False)
    seed.launch(world.ec2, world.seed, 1)
    world.sim.reset_calls()
    result = cli("apply", "--yes", "--config", world.write_config())
    assert result.exit_code == 2 and "no managed route table" in result.output
    assert no_writes(world)


def test_missing_credentials_are_refused(world, cli, monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    world.sim.reset_calls()
    result = cli("plan", "--config", world.write_config())
    assert result.exit_code == 2 and "credentials" in result.output
    assert world.sim.calls == []


def test_missing_config_file_is_refused(cli, tmp_path):
    result = cli("plan", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2 and "not found" in result.output


def test_an_empty_node_list_does_not_wipe_the_cluster(world, cli):
    seed.launch(world.ec2, world.seed, 4)
    config = world.write_config()
    assert cli("apply", "--config", config, "--yes").exit_code == 0
    world.sim.reset_calls()

    wrong_filter = cli("apply", "--config", config, "--yes", "--set", "aws.node_tags=role=nothing-matches")

    assert wrong_filter.exit_code == 2 and "--allow-mass-delete" in wrong_filter.output
    assert no_writes(world)


# -- partial failures: exit 1, the rest done, the report names what is missing --------------


def test_route_quota_creates_nothing_in_a_full_table_and_names_the_quota(world, cli):
    world.sim.route_limit = 3
    seed.launch(world.ec2, world.seed, 4)

    result = cli("apply", "--config", world.write_config(), "--yes")

    assert result.exit_code == 1
    assert "1 route(s) missing" in result.output and "L-93826ACB" in result.output
    assert not [c for c in world.sim.writes() if c.action == "CreateRoute"]


def test_exhaustion_converges_what_fits_and_names_the_rest(world, cli):
    nodes = seed.launch(world.ec2, world.seed, 5)
    for offset, node in enumerate(nodes):
        world.sim.set_launch_time(node, datetime(2026, 1, offset + 1, tzinfo=UTC))

    result = cli("apply", "--config", world.write_config(cidr='"10.244.0.0/22"'), "--yes", "-o", "json")

    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert [p["kind"] for p in doc["remaining"]["problems"]] == ["exhausted"]
    assert nodes[4] in doc["remaining"]["problems"][0]["message"]
    assert len(world.pod_cidrs()) == 4 and nodes[4] not in world.pod_cidrs()


def test_every_key_can_come_from_a_flag_of_its_own(world, cli, tmp_path, monkeypatch):
    seed.launch(world.ec2, world.seed, 1)
    monkeypatch.chdir(tmp_path)
    flags = [
        "--provider",
        "aws",
        "--cluster-name",
        "prod",
        "--cluster-cidr=10.245.0.0/16",
        "--aws-vpc-id",
        world.seed.vpc_id,
        "--aws-region",
        "us-east-1",
        "--limits-write-rate",
        "2.5",
    ]
    result = cli("plan", *flags, "-o", "json")
    assert result.exit_code == 0, result.output
    creates = [a for a in json.loads(result.output)["actions"] if a["kind"] == "create"]
    assert {a["destination"] for a in creates} == {"10.245.0.0/24"}


def test_a_flag_beats_the_file_and_the_environment(world, cli):
    seed.launch(world.ec2, world.seed, 1)
    config = world.write_config(cidr='"10.246.0.0/16"')
    result = cli(
        "plan", "-c", config, "--cluster-cidr", "10.247.0.0/16", "-o", "json", CLOUDROUTES_CLUSTER_CIDR="10.248.0.0/16"
    )
    assert {a["destination"] for a in json.loads(result.output)["actions"] if a["kind"] == "create"} == {
        "10.247.0.0/24"
    }


@pytest.mark.parametrize(
    "args", [["--cluster-colour", "red"], ["--cluster-cidr"]], ids=["unknown-flag", "flag-without-value"]
)
def test_a_bad_flag_is_one_line_exit_2(world, cli, args):
    world.sim.reset_calls()
    result = cli("apply", "--yes", "-c", world.write_config(), *args)
    assert result.exit_code == 2 and result.output.strip().count("\n") == 0, result.output
    assert no_writes(world)
