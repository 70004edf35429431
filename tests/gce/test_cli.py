"""The CLI on what only GCE has: projects and secondary ranges, canIpForward that may not be fixed,
operations that fail inside, zone/name instance ids and the metadata server, names unique per zone.

The CLI contract every cloud shares lives in tests/contract/. "No write" is read from the emulator's
call log, never assumed from the code path.
"""

from __future__ import annotations

import json

import pytest

from tests.cli_output import assert_refused, one_line
from tests.loopback import MetadataHandler, serving

from .world import PROJECT, count


def emulator(world) -> dict[str, str]:
    """How a shell points cloudroutes at the embedded cloud: its endpoint, and anonymous credentials asked for."""
    return {"CLOUDROUTES_GCE_ENDPOINT": world.sim.endpoint, "CLOUDROUTES_GCE_EMULATOR": "true"}


# -- refusals: one line, exit 2, nothing written --------------------------------------------

REFUSALS = [
    pytest.param({"cidr": '"10.60.128.0/17"'}, "overlaps 10.60.0.0/16", id="cluster-cidr-overlaps-a-secondary-range"),
    pytest.param({"project": "no-such-project"}, "project no-such-project not found", id="project-not-found"),
]


@pytest.mark.parametrize(("overrides", "says"), REFUSALS)
def test_bad_input_is_one_line_exit_2_and_no_write(world, cli, overrides, says):
    world.add_nodes(2)
    config = world.write_config(**overrides)
    world.sim.reset_calls()

    assert_refused(cli, config, says)

    assert world.sim.writes() == []


@pytest.mark.parametrize("endpoint", ["compute.googleapis.com", "localhost:8080", "ftp://host/"])
def test_a_gce_endpoint_that_is_not_a_url_is_one_line_exit_2_and_reaches_nothing(world, cli, endpoint):
    world.add_nodes(1)
    config = world.write_config()
    world.sim.reset_calls()

    for command in (["plan"], ["apply", "--yes"], ["status", "--check"]):
        result = cli(*command, "--config", config, "--gce-endpoint", endpoint)
        assert result.exit_code == 2, result.output
        assert "expected an http(s) URL" in result.output and one_line(result.output), result.output

    assert world.sim.calls == []


# -- partial failures: exit 1, the rest done, the report names what is missing --------------


def test_forwarding_off_without_fix_exits_1_naming_the_node(world, cli):
    ready = world.add_nodes(2, forwarding=True)
    (off,) = world.add_nodes(1)
    config = world.write_config(fix_forwarding=False)

    result = cli("apply", "--config", config, "--yes")

    assert result.exit_code == 1
    problem = [line for line in result.output.splitlines() if "forwarding" in line.lower() and off in line]
    assert problem, result.output
    world.assert_converged(ready)
    assert world.instances()[off]["canIpForward"] is False
    assert cli("status", "--config", config, "--check").exit_code == 3


def test_a_quota_error_inside_an_operation_exits_1_without_retry(world, cli):
    world.sim.op_seconds = 0.05
    world.add_nodes(2, forwarding=True)
    world.sim.fail_next(
        "routes.insert", http_status=403, reason="quotaExceeded", message="Quota 'ROUTES' exceeded.", in_operation=True
    )
    world.sim.reset_calls()

    result = cli("apply", "--config", world.write_config(), "--yes", "-o", "json")

    assert result.exit_code == 1
    doc = json.loads(result.output)
    failed = [r for r in doc["results"] if r["outcome"] != "done"]
    assert [(r["kind"], r["error_kind"], r["attempts"]) for r in failed] == [("create", "quota-exceeded", 1)]
    assert doc["retries"] == {} and doc["converged"] is False
    assert count(world.sim.writes())["routes.insert"] == 2


# -- node-cidr: the VM's half ----------------------------------------------------------------


def test_node_cidr_refuses_an_unknown_instance_or_a_bare_name(world, cli):
    world.add_nodes(1)
    env = {**emulator(world), "CLOUDROUTES_GCE_PROJECT": PROJECT}
    missing = cli("node-cidr", "--provider", "gce", "--instance-id", "us-central1-a/ghost", **env)
    assert missing.exit_code == 2 and "not found" in missing.output and one_line(missing.output)
    bare = cli("node-cidr", "--provider", "gce", "--instance-id", "node-1", **env)
    assert bare.exit_code == 2 and "zone/name" in bare.output


@pytest.fixture
def metadata():
    """A GCE metadata server on loopback: answers only requests that carry Metadata-Flavor: Google."""
    values = {
        "instance/zone": "projects/123456789/zones/us-central1-b",
        "instance/name": "node-2",
        "project/project-id": PROJECT,
    }

    class Handler(MetadataHandler):
        def do_GET(self):
            key = self.path.removeprefix("/computeMetadata/v1/")
            if self.headers.get("Metadata-Flavor") != "Google" or key not in values:
                self.send_error(404)
                return
            self.answer(values[key])

    with serving(Handler) as url:
        yield url


def test_node_cidr_on_the_vm_reads_zone_name_and_project_from_metadata(world, cli, metadata):
    world.add_nodes(2)
    assert cli("apply", "--config", world.write_config(), "--yes").exit_code == 0

    result = cli("node-cidr", "--provider", "gce", "--imds", metadata, **emulator(world))

    assert result.exit_code == 0, result.output
    assert result.output.strip() == world.pod_cidrs()["node-2"]


def test_demo_runs_on_the_embedded_compute_engine(cli):
    result = cli("demo", "--provider", "gce", "--nodes", "3")
    assert result.exit_code == 0, result.output
    verdict = result.output.split("Verdict", 1)[1]
    assert "a second plan is empty" in verdict and "foreign routes are untouched" in verdict
    assert all(line.startswith("ok") for line in verdict.strip().splitlines()[1:] if line.strip())


def test_two_nodes_with_one_name_in_two_zones_are_refused(world, cli):
    """GCE keeps instance names unique per zone only; nodes are known by name, so refuse, don't guess."""
    world.add_nodes(1)
    for zone in ("us-central1-a", "us-central1-b"):
        world.sim.add_instance("twin", zone=zone, labels={"cloudroutes-cluster": "prod"})
    config = world.write_config()
    world.sim.reset_calls()

    result = cli("apply", "--yes", "--config", config)

    assert result.exit_code == 2 and "two nodes are named twin" in result.output
    assert one_line(result.output)
    assert world.sim.writes() == []
