"""The package as users get it: a wheel and an editable install both work, --help loads no cloud SDK,
and the public surface is pinned."""

from __future__ import annotations

import subprocess
import sys
import types
import zipfile
from pathlib import Path

import cloudroutes

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, **kwargs)


def test_help_imports_no_cloud_sdk():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from cloudroutes.cli import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'apply' in result.output\n"
        "version = CliRunner().invoke(app, ['--version'])\n"
        "assert version.exit_code == 0 and version.output.startswith('cloudroutes '), version.output\n"
        "heavy = [m for m in ('boto3', 'botocore', 'google.cloud.compute_v1', 'moto') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_wheel_installs_providers_under_cloudroutes_only(tmp_path):
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheel_dir), str(ROOT)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (wheel,) = wheel_dir.glob("cloudroutes-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "cloudroutes/providers/aws.py" in names
    assert not [n for n in names if n.startswith("providers/")], "no bare top-level 'providers' package"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    code = (
        "import cloudroutes, cloudroutes.providers.aws as aws\n"
        "from cloudroutes.providers import create, REGISTRY\n"
        "print(cloudroutes.__file__); print(aws.__file__)\n"
    )
    result = run_python(code, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert all(line.startswith(str(target)) for line in result.stdout.split()), result.stdout


def test_editable_install_serves_providers_from_the_source_tree():
    result = run_python("import cloudroutes.providers.aws as aws; print(aws.__file__)")
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).resolve() == ROOT / "providers" / "aws.py"


def test_exported_members():
    """Everything public in the package namespace is listed in __all__, sorted, and nothing else."""
    public = {
        name
        for name, value in vars(cloudroutes).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert cloudroutes.__all__ == sorted(cloudroutes.__all__)
    assert set(cloudroutes.__all__) == public
