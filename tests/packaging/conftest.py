"""One backend, one snapshot and one build of each kind per session, shared by the packaging tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging import builds


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("packaging")


@pytest.fixture(scope="session")
def backend(workdir: Path) -> Path | None:
    return builds.backend_path(workdir / "backend")


@pytest.fixture(scope="session")
def source(workdir: Path) -> Path:
    return builds.snapshot(workdir / "source")


@pytest.fixture(scope="session")
def tree_wheel(backend: Path | None, source: Path, workdir: Path) -> Path:
    return builds.build(backend, "wheel", source, workdir / "tree-wheel")


@pytest.fixture(scope="session")
def sdist(backend: Path | None, source: Path, workdir: Path) -> Path:
    return builds.build(backend, "sdist", source, workdir / "sdist")


@pytest.fixture(scope="session")
def sdist_wheel(backend: Path | None, sdist: Path, workdir: Path) -> Path:
    """Built from the unpacked sdist alone: nothing of the checkout (nor its symlink) is in reach."""
    return builds.build(backend, "wheel", builds.unpack(sdist, workdir / "unpacked"), workdir / "sdist-wheel")
