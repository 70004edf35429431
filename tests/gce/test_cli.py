"""The CLI contract on GCE: commands, flags, exit codes, output, and "no write" on every refusal.

"No write" is read from the emulator's call log, never assumed from the code path.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cloudroutes.providers import gce_names as names

from .world import INTERNET, PROJECT, READS, count


def no_writes(world) -> bool:
    return world.sim.writes() == []


def emulator(world) -> dict[str, str]:
    """How a shell points cloudroutes at the embedded cloud: its endpoint, and anonymous credentials asked for."""
    return {"CLOUDROUTES_GCE_ENDPOINT": world.sim.endpoint, "CLOUDROUTES_GCE_EMULATOR": "true"}


def one_line(text: str) -> bool:
    return text.strip() != "" and "\n" not in text.strip()


# -- the happy path ------------------------------------------------------------------------


def test_plan_apply_status_exit_codes(world, cli):
    world.add_nodes(3)
    config = world.write_config()
    world.sim.reset_calls()

    assert cli("plan", "--config", config).exit_code == 0
    assert cli("plan", "--config", config, "--detailed-exitcode").exit_code == 3
    assert cli("status", "--config", config, "--check").exit_code == 3
    assert cli("status", "--config", config).exit_code == 0, "without --check, status only reports"
    assert no_writes(world)

    applied = cli("apply", "--config", config, "--yes")
    assert applied.exit_code == 0, applied.output
    assert "Converged." in applied.output

    world.sim.reset_calls()
    assert cli("plan", "--config", config, "--detailed-exitcode").exit_code == 0
    assert cli("status", "--config", config, "--check").exit_code == 0
    assert no_writes(world)
    assert count(world.sim.calls) == {op: 2 for op in READS}, "plan and status: one observation each"


def test_every_key_can_come_from_the_environment(world, cli, tmp_path, monkeypatch):
    world.add_nodes(2)
    monkeypatch.chdir(tmp_path)
    env = {
        "CLOUDROUTES_PROVIDER": "gce",
        "CLOUDROUTES_CLUSTER_NAME": "prod",
        "CLOUDROUTES_CLUSTER_CIDR": "10.244.0.0/16",
        "CLOUDROUTES_GCE_PROJECT": PROJECT,
        "CLOUDROUTES_GCE_NETWORK": "default",
        "CLOUDROUTES_GCE_ENDPOINT": world.sim.endpoint,
        "CLOUDROUTES_GCE_EMULATOR": "true",
        "CLOUDROUTES_GCE_FIX_FORWARDING": "true",
    }
    result = cli("plan", "--output", "json", **env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["summary"]["create"] == 2


def test_json_output_documents_plan_apply_and_status(world, cli):
    world.add_nodes(2)
    world.sim.add_route(name="theirs", dest_range="10.244.9.0/24", next_hop_gateway="default-internet-gateway")
    config = world.write_config()

    plan = json.loads(cli("plan", "--config", config, "-o", "json").output)
    assert (plan["command"], plan["provider"], plan["cluster"]) == ("plan", "gce", "prod")
    assert plan["changes"] == 6
    assert plan["summary"] == {"enable-forwarding": 2, "claim": 2, "delete": 0, "replace": 0, "create": 2, "unclaim": 0}
    assert {"kind", "node", "table", "destination", "subnets", "reason"} <= set(plan["actions"][0])
    creates = [a for a in plan["actions"] if a["kind"] == "create"]
    assert {a["table"] for a in creates} == {"default"} and {a["node"] for a in creates} == {"node-1", "node-2"}
    assert plan["api_calls"] == {op: 1 for op in READS}
    foreign = {r["destination"]: r for r in plan["foreign_routes"]}
    assert foreign["10.244.9.0/24"]["target"] == "default-internet-gateway"
    assert "0.0.0.0/0" in foreign, "every foreign route of the network is listed"
    assert [p["kind"] for p in plan["problems"]] == ["foreign"] and plan["problems"][0]["blocking"] is False

    result = cli("apply", "--config", config, "--yes", "-o", "json")
    assert result.exit_code == 0, result.output
    applied = json.loads(result.output)
    assert applied["command"] == "apply" and applied["converged"] is True and applied["rounds"] == 1
    assert applied["writes"] == 6
    assert all(r["outcome"] == "done" and r["attempts"] == 1 for r in applied["results"])
    # The apply's own calls: its writes and the one observation that verifies them.
    # A forwarding fix reads its instance fresh (a whole-instance PUT) and writes it back.
    writes = {"instances.get": 2, "instances.update": 2, "instances.setLabels": 2, "routes.insert": 2}
    assert applied["api_calls"] == writes | {op: 1 for op in READS}
    assert applied["remaining"]["changes"] == 0 and applied["retries"] == {}

    status = json.loads(cli("status", "--config", config, "-o", "json").output)
    assert status["converged"] is True and status["pending"]["changes"] == 0
    assert [n["node"] for n in status["nodes"]] == ["node-1", "node-2"]
    for node in status["nodes"]:
        assert node["ready"] and node["forwarding"] and node["state"] == "running" and node["issues"] == []
        assert node["routes"] == {"active": 1, "expected": 1}
        assert node["subnets"] == [world.pod_cidrs()[node["node"]]]


def test_status_reports_a_stopped_node_without_failing_the_check(world, cli):
    nodes = world.add_nodes(2)
    config = world.write_config()
    assert cli("apply", "--config", config, "--yes").exit_code == 0
    world.sim.set_instance_status(world.zone_for(nodes[0]), nodes[0], "TERMINATED")
    world.sim.reset_calls()

    result = cli("status", "--config", config, "--check", "-o", "json")

    assert result.exit_code == 0, "a stopped node keeps its subnet; only running nodes must be ready"
    rows = {n["node"]: n for n in json.loads(result.output)["nodes"]}
    assert rows[nodes[0]]["state"] == "stopped" and rows[nodes[0]]["routes"] == {"active": 0, "expected": 1}
    assert rows[nodes[1]]["ready"] is True
    assert no_writes(world)


def test_apply_refuses_without_yes_when_stdin_is_not_a_terminal(world, cli):
    world.add_nodes(1)
    world.sim.reset_calls()
    result = cli("apply", "--config", world.write_config())
    assert result.exit_code == 2
    assert "--yes" in result.output.strip().splitlines()[-1]
    assert no_writes(world)


def test_destroy_removes_routes_and_labels_but_leaves_forwarding(world, cli):
    world.sim.add_route(name="theirs", dest_range="10.244.200.0/24", next_hop_gateway="default-internet-gateway")
    nodes = world.add_nodes(3)
    config = world.write_config()
    assert cli("apply", "--config", config, "--yes").exit_code == 0
    assert len(world.ours()) == 3

    result = cli("destroy", "--config", config, "--yes")

    assert result.exit_code == 0, result.output
    assert world.ours() == {}
    assert set(world.routes()) == {INTERNET, "theirs"}, "foreign routes survive destroy"
    instances = world.instances()
    for node in nodes:
        assert instances[node]["labels"] == {names.CLUSTER_LABEL: "prod"}
        assert instances[node]["canIpForward"] is True
    world.sim.reset_calls()
    assert cli("destroy", "--config", config, "--yes").exit_code == 0
    assert no_writes(world), "destroying nothing writes nothing"


# -- refusals: one line, exit 2, nothing written --------------------------------------------

REFUSALS = [
    pytest.param({"cidr": '"10.128.0.0/16"'}, "overlaps 10.128.0.0/20", id="cluster-cidr-overlaps-a-subnet"),
    pytest.param({"cidr": '"10.60.128.0/17"'}, "overlaps 10.60.0.0/16", id="cluster-cidr-overlaps-a-secondary-range"),
    pytest.param({"network": "nope"}, "network nope not found", id="network-not-found"),
    pytest.param({"project": "no-such-project"}, "project no-such-project not found", id="project-not-found"),
    pytest.param({"cidr": '"10.244.1.0/16"'}, "host bits", id="cidr-with-host-bits"),
]


@pytest.mark.parametrize(("overrides", "says"), REFUSALS)
def test_bad_input_is_one_line_exit_2_and_no_write(world, cli, overrides, says):
    world.add_nodes(2)
    config = world.write_config(**overrides)
    world.sim.reset_calls()

    for command in (["plan"], ["apply", "--yes"], ["status", "--check"]):
        result = cli(*command, "--config", config)
        assert result.exit_code == 2, result.output
        assert says in result.output
        assert one_line(result.output), result.output
    assert no_writes(world)


def test_an_empty_node_list_does_not_wipe_the_cluster(world, cli):
    world.add_nodes(4)
    config = world.write_config()
    assert cli("apply", "--config", config, "--yes").exit_code == 0
    world.sim.reset_calls()

    wrong_filter = cli("apply", "--config", config, "--yes", "--set", "gce.node_labels=role=nothing-matches")

    assert wrong_filter.exit_code == 2 and "--allow-mass-delete" in wrong_filter.output
    assert no_writes(world)
    assert len(world.ours()) == 4


# -- partial failures: exit 1, the rest done, the report names what is missing --------------


def test_route_quota_inserts_nothing_and_says_how_many_routes_are_missing(world, cli):
    world.sim.routes_quota = 3  # the internet route leaves room for 2 of ours
    world.add_nodes(3)
    world.sim.reset_calls()

    result = cli("apply", "--config", world.write_config(), "--yes")

    assert result.exit_code == 1
    assert "1 route(s) missing" in result.output and "ROUTES" in result.output
    assert "routes.insert" not in count(world.sim.writes())
    assert world.ours() == {}


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


def test_node_cidr_prints_the_recorded_subnet(world, cli):
    nodes = world.add_nodes(2)
    env = {**emulator(world), "CLOUDROUTES_GCE_PROJECT": PROJECT}
    instance = f"{world.zone_for(nodes[1])}/{nodes[1]}"

    before = cli("node-cidr", "--provider", "gce", "--instance-id", instance, **env)
    assert before.exit_code == 3, "not assigned yet: wait and retry"
    assert cli("apply", "--config", world.write_config(), "--yes").exit_code == 0

    after = cli("node-cidr", "--provider", "gce", "--instance-id", instance, **env)
    assert after.exit_code == 0
    assert after.output.strip() == world.pod_cidrs()[nodes[1]] == "10.244.1.0/24"
    docker = cli("node-cidr", "--provider", "gce", "--instance-id", instance, "--format", "docker", **env)
    assert json.loads(docker.output) == {"bip": "10.244.1.1/24"}


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

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            key = self.path.removeprefix("/computeMetadata/v1/")
            if self.headers.get("Metadata-Flavor") != "Google" or key not in values:
                self.send_error(404)
                return
            body = values[key].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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
    assert no_writes(world)


def test_an_endpoint_alone_never_switches_to_anonymous_credentials(world, cli, monkeypatch):
    """A private endpoint in production must not run unauthenticated: anonymous only with gce.emulator."""
    world.add_nodes(1)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/credentials.json")
    text = world.config_text().replace("emulator = true\n", "")
    config = world.path / "no-emulator.toml"
    config.write_text(text)
    world.sim.reset_calls()

    result = cli("plan", "--config", str(config))

    assert result.exit_code == 2, result.output
    assert "credentials" in result.output and one_line(result.output)
    assert world.sim.calls == [], "nothing reached the endpoint without credentials"
