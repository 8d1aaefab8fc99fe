"""Fixtures every test may use: the repository's paths and an isolated store per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Real servers (jupyter_server, PostgreSQL, one-node Slurm), started by the tests that ask for them.
pytest_plugins = ["tests.fixtures.jupyter_server", "tests.fixtures.postgres", "tests.fixtures.slurm",
                  "tests.fixtures.hub"]


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """Notebooks under tests/ are fixtures (submissions, otter assignments), not nbval tours."""
    return True if collection_path.suffix == ".ipynb" else None


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The steering repo's shared/ folder, which CI places beside the clone."""
    for candidate in (REPO.parent / "shared", REPO / "shared"):
        if candidate.is_dir():
            return candidate
    pytest.fail("../shared is missing: CI clones the project with shared/ beside it")


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite store for this test, named the way every process reads it (WORKBENCH_DB_URL)."""
    url = f"sqlite:///{tmp_path / 'workbench.db'}"
    monkeypatch.setenv("WORKBENCH_DB_URL", url)
    yield url


@pytest.fixture(autouse=True)
def _isolated_jupyter_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests away from the developer's own Jupyter config, data and store."""
    base = tmp_path_factory.getbasetemp() / "jupyter-home"
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        path = base / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(path))
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(base / "workbench"))
    os.environ.pop("JUPYTERHUB_USER", None)
