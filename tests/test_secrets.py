"""A secret in an endpoint URL (http://admin:S3CRET@host) never reaches stdout or stderr.

The real CLI in a subprocess, as cron runs it, with an endpoint that carries a password and a
token and refuses connections (a loopback port nobody listens on), so every run fails and says
why: text and JSON output, quiet and verbose.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.cli_output import parse_json

CLI = [sys.executable, "-m", "cloudroutes"]
SECRET = "S3CRET"
TOKEN = "T0KEN"

AWS_CONFIG = """\
provider = "aws"
[cluster]
name = "prod"
cidr = "10.244.0.0/16"
[aws]
region = "us-east-1"
vpc_id = "vpc-0abc"
{endpoint}
[limits]
backoff_max = 0.05  # a refused connection is retried: keep the waits short
"""

# emulator: anonymous credentials, so no credential discovery (and no metadata server) is tried.
GCE_CONFIG = """\
provider = "gce"
[cluster]
name = "prod"
cidr = "10.244.0.0/16"
[gce]
project = "p"
network = "default"
endpoint = "{url}"
emulator = true
[limits]
backoff_max = 0.05  # a refused connection is retried: keep the waits short
"""


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    yield port


def run(args: list[str], env: dict[str, str], cwd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


COMMANDS = [["plan"], ["apply", "--yes", "-v", "-o", "json"], ["status", "-v"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("where", ["aws-env", "aws-config", "gce-config"])
def test_a_failing_run_never_shows_the_endpoint_s_password(where, command, closed_port, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CLOUDROUTES_"))}
    url = f"http://admin:{SECRET}@127.0.0.1:{closed_port}/?token={TOKEN}"
    config = tmp_path / "cloudroutes.toml"
    if where == "gce-config":
        config.write_text(GCE_CONFIG.format(url=url))
    else:
        keys = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example"}
        env |= keys | {"AWS_EC2_METADATA_DISABLED": "true"}
        if where == "aws-env":
            env["AWS_ENDPOINT_URL"] = url
            config.write_text(AWS_CONFIG.format(endpoint=""))
        else:
            config.write_text(AWS_CONFIG.format(endpoint=f'endpoint = "{url}"'))

    result = run(command, env, str(tmp_path))

    assert result.returncode == 1, result.stderr
    # Under --output json the error is the JSON object on stdout, not a line on stderr.
    said = parse_json(command[0], result.stdout)["error"]["message"] if "json" in command else result.stderr
    assert "127.0.0.1" in said, "the error still says where it could not connect"
    assert SECRET not in result.stdout + result.stderr
    assert TOKEN not in result.stdout + result.stderr


def test_log_lines_are_redacted_whoever_logs_them():
    """setup_logging's filter sits on the handler, so SDK loggers' records pass through it too,
    tracebacks included."""
    script = f"""
import logging
from cloudroutes.cli.output import setup_logging
setup_logging(True)
logging.getLogger("urllib3.connectionpool").warning("retrying %s", "http://admin:{SECRET}@h/?token={TOKEN}")
try:
    raise ConnectionError("http://admin:{SECRET}@h/")
except ConnectionError:
    logging.getLogger("cloudroutes.executor").exception("failed")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "retrying http://***@h/?token=***" in result.stderr
    assert "ConnectionError: http://***@h/" in result.stderr, "the traceback is there, redacted"
    assert SECRET not in result.stderr and TOKEN not in result.stderr
