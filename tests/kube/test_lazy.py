"""The Kubernetes client stays out of start-up: importing the adapter loads no lightkube or httpx2,
and `cloudroutes --help` loads neither."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("lightkube", "httpx2", "msgspec", "yaml")


def _loaded_after(code: str) -> list[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_importing_the_adapter_loads_no_client() -> None:
    assert _loaded_after("import cloudroutes.providers.kube") == []


def test_importing_the_node_reader_loads_no_client() -> None:
    """`node-cidr --from kubernetes` pays for lightkube only when it runs, not on --help."""
    assert _loaded_after("import cloudroutes.providers.kube_node") == []


def test_help_loads_no_kubernetes_client() -> None:
    code = (
        "from typer.testing import CliRunner\n"
        "from cloudroutes.cli import app\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
    )
    assert [m for m in _loaded_after(code) if m in ("lightkube", "httpx2")] == []
