"""Build and install the project as pip does, cheaply enough to run on every `make test`.

pip builds each project in a fresh isolated environment that it fills from the index, which costs
seconds per build. Here every build calls the backend's PEP 517 hooks without isolation, as
pypa/build --no-isolation does: against the test environment's own backend when it satisfies
pyproject's [build-system].requires (the test extra carries it), else against one folder pip fills
once per session. Builds run on a snapshot of the tree, so a stale build/ or egg-info left in the
checkout cannot leak files into a wheel, and installs use --no-deps --no-index: the wheel under test
is the only thing installed, and nothing is fetched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
BUILD_SYSTEM = PYPROJECT["build-system"]

# What a fresh clone does not have: build outputs, caches and the developer's venv.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure the assertion carries its output, not just the exit code."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result


def satisfied_here(requirement: str) -> bool:
    req = Requirement(requirement)
    try:
        return req.specifier.contains(metadata.version(req.name), prereleases=True)
    except metadata.PackageNotFoundError:
        return False


def backend_path(folder: Path) -> Path | None:
    """None when this environment already has the build backend; else a folder holding it, filled
    once from the index (what pip's isolation would install, without paying for it per build)."""
    requires = BUILD_SYSTEM["requires"]
    if all(map(satisfied_here, requires)):
        return None
    run([sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(folder), *requires])
    return folder


def snapshot(dest: Path) -> Path:
    """The working tree as a fresh clone would have it (symlinks kept as links)."""
    shutil.copytree(ROOT, dest, symlinks=True, ignore=NOT_IN_A_CLONE)
    return dest


HOOK = """
import importlib, sys
kind, out = sys.argv[1:]  # read first: setuptools' hooks rewrite sys.argv
backend = importlib.import_module({backend!r})
extra = getattr(backend, f"get_requires_for_build_{{kind}}")()
assert not extra, f"the backend also wants {{extra}}: add them to [build-system].requires"
print(getattr(backend, f"build_{{kind}}")(out))
"""


def build(backend: Path | None, kind: str, source: Path, out: Path) -> Path:
    """Call the backend's PEP 517 hook for `kind` (sdist, wheel or editable) in `source`, in a process
    of its own, and return the file it made in `out`."""
    out.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(backend)} if backend else None
    code = HOOK.format(backend=BUILD_SYSTEM["build-backend"])
    result = run([sys.executable, "-c", code, kind, str(out)], env=env, cwd=source)
    return out / result.stdout.split()[-1]


def unpack(sdist: Path, dest: Path) -> Path:
    """The sdist's single top folder, unpacked as pip unpacks it before building."""
    with tarfile.open(sdist) as archive:
        archive.extractall(dest, filter="data")
    (top,) = dest.iterdir()
    return top


def install_in_fresh_venv(wheel: Path, venv: Path) -> Path:
    """A new venv without pip, and the running pip installs `wheel` into it, nothing else (--no-deps);
    its python."""
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-compile"]
    run([*pip, "--no-deps", "--no-index", str(wheel)])
    return python


# cloudroutes and cloudroutes.providers are imported for real; the aws provider is only found, not
# run, since the venv has none of the cloud SDKs it imports (--no-deps keeps installs offline and fast).
LOCATE = """
import importlib.util, json, sysconfig
import cloudroutes, cloudroutes.providers
print(json.dumps({
    "site": sysconfig.get_path("purelib"),
    "cloudroutes": cloudroutes.__file__,
    "providers": cloudroutes.providers.__file__,
    "aws": importlib.util.find_spec("cloudroutes.providers.aws").origin,
    "bare_providers": importlib.util.find_spec("providers") is not None,
}))
"""


def locate(python: Path, cwd: Path) -> dict[str, Any]:
    """Where an interpreter finds the package, run isolated (-I: no cwd, no PYTHONPATH on sys.path)
    from a folder that holds no source, so only what was installed can answer."""
    found: dict[str, Any] = json.loads(run([str(python), "-I", "-c", LOCATE], cwd=cwd).stdout)
    return found
