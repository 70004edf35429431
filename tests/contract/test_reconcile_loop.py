"""`reconcile --interval` as a Deployment runs it: a real subprocess against the embedded cloud, with
signals, /metrics and /healthz on a real port, JSON logs on stderr.

Nothing here waits a fixed time and then asserts: every wait polls for what it expects, within a
bounded deadline, and fails naming what it was waiting for.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .clouds import Cloud, assert_routed

DEADLINE_S = 90.0
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Reconciler:
    """One `cloudroutes reconcile --interval 1s` process, its port and its stderr."""

    def __init__(self, tmp_path: Path, config: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.stderr_path = tmp_path / f"reconcile-{self.port}.err"
        command = [sys.executable, "-m", "cloudroutes", "reconcile", "--config", config, "--interval", "1s"]
        command += ["--metrics-port", str(self.port), *args]
        with self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen(
                command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=stderr
            )

    def get(self, path: str) -> tuple[int, str]:
        """(status, body); (0, why) while nothing answers yet."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read().decode()
        except OSError as exc:
            return 0, str(exc)

    def samples(self) -> Samples:
        status, body = self.get("/metrics")
        if status != 200:
            return {}
        families = text_string_to_metric_families(body)
        return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}

    def passes(self, result: str) -> float:
        return self.samples().get(("cloudroutes_passes_total", frozenset({("result", result)})), 0.0)

    def wait_for(self, what: str, check: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"reconcile exited {self.process.returncode} waiting for {what}:\n{self.stderr()}")
            if found := check():
                return found
            time.sleep(0.1)
        pytest.fail(f"no {what} within {DEADLINE_S}s:\n{self.stderr()[-3000:]}")

    def signal(self, number: signal.Signals) -> None:
        self.process.send_signal(number)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=DEADLINE_S)

    def stderr(self) -> str:
        return self.stderr_path.read_text()


@pytest.fixture
def reconciler(tmp_path: Path) -> Iterator[Callable[..., Reconciler]]:
    started: list[Reconciler] = []

    def start(config: str, *args: str, env: dict[str, str] | None = None) -> Reconciler:
        started.append(Reconciler(tmp_path, config, *args, env=env))
        return started[-1]

    yield start
    for one in started:
        if one.process.poll() is None:
            one.process.kill()
            one.process.wait(timeout=30)


def test_the_loop_converges_serves_metrics_and_stops_on_sigterm(cloud: Cloud, reconciler: Any) -> None:
    nodes = cloud.add_nodes(3)
    loop = reconciler(cloud.write_config(), "--log-format", "json", "-v")

    loop.wait_for("a converged pass", lambda: loop.passes("converged") >= 1)
    assert_routed(cloud, nodes)
    samples = loop.samples()
    assert samples[("cloudroutes_nodes", frozenset())] == len(nodes)
    assert samples[("cloudroutes_converged", frozenset())] == 1
    assert loop.get("/healthz")[0] == 200
    later = cloud.add_nodes(1)
    loop.wait_for("the new node routed", lambda: set(later) <= set(cloud.pod_cidrs()))

    assert loop.stop() == 0
    lines = loop.stderr().splitlines()
    assert lines, "a loop logs its passes"
    for line in lines:
        record = json.loads(line)
        assert {"time", "level", "message"} <= set(record), line
    records = [json.loads(line) for line in lines]
    assert any(r.get("pass_result") == "converged" for r in records)
    assert any(r.get("action") == "create" and r.get("table") and r.get("node") for r in records)
    assert any(r.get("api_call") in cloud.observation for r in records), "-v: each API call, by operation"


def test_healthz_turns_503_when_passes_keep_failing_and_sighup_brings_it_back(cloud: Cloud, reconciler: Any) -> None:
    cloud.add_nodes(2)
    env = cloud.restrict()  # the shipped grants, all of them, so that one can be taken away below
    loop = reconciler(cloud.write_config(), env=env)
    loop.wait_for("a converged pass", lambda: loop.passes("converged") >= 1)

    cloud.restrict(without=cloud.READ_GRANT)

    loop.wait_for("a failed pass", lambda: loop.passes("failed") >= 1)
    loop.wait_for("/healthz 503", lambda: loop.get("/healthz")[0] == 503)
    assert loop.process.poll() is None, "a cloud failure never ends the loop"
    samples = loop.samples()
    codes = {dict(labels)["code"] for (name, labels) in samples if name == "cloudroutes_api_calls_total"}
    assert codes & cloud.DENIED_CODES
    assert samples[("cloudroutes_converged", frozenset())] == 0

    cloud.restrict()  # the grant is back; SIGHUP starts a pass at once instead of after the backoff
    loop.signal(signal.SIGHUP)

    loop.wait_for("/healthz 200 again", lambda: loop.get("/healthz")[0] == 200)
    assert loop.stop() == 0


