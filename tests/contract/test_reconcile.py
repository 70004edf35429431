"""`reconcile` on every cloud: a one-shot pass is `apply --yes` (same writes, same exit status).

The loop runs as a real subprocess against the embedded cloud (signals, a port, a metrics file):
see test_reconcile_loop.py. "No write" is read from the sim's call log, never assumed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

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


def _samples(path: Path) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a metrics file, parsed by prometheus_client's own parser."""
    families = text_string_to_metric_families(path.read_text())
    return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_the_metrics_file_tells_the_cloud_as_it_is(cloud: Cloud, cli: Cli, tmp_path: Path) -> None:
    nodes = cloud.add_nodes(3)
    config = cloud.write_config()
    metrics = tmp_path / "cloudroutes.prom"
    cloud.reset_calls()

    result = cli("reconcile", "--config", config, "--metrics-file", str(metrics))

    assert result.exit_code == 0, result.output
    seen, writes = cloud.calls(), Counter(cloud.writes())  # before reading the cloud back adds calls
    samples = _samples(metrics)
    assert _value(samples, "cloudroutes_nodes") == len(nodes)
    assert _value(samples, "cloudroutes_converged") == 1
    assert _value(samples, "cloudroutes_pending_changes") == 0
    assert _value(samples, "cloudroutes_blocked") == 0
    assert _value(samples, "cloudroutes_passes_total", result="converged") == 1
    for table, routes in cloud.routes().items():
        assert _value(samples, "cloudroutes_routes", table=table, state="active") == len(routes) == len(nodes)
        assert _value(samples, "cloudroutes_routes", table=table, state="missing") == 0
    assert _value(samples, "cloudroutes_actions_total", kind="create", outcome="done") == writes["route.create"]
    counted = {labels: value for (name, labels), value in samples.items() if name == "cloudroutes_api_calls_total"}
    by_operation = Counter({dict(labels)["operation"]: int(value) for labels, value in counted.items()})
    assert by_operation == seen, "every call the cloud saw, counted once, by the cloud's own name"
    assert {dict(labels)["code"] for labels in counted} == {"ok"}
    assert _value(samples, "cloudroutes_throttled_total") == 0
    assert _value(samples, "cloudroutes_last_success_timestamp_seconds") > 0
    assert not list(tmp_path.glob("cloudroutes.prom.*")), "the temporary file was renamed into place"


def test_a_failed_pass_keeps_the_last_success_in_the_metrics_file(cloud: Cloud, cli: Cli, tmp_path: Path) -> None:
    cloud.add_nodes(2)
    config = cloud.write_config()
    metrics = tmp_path / "cloudroutes.prom"
    assert cli("reconcile", "--config", config, "--metrics-file", str(metrics)).exit_code == 0
    succeeded = _value(_samples(metrics), "cloudroutes_last_success_timestamp_seconds")

    refused = cli("reconcile", "--config", config, "--metrics-file", str(metrics), *cloud.select_nothing())

    assert refused.exit_code == 2
    samples = _samples(metrics)
    assert _value(samples, "cloudroutes_passes_total", result="refused") == 1
    assert _value(samples, "cloudroutes_converged") == 0
    assert _value(samples, "cloudroutes_last_success_timestamp_seconds") == succeeded
    assert _value(samples, "cloudroutes_last_pass_timestamp_seconds") >= succeeded


def test_a_refused_call_is_counted_by_the_cloud_s_code(cloud: Cloud, cli: Cli, tmp_path: Path) -> None:
    cloud.add_nodes(1)
    config = cloud.write_config()
    metrics = tmp_path / "cloudroutes.prom"
    env = cloud.restrict(without=cloud.READ_GRANT)

    result = cli("reconcile", "--config", config, "--metrics-file", str(metrics), **env)

    assert result.exit_code == 1, result.output
    samples = _samples(metrics)
    failed = {
        dict(labels)["code"]: value
        for (name, labels), value in samples.items()
        if name == "cloudroutes_api_calls_total" and dict(labels)["code"] != "ok"
    }
    assert failed and set(failed) <= cloud.DENIED_CODES, failed
    assert _value(samples, "cloudroutes_passes_total", result="failed") == 1


def test_debug_shows_the_sdks_own_logs_with_secrets_redacted(cloud: Cloud, tmp_path: Path) -> None:
    """-v and its alias --debug: the SDK's debug lines (botocore; urllib3 under google's client)."""
    cloud.add_nodes(1)
    config = cloud.write_config()

    result = subprocess.run(
        [sys.executable, "-m", "cloudroutes", "reconcile", "--config", config, "--debug"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    sdk_lines = [line for line in result.stderr.splitlines() if re.search(r" DEBUG (botocore|urllib3|google)", line)]
    assert sdk_lines, result.stderr[-3000:]
    assert not re.search(r"(?i)'authorization': b?'(?!\*\*\*')", result.stderr), "the signed header is redacted"
    assert not re.search(r"(?i)signature\s*[=:]\s*[0-9a-f]{16}", result.stderr), "botocore logs the signature too"
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    assert not secret or f"'{secret}'" not in result.stderr
