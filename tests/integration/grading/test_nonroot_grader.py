"""The grader as a normal Unix user (not root): ``workbench grade`` (cold sandboxes) and ``workbench
autograde`` (warm workers) against students who fork-flood, fill /tmp and their home, look for the
grader's files and try to become root. Each attack must fail inside the sandbox, cost only its own
task, and leave nothing on the host: no process of the grader's uid, nothing in its temp folder.
Where the kernel allows no user namespaces, grading stops with one line naming the sysctl.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
import yaml

from .attacks import DISK_FILL, FORK_FLOOD, NEIGHBOUR, escape
from .conftest import source_notebook
from .grader_user import Grader

pytestmark = pytest.mark.integration
LIFTED = "hidden tests judged by the grader, outside your process"


def attack(grader: Grader, source: Path) -> str:
    paths = [str(source), str(grader.home), str(grader.home / ".secret"), str(grader.store), str(grader.work)]
    return escape(paths, str(grader.work), grader.uid)


def submission(answers: dict[str, str]) -> nbformat.NotebookNode:
    nb = source_notebook()
    nb.cells[1].source = "assert add(1, 2) == 3"
    nb.cells[4].source = "# Checked by the grader"
    for cell in nb.cells:
        cell.source = answers.get(cell.metadata["nbgrader"]["grade_id"], cell.source)
    return nb


@pytest.fixture
def grader() -> Iterator[Grader]:
    made = Grader.make()
    (made.home / ".secret").write_text("the grader's own file")
    (made.work / "source").mkdir()
    nbformat.write(source_notebook(), made.work / "source" / "lab.ipynb")
    made.own()
    yield made
    made.remove()


def write(grader: Grader, name: str, answers: dict[str, str]) -> Path:
    path = grader.work / "submissions" / name / "lab1.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(submission(answers), path)
    return path


def tasks(data: dict) -> dict[str, tuple[str, float, str]]:
    return {t["id"]: (t["status"], t["points"], t["message"]) for t in data["tasks"]}


def assert_clean(grader: Grader) -> None:
    assert grader.leftovers() == []
    assert list(grader.tmp.iterdir()) == []  # the host temp folder the grader used: nothing left


def grade(grader: Grader, sub: Path) -> subprocess.Popen[str]:
    grader.own()
    return subprocess.Popen(grader.command("grade", str(sub), "--source", str(grader.work / "source" / "lab.ipynb"),
                                           "--json"), cwd=grader.work, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return dict(json.loads(out))


def test_cold_sandbox_hides_the_grader_and_drops_to_nobody(grader: Grader) -> None:
    source = grader.work / "source" / "lab.ipynb"
    data = finish(grade(grader, write(grader, "eve", {"add": attack(grader, source)})))
    assert tasks(data)["test_add"] == ("passed", 2.0, LIFTED)  # its hidden asserts are judged by the grader
    assert data["score"] == 7.0
    assert_clean(grader)


def test_fork_flood_hits_the_process_limit_and_does_not_starve_a_neighbour(grader: Grader) -> None:
    """Two sandboxes of the same grader at once: the flood stops at its limit (128 processes) and
    earns nothing for that task; the neighbour forks 40 children meanwhile and scores in full."""
    flood = grade(grader, write(grader, "flood", {"add": FORK_FLOOD}))
    neighbour = grade(grader, write(grader, "neighbour", {"add": NEIGHBOUR}))
    flooded, calm = finish(flood), finish(neighbour)
    status, points, message = tasks(flooded)["test_add"]
    assert (status, points) == ("error", 0.0)
    assert "BlockingIOError: [Errno 11]" in message and "process limit reached: 128 processes" in message
    assert tasks(flooded)["test_mul"] == ("passed", 3.0, "")  # the flood cost only its own task
    assert calm["score"] == 7.0, calm
    assert_clean(grader)


def test_disk_fill_of_tmp_and_home_ends_at_the_tmpfs_cap(grader: Grader) -> None:
    data = finish(grade(grader, write(grader, "filler", DISK_FILL)))
    for task in ("test_add", "test_mul"):
        status, points, message = tasks(data)[task]
        assert (status, points) == ("error", 0.0), message
        assert "No space left on device" in message and "disk limit reached: the home and /tmp hold 256 MB each" \
            in message, message
    assert sum(f.stat().st_size for f in grader.work.rglob("*") if f.is_file()) < 5 << 20  # nothing on the host
    assert_clean(grader)


def add_course(grader: Grader, grading: dict[str, int]) -> Path:
    """Course ai101 with lab1 (``grading`` limits), added to the grader's store; its source's path."""
    course = grader.work / "course"
    source = course / "labs" / "lab1" / "source.ipynb"
    source.parent.mkdir(parents=True)
    nbformat.write(source_notebook(), source)
    (course / "course.yaml").write_text(yaml.safe_dump({
        "id": "ai101", "title": "AI 101", "labs": [{"id": "lab1", "title": "Lab 1", "path": "labs/lab1/source.ipynb",
                                                  "points": 8, "grading": grading}]}))
    added = grader.cli("course", "add", str(course))
    assert added.returncode == 0, added.stderr
    return source


def autograde(grader: Grader, wrap: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return grader.cli("autograde", "--course", "ai101", "--lab", "lab1", "--submissions",
                      str(grader.work / "submissions"), "--workers", "2", "--json", "--no-progress", wrap=wrap or [])


def test_autograde_on_warm_workers_as_a_normal_user(grader: Grader) -> None:
    """The same attacks on warm workers (2, so the flood and its neighbour run at once): each sandbox
    is a fresh child of the worker in a user namespace of its own."""
    source = add_course(grader, {"tmp_mb": 64, "processes": 64})
    for name, answers in (("a-flood", {"add": FORK_FLOOD}), ("b-neighbour", {"add": NEIGHBOUR}),
                          ("c-eve", {"add": attack(grader, source)}), ("d-filler", DISK_FILL)):
        write(grader, name, answers)
    ran = autograde(grader)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {"graded": 4, "skipped": 0, "failed": 0, "problems": []}
    exported = grader.cli("grades", "export", "--course", "ai101", "--lab", "lab1", "--format", "json")
    rows = {s["student"]: s for s in json.loads(exported.stdout)["submissions"]}
    book = {student: tasks(row) for student, row in rows.items()}
    status, points, message = book["a-flood"]["test_add"]
    assert (status, points) == ("error", 0.0) and "process limit reached: 64 processes" in message, message
    assert book["a-flood"]["test_mul"][:2] == ("passed", 3.0)
    assert rows["b-neighbour"]["raw_score"] == 7.0, book["b-neighbour"]
    assert book["c-eve"]["test_add"] == ("passed", 2.0, LIFTED)
    for task in ("test_add", "test_mul"):
        status, points, message = book["d-filler"][task]
        assert (status, points) == ("error", 0.0) and "No space left on device" in message, message
        assert "disk limit reached: the home and /tmp hold 64 MB each" in message
    assert_clean(grader)


def test_without_user_namespaces_grading_stops_with_one_line(grader: Grader) -> None:
    """A host that forbids unprivileged user namespaces, made here without touching the host: the
    grader runs in a namespace whose own limit on further ones is zero (bwrap --disable-userns)."""
    jail = ["bwrap", "--unshare-user", "--disable-userns", "--uid", str(grader.uid), "--gid", str(grader.gid),
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--bind", str(grader.work), str(grader.work)]
    sub = write(grader, "anyone", {})
    add_course(grader, {})
    cold = grader.cli("grade", str(sub), "--source", str(grader.work / "source" / "lab.ipynb"), "--json", wrap=jail)
    for proc in (cold, autograde(grader, wrap=jail)):
        assert proc.returncode == 2 and proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert lines[0].startswith("workbench: error: the grading sandbox needs unprivileged user namespaces")
        assert "sysctl -w user.max_user_namespaces=" in lines[0]
    assert_clean(grader)