def test_sighup_reads_the_config_again(cloud: Cloud, reconciler: Any) -> None:
    first = cloud.add_nodes(1)
    config = cloud.write_config()
    loop = reconciler(config)
    loop.wait_for("a converged pass", lambda: loop.passes("converged") >= 1)
    assert cloud.pod_cidrs()[first[0]] == "10.244.0.0/24"

    text = Path(config).read_text()
    Path(config).write_text(text.replace("node_mask = 24\n", 'node_mask = 24\nreserved = ["10.244.1.0/24"]\n', 1))
    loop.signal(signal.SIGHUP)
    loop.wait_for("the reload logged", lambda: "config read again" in loop.stderr())
    second = cloud.add_nodes(1)

    found = loop.wait_for("the new node's subnet", lambda: cloud.pod_cidrs().get(second[0]))
    assert found == "10.244.2.0/24", "the reserved range of the re-read config was skipped"
    assert loop.stop() == 0


def test_an_invalid_config_on_sighup_keeps_the_previous_one(cloud: Cloud, reconciler: Any) -> None:
    cloud.add_nodes(1)
    config = cloud.write_config()
    loop = reconciler(config)
    loop.wait_for("a converged pass", lambda: loop.passes("converged") >= 1)

    Path(config).write_text("provider = [not toml")
    loop.signal(signal.SIGHUP)

    loop.wait_for("the refusal logged", lambda: "keeping the previous one" in loop.stderr())
    converged = loop.passes("converged")
    loop.wait_for("a pass with the previous config", lambda: loop.passes("converged") > converged)
    assert loop.stop() == 0


def test_the_mass_delete_guard_refuses_every_pass_and_the_loop_lives_on(
    cloud: Cloud, reconciler: Any, cli: Any
) -> None:
    nodes = cloud.add_nodes(2)
    config = cloud.write_config()
    assert cli("reconcile", "--config", config).exit_code == 0
    cloud.reset_calls()

    loop = reconciler(config, *cloud.select_nothing())

    loop.wait_for("two refused passes", lambda: loop.passes("refused") >= 2)
    assert "--allow-mass-delete" in loop.stderr()
    assert cloud.writes() == []
    assert_routed(cloud, nodes)
    assert loop.stop() == 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--interval", "soon"], "--interval"),
        (["--interval", "0s"], "--interval"),
        (["--interval", "1s", "--metrics-port", "70000"], "--metrics-port"),
        (["--interval", "1s", "--cluster-cidr", "10.244.0.1/16"], "10.244.0.1/16"),
        (["--metrics-port", "9100"], "--metrics-port needs --interval"),
        (["--metrics-file", "/nonexistent/dir/cloudroutes.prom"], "no such directory"),
    ],
    ids=["bad-duration", "zero-duration", "bad-port", "bad-config", "port-without-loop", "no-metrics-dir"],
)
def test_invalid_input_at_start_is_one_line_and_exit_2(cloud: Cloud, args: list[str], says: str) -> None:
    cloud.add_nodes(1)
    config = cloud.write_config()
    cloud.reset_calls()

    result = subprocess.run(
        [sys.executable, "-m", "cloudroutes", "reconcile", "--config", config, *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
    )

    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and says in result.stderr
    assert cloud.writes() == []


def test_a_metrics_port_in_use_is_one_line_and_exit_2(cloud: Cloud) -> None:
    cloud.add_nodes(1)
    config = cloud.write_config()
    cloud.reset_calls()
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = str(taken.getsockname()[1])

        command = [sys.executable, "-m", "cloudroutes", "reconcile", "--config", config, "--interval", "1s"]
        result = subprocess.run(
            [*command, "--metrics-port", port],
            capture_output=True,
            text=True,
            timeout=DEADLINE_S,
        )

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: cannot listen on port {port}") and result.stderr.count("\n") == 1
    assert cloud.writes() == []
