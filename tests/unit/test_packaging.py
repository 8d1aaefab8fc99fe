"""Packaging by role: the core (server extension, CLI, grader, kernel provisioner, hub service)
installs and runs without torch, MindSpore or the labs' libraries, which only the `labs` extra
brings in.

The import test runs in a fresh interpreter whose import system refuses those libraries, the way a
core-only install (`pip install aicc-workbench`) would: an import of one at module level anywhere in
the core fails it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

# Import names of what the `labs` extra installs (cv2: opencv-python-headless, skimage: scikit-image).
LAB_MODULES = ("torch", "mindspore", "cv2", "rasterio", "skimage", "tifffile")
LAB_DISTRIBUTIONS = ("torch", "mindspore", "rasterio", "opencv-python-headless", "scikit-image", "tifffile")

# The entry points of the core's roles; the import test imports every module but workbench.labs.
CORE_MODULES = (
    "workbench",
    "workbench.cli",
    "workbench.server.app",
    "workbench.grading.autograde",
    "workbench.devices.provisioner",
)

# A meta path finder in front of every other: the lab libraries are "not installed".
BLOCKER = textwrap.dedent(
    f"""
    import importlib.util, json, sys

    BLOCKED = {LAB_MODULES!r}

    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"No module named {{name!r}} (blocked: not in a core install)", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("the import blocker let torch through")
    """
)


def _run_core(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(script)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def _dependency_names(specs: list[str]) -> set[str]:
    return {re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0].lower() for spec in specs}


def _core_module_names(repo_root: Path) -> list[str]:
    """Every module of the package by its files (workbench.grading has no __init__.py, which
    pkgutil.walk_packages would skip), but the labs' own code and the Alembic scripts (run by
    Alembic, not imported)."""
    package = repo_root / "workbench"
    names = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(repo_root).with_suffix("").parts
        if parts[1] in ("labs", "labextension") or parts[1:3] == ("store", "migrations"):
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_core_modules_import_without_lab_libraries(repo_root: Path) -> None:
    """The hub service's modules included, once it exists."""
    modules = _core_module_names(repo_root)
    assert set(CORE_MODULES) <= set(modules)
    result = _run_core(
        f"""
        import importlib
        for name in {modules!r}:
            importlib.import_module(name)
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)))
        """,
        repo_root,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_cli_runs_without_lab_libraries(repo_root: Path) -> None:
    """`workbench --help` loads every command group; `course check` loads and validates a course."""
    result = _run_core(
        """
        from workbench.cli import main

        try:
            main(["--help"])
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        else:
            raise SystemExit("--help did not exit")
        sys.exit(main(["course", "check", "curricula/intro"]))
        """,
        repo_root,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: workbench" in result.stdout
    for command in ("course", "autograde", "sessions", "serve"):
        assert command in result.stdout


def test_frameworks_are_in_the_labs_extra_not_the_core(repo_root: Path) -> None:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    core = _dependency_names(project["dependencies"])
    extras = project["optional-dependencies"]
    labs = _dependency_names(extras["labs"])
    for name in LAB_DISTRIBUTIONS:
        assert name not in core, f"{name} is a core dependency; it belongs in the labs extra"
        assert name in labs, f"{name} is missing from the labs extra"
    # MindSpore 2.10 needs NumPy 1.x: numpy is capped wherever it is required.
    numpy = [spec for spec in project["dependencies"] if _dependency_names([spec]) == {"numpy"}]
    assert numpy and "<2" in numpy[0]
    mindspore = next(spec for spec in extras["labs"] if spec.startswith("mindspore"))
    assert "sys_platform == 'linux'" in mindspore  # only where it ships wheels
    assert _dependency_names(extras["hub"]) == {"jupyterhub", "batchspawner"}  # servers as Slurm jobs
    assert {"postgresql", "test"} <= extras.keys()
