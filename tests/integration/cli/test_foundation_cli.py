"""The `workbench` command as a user runs it: real processes, a real SQLite store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import build_parser

pytestmark = pytest.mark.integration


def workbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True)


def subcommand_paths(parser: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    import argparse

    found = [prefix]
    for action in getattr(parser, "_actions", []):
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += subcommand_paths(sub, (*prefix, name))
    return found


def test_every_subcommand_has_help() -> None:
    paths = subcommand_paths(build_parser())
    assert ("course", "add") in paths and ("db", "upgrade") in paths and ("serve",) in paths
    for path in paths:
        result = workbench(*path, "--help")
        assert result.returncode == 0, (path, result.stderr)
        assert result.stdout.startswith("usage: workbench"), path


def test_db_upgrade_is_idempotent(db_url: str) -> None:
    first = workbench("db", "upgrade")
    assert first.returncode == 0 and "upgraded from empty to" in first.stdout
    second = workbench("db", "upgrade")
    assert second.returncode == 0 and "is up to date" in second.stdout


def test_course_add_then_list(db_url: str, repo_root: Path) -> None:
    empty = workbench("course", "list")
    assert "no courses yet" in empty.stdout
    added = workbench("course", "add", str(repo_root / "curricula" / "intro"))
    assert added.returncode == 0
    assert added.stdout.strip() == "added course 'intro' (Introduction to the Workbench) with 1 lab(s)"
    again = workbench("course", "add", str(repo_root / "curricula" / "intro"))
    assert again.stdout.startswith("updated course 'intro'")
    listed = json.loads(workbench("course", "list", "--json").stdout)
    assert [c["id"] for c in listed["courses"]] == ["intro"]
    assert listed["courses"][0]["labs"][0]["id"] == "hello"
    assert "hello: Hello, workbench (3 points, cpu, due 2026-12-31T23:59:00+00:00)" in workbench(
        "course", "list").stdout


def test_errors_are_one_clear_line(db_url: str, tmp_path: Path) -> None:
    missing = workbench("course", "add", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert "no course.yaml here" in missing.stderr and "Traceback" not in missing.stderr
    bad_url = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "course", "list"], capture_output=True, text=True,
        env={**__import__("os").environ, "WORKBENCH_DB_URL": "not a url"},
    )
    assert bad_url.returncode == 2
    assert "is not a database URL; use e.g. sqlite:///" in bad_url.stderr
    assert "Traceback" not in bad_url.stderr
