"""The public surface (httpx's tests/test_exported_members.py, adapted): each package's `__all__` is
exactly the sorted list of public names it exposes, every listed name is defined by cloudroutes, and
importing the package loads no cloud SDK.

"Sorted" is ruff's RUF022 order, so that `ruff check --fix` and this test never disagree:
SCREAMING_SNAKE_CASE constants, then CamelCase classes, then the rest, each group in natural order
(https://docs.astral.sh/ruff/rules/unsorted-dunder-all/)."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from types import ModuleType

import pytest

import cloudroutes
import cloudroutes.providers
from tests.packaging.builds import ROOT

PACKAGES = [cloudroutes, cloudroutes.providers]


def from_cloudroutes(value: object) -> bool:
    return getattr(value, "__module__", "").split(".")[0] == "cloudroutes"


def imported_for_own_use(value: object) -> bool:
    """typing.Any, a __future__ flag: names a module imports to work with, not names it offers."""
    if type(value).__module__ == "__future__":
        return True
    return (inspect.isclass(value) or inspect.isroutine(value)) and not from_cloudroutes(value)


def ruff_order(name: str) -> tuple[int, list[int | str]]:
    group = 0 if len(name) > 1 and name.isupper() else 1 if name[0].isupper() else 2
    return group, [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def public_names(package: ModuleType) -> list[str]:
    names = (
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and name != "TYPE_CHECKING"  # typing's flag, imported to keep annotation-only imports lazy
        and not inspect.ismodule(value)
        and not imported_for_own_use(value)
    )
    return sorted(names, key=ruff_order)


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_all_is_the_sorted_public_names(package):
    assert package.__all__ == public_names(package)


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_every_exported_name_is_importable_and_defined_by_cloudroutes(package):
    namespace: dict[str, object] = {}
    exec(f"from {package.__name__} import *", namespace)  # AttributeError for a listed name that is missing
    del namespace["__builtins__"]
    assert sorted(namespace) == sorted(package.__all__)
    foreign = [
        name
        for name, value in namespace.items()
        if (inspect.isclass(value) or inspect.isroutine(value)) and not from_cloudroutes(value)
    ]
    assert foreign == [], "re-exported from outside cloudroutes"


def test_importing_the_package_loads_no_cloud_sdk():
    """The registry imports providers by name on first use; a top-level SDK import would make every
    command, --help included, pay for boto3 and google.cloud (over a second for compute_v1 alone)."""
    code = (
        "import sys, cloudroutes, cloudroutes.providers\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'google', 'moto'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
