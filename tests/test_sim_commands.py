"""`cloudroutes sim aws|gce` in the foreground, as a person would use them: read the exports, point
the real commands at them, stop with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.cli_output import parse_json

CLI = [sys.executable, "-m", "cloudroutes"]


@pytest.mark.parametrize("kubernetes", [False, True], ids=["cloud", "with-kubernetes"])
@pytest.mark.parametrize("cloud", ["aws", "gce"])
def test_sim_prints_exports_that_the_real_commands_converge_against(cloud, kubernetes, tmp_path):
    sim = subprocess.Popen(
        [*CLI, "sim", cloud, "--nodes", "2", "--port", "0", "-o", "json", *(["--kubernetes"] if kubernetes else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert sim.stdout is not None
        env = {**os.environ, **json.loads(sim.stdout.readline())["env"]}
        env.pop("CLOUDROUTES_CONFIG", None)

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*CLI, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)

        assert run("plan", "--detailed-exitcode").returncode == 3
        applied = run("apply", "--yes")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert run("plan", "--detailed-exitcode").returncode == 0
        status = parse_json("status", run("status", "-o", "json").stdout)
        assert len(status["nodes"]) == 2 and status["converged"]
        if kubernetes:  # each VM's Node object was told its subnet and marked routed
            told = [n["kubernetes"] for n in status["nodes"]]
            assert [t["pod_cidrs"] for t in told] == [n["subnets"] for n in status["nodes"]]
            assert {t["network_unavailable"] for t in told} == {"False"}
    finally:
        sim.send_signal(signal.SIGTERM)
        assert sim.wait(timeout=20) == 0


def test_demo_tells_its_story_as_json_and_checks_every_claim():
    result = subprocess.run([*CLI, "demo", "--nodes", "3", "-o", "json"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    story = json.loads(result.stdout)
    assert story["ok"] is True and len(story["verdict"]) == 5 and all(story["verdict"].values())
    first, second = story["acts"]
    assert first["apply"]["converged"] and second["apply"]["converged"]
    assert second["apply"]["plan"]["summary"]["delete"] == 2, "the terminated node's route goes from both AZ tables"
    assert len(second["nodes"]) == 4 and all(n["ready"] for n in second["nodes"])


def test_demo_with_kubernetes_tells_both_modes_and_checks_the_node_objects():
    args = [*CLI, "demo", "--kubernetes", "--nodes", "3", "-o", "json"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    modes = json.loads(result.stdout)["kubernetes"]
    assert set(modes) == {"publish", "adopt"}
    for story in modes.values():
        assert story["ok"] is True
        assert story["verdict"]["every Node's NetworkUnavailable is False (RouteCreated)"]
    adopted = {s for n in modes["adopt"]["acts"][0]["nodes"] for s in n["subnets"]}
    assert all(s.startswith("10.244.1") and int(s.split(".")[2]) >= 100 for s in adopted), "the Nodes' podCIDRs"


def test_sim_stops_on_ctrl_c_also_as_a_background_job(tmp_path):
    """A CI script's `cloudroutes sim gce &` starts with SIGINT ignored (POSIX sh does that to
    background jobs, and the child inherits it); Ctrl-C (SIGINT) must still stop it cleanly."""
    sim = subprocess.Popen(
        [*CLI, "sim", "gce", "--nodes", "1", "--port", "0", "-o", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert sim.stdout is not None and "env" in json.loads(sim.stdout.readline())
        sim.send_signal(signal.SIGINT)
        assert sim.wait(timeout=10) == 0
        assert sim.stderr is not None and "Traceback" not in sim.stderr.read()
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait()
