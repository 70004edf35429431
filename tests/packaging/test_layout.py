"""What pyproject.toml declares about the package tree matches the folders on disk."""

from __future__ import annotations

import os
from pathlib import Path

from tests.packaging.builds import PYPROJECT, ROOT

SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
SOURCE_TOPS = (ROOT / "cloudroutes", ROOT / "providers")


def package_folders() -> dict[str, Path]:
    """Every package as an import name, with the folder setuptools builds it from."""
    mapping = SETUPTOOLS.get("package-dir", {})
    return {name: ROOT / mapping.get(name, name.replace(".", "/")) for name in SETUPTOOLS["packages"]}


def source_files() -> set[Path]:
    """Files under cloudroutes/ and providers/, not following symlinks (the one link is checked below)."""
    return {
        Path(folder, name)
        for top in SOURCE_TOPS
        for folder, _, names in os.walk(top)
        if "__pycache__" not in Path(folder).parts
        for name in names
    }


def test_every_python_folder_is_a_declared_package():
    """packages are listed by hand (no find config can rename providers/), so a new subpackage that is
    not added to [tool.setuptools] packages would silently be left out of every wheel."""
    declared = set(package_folders().values())
    on_disk = {path.parent for path in source_files() if path.suffix == ".py"}
    assert sorted(map(str, on_disk - declared)) == [], "add these to [tool.setuptools] packages"
    assert sorted(map(str, declared - on_disk)) == [], "declared packages with no Python file"


def test_providers_folder_installs_as_cloudroutes_providers():
    assert package_folders()["cloudroutes.providers"] == ROOT / "providers"
    assert not [name for name in SETUPTOOLS["packages"] if name.split(".")[0] != "cloudroutes"]


def test_cloudroutes_providers_symlink_points_at_providers():
    """cloudroutes/providers -> ../providers exists for the static checkers, not for installs.

    Wheels, sdists and editable installs place providers/ through pyproject's package-dir mapping.
    mypy (files = ["cloudroutes"]) and import-linter (root package cloudroutes) find modules by
    walking folders and cannot apply that mapping: without the link mypy reports every
    cloudroutes.providers import as import-not-found and lint-imports stops with "Module
    'cloudroutes.providers' does not exist". Delete the link and this test together only once
    neither tool needs it. The target is relative so that the link holds in any clone.
    """
    link = ROOT / "cloudroutes" / "providers"
    assert link.is_symlink(), "cloudroutes/providers must stay a symlink: mypy and lint-imports need it"
    assert os.readlink(link) == "../providers"
    assert link.resolve() == ROOT / "providers"


def test_package_data_is_declared_exactly():
    """Every declared package-data pattern matches a file, and every non-Python file in a package
    is declared: a pattern matching nothing hides a missing file, an undeclared file never ships."""
    folders = package_folders()
    declared: set[Path] = set()
    for package, patterns in SETUPTOOLS.get("package-data", {}).items():
        for pattern in patterns:
            matches = set(folders[package].glob(pattern))
            assert matches, f"package-data {package!r}: {pattern!r} matches no file in {folders[package]}"
            declared |= matches
    present = {path for path in source_files() if path.suffix != ".py"}
    assert sorted(map(str, present - declared)) == [], "declare these in [tool.setuptools.package-data]"
