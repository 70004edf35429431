"""The package as users get it: a wheel, an sdist built into a wheel and an editable install all
serve cloudroutes.providers from providers/, none puts a bare `providers` in site-packages, and
--help loads no cloud SDK."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from tests.packaging import builds
from tests.packaging.builds import ROOT


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


def assert_served_from_site_packages(wheel: Path, venv: Path) -> None:
    python = builds.install_in_fresh_venv(wheel, venv)
    found = builds.locate(python, cwd=venv)
    site = Path(found["site"])
    assert Path(found["cloudroutes"]) == site / "cloudroutes" / "__init__.py"
    assert Path(found["aws"]) == site / "cloudroutes" / "providers" / "aws.py"
    assert not found["bare_providers"], "a bare top-level 'providers' package is importable"
    assert not (site / "providers").exists()


def test_wheel_installs_providers_under_cloudroutes_only(tree_wheel, tmp_path):
    names = zipfile.ZipFile(tree_wheel).namelist()
    assert "cloudroutes/providers/aws.py" in names
    assert not [n for n in names if n.startswith("providers/")], "no bare top-level 'providers' package"
    assert_served_from_site_packages(tree_wheel, tmp_path / "venv")


def test_sdist_builds_the_same_wheel(sdist, sdist_wheel, tree_wheel, tmp_path):
    """The sdist carries providers/ as it is in the tree (the mapping, not the symlink, places it), and
    the wheel built from the unpacked sdist holds exactly the files of the wheel built from the tree."""
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    top = sdist.name.removesuffix(".tar.gz")
    assert f"{top}/providers/aws.py" in members
    assert f"{top}/pyproject.toml" in members
    assert set(zipfile.ZipFile(sdist_wheel).namelist()) == set(zipfile.ZipFile(tree_wheel).namelist())
    assert_served_from_site_packages(sdist_wheel, tmp_path / "venv")


def test_editable_install_serves_providers_from_the_source_tree(backend, tmp_path):
    """What `pip install -e .` installs (PEP 660: the backend's editable wheel), in a fresh venv.

    With the symlink in place, setuptools' editable finder maps only `cloudroutes` to the tree and
    reaches providers/ through the link (it compares real paths); without it, the finder maps
    cloudroutes.providers to providers/ itself. Either way the module files must be the tree's own,
    so an edit shows without reinstalling, and the project root must stay off sys.path."""
    editable = builds.build(backend, "editable", ROOT, tmp_path / "editable")
    python = builds.install_in_fresh_venv(editable, tmp_path / "venv")
    found = builds.locate(python, cwd=tmp_path)
    assert Path(found["cloudroutes"]).resolve() == ROOT / "cloudroutes" / "__init__.py"
    assert Path(found["providers"]).resolve() == ROOT / "providers" / "__init__.py"
    assert Path(found["aws"]).resolve() == ROOT / "providers" / "aws.py"
    assert not found["bare_providers"], "the editable install makes a bare top-level 'providers' importable"


def test_the_wheel_ships_every_json_schema(tree_wheel):
    """`cloudroutes schema NAME` reads its file from the installed package: each must be in the wheel,
    byte for byte the tree's."""
    from cloudroutes import render

    wheel = zipfile.ZipFile(tree_wheel)
    shipped = {n for n in wheel.namelist() if n.startswith("cloudroutes/schemas/")}
    assert shipped == {f"cloudroutes/schemas/{name}.schema.json" for name in render.SCHEMAS}
    for name in shipped:
        assert wheel.read(name) == (builds.ROOT / name).read_bytes()
