"""Submit, grades, manual points, autograde and feedback through a real jupyter_server."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from tests.fixtures.jupyter_server import Server
from workbench.curriculum import catalog, load_course
from workbench.store import open_store

pytestmark = pytest.mark.integration
SECRET = "HIDDEN-7781"


def meta(gid: str, **flags: object) -> dict:
    return {"nbgrader": {"grade_id": gid, "schema_version": 3, **flags}}


@pytest.fixture
def course(tmp_path: Path, db_url: str) -> Path:
    root = tmp_path / "course"
    (root / "labs" / "lab1").mkdir(parents=True)
    nbformat.write(new_notebook(cells=[
        new_code_cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
                      metadata=meta("add", solution=True)),
        new_code_cell(f"assert add(1, 2) == 3\n### BEGIN HIDDEN TESTS\nassert add(40, 2) == 42  # {SECRET}\n"
                      "### END HIDDEN TESTS", metadata=meta("test_add", grade=True, points=2)),
        new_code_cell("# workbench: check\ndef check(student):\n    assert student.call('add', 5, 5) == 10",
                      metadata=meta("check_add", grade=True, points=1)),
    ]), root / "labs" / "lab1" / "source.ipynb")
    (root / "course.yaml").write_text(yaml.safe_dump({"id": "web101", "title": "AI 101", "labs": [
        {"id": "lab1", "title": "Lab 1", "path": "labs/lab1/source.ipynb", "points": 3}]}))
    catalog.register(open_store(db_url), load_course(root))
    return root


def wait_graded(server: Server, count: int = 1) -> list[dict]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        subs = server.request("GET", "submissions?course=web101&lab=lab1")[1]["submissions"]
        if len(subs) >= count and all(s["status"] in ("graded", "failed") for s in subs):
            return subs
        time.sleep(0.3)
    pytest.fail(f"not graded in 90 s: {subs}")


def html(server: Server, path: str) -> tuple[int, str, str]:
    req = urllib.request.Request(f"{server.url}/workbench/api/v1/{path}",
                                 headers={"Authorization": f"token {server.token}"})
    with urllib.request.urlopen(req, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def test_student_submits_and_instructor_grades(start_server: Callable[..., Server], course: Path) -> None:
    student = start_server("--Workbench.default_role=student")
    assert student.request("POST", "submissions", {"course": "web101", "lab": "lab1"})[0] == 404  # not opened yet
    assert student.request("POST", "courses/web101/labs/lab1/open", {})[0] == 201
    copy = student.root / "web101" / "lab1.ipynb"
    nb = nbformat.read(copy, as_version=4)
    assert SECRET not in nbformat.writes(nb) and "student.call" not in nbformat.writes(nb)
    nb.cells[0].source = "def add(a, b):\n    return a - b"  # wrong first
    nbformat.write(nb, copy)
    status, sub = student.request("POST", "submissions", {"course": "web101", "lab": "lab1"})
    assert status == 202 and sub["status"] == "queued" and len(sub["sha256"]) == 64
    (graded,) = wait_graded(student)
    assert (graded["score"], graded["max_score"]) == (0.0, 3.0)

    nb.cells[0].source = "def add(a, b):\n    return a + b"
    nbformat.write(nb, copy)
    assert student.request("POST", "submissions", {"course": "web101", "lab": "lab1"})[0] == 202
    latest, first = wait_graded(student, 2)
    assert latest["score"] == 3.0 and [t["status"] for t in latest["tasks"]] == ["passed", "passed"]
    assert student.request("POST", "submissions", {"course": "web101", "lab": "lab1"})[0] == 200  # same bytes

    status, own = student.request("GET", "grades?course=web101&lab=lab1")
    assert status == 200 and [r["student"] for r in own["rows"]] == [latest["student"]]
    assert own["rows"][0]["points"] == {"test_add": 2.0, "check_add": 1.0}
    status, kind, page = html(student, f"feedback/{latest['id']}")
    assert status == 200 and kind.startswith("text/html") and "3 / 3" in page and SECRET not in page
    assert student.request("GET", f"feedback/{first['id']}?format=json")[1]["score"] == 0.0
    status, body = student.request("PUT", f"grades/{latest['id']}/test_add", {"points": 0})
    assert status == 403 and "instructor" in body["error"]
    assert student.request("POST", "autograde", {"course": "web101", "lab": "lab1"})[0] == 403
    stored = Path(_data_dir()) / "submissions" / "web101" / "lab1" / latest["student"]
    assert len(list(stored.glob("*.ipynb"))) == 2 and not list(stored.glob(".incoming-*"))  # temp + rename

    teacher = start_server()  # same store: another user's server, instructor by default
    status, table = teacher.request("GET", "grades?course=web101&lab=lab1")
    assert status == 200 and table["tasks"] == ["test_add", "check_add"] and len(table["rows"]) == 1
    status, changed = teacher.request("PUT", f"grades/{latest['id']}/test_add",
                                      {"points": 1.5, "comment": "style"})
    assert status == 200 and changed["score"] == 2.5 and changed["tasks"][0]["adjusted_by"]
    status, body = teacher.request("PUT", f"grades/{latest['id']}/nope", {"points": 1})
    assert status == 400 and "has no task 'nope'" in body["error"]
    assert len(teacher.request("GET", "submissions?course=web101")[1]["submissions"]) == 2
    status, queued = teacher.request("POST", "autograde", {"course": "web101", "lab": "lab1", "force": True})
    assert status == 202 and queued["queued"] == [latest["id"]]  # the latest per student
    deadline = time.monotonic() + 90
    while teacher.request("GET", f"feedback/{latest['id']}?format=json")[1]["graded"] == latest["graded"]:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert teacher.request("GET", f"feedback/{latest['id']}?format=json")[1]["score"] == 2.5  # adjustment kept


def _data_dir() -> str:
    import os

    return os.environ["WORKBENCH_DATA_DIR"]


def test_a_restart_grades_what_was_left_queued(
        start_server: Callable[..., Server], course: Path, db_url: str, tmp_path: Path) -> None:
    """What a killed server left queued is graded when the next one starts; a submission already
    interrupted twice is marked failed with the reason instead of stalling the queue again."""
    from workbench.grading import autograde, gradebook, queue_state
    from workbench.store.models import utcnow

    store = open_store(db_url)
    source = course / "labs" / "lab1" / "source.ipynb"
    answer = nbformat.read(source, as_version=4)
    answer.cells = answer.cells[:1]
    stored = []
    for student in ("ann", "bo"):
        nbformat.write(answer, tmp_path / f"{student}.ipynb")
        path, sha = gradebook.store_file((tmp_path / f"{student}.ipynb").read_bytes(), tmp_path / "subs", "web101",
                                         "lab1", student)
        stored.append(gradebook.Incoming(student, path, sha, utcnow()))
    ids = [sub_id for sub_id, _ in gradebook.add_submissions(store, "web101", "lab1", stored,
                                                             autograde.source_digest(source))]
    queue_state.begin(store, [ids[1]])
    queue_state.begin(store, [ids[1]])  # bo's submission was being graded when two servers died
    server = start_server()
    subs = {s["student"]: s for s in wait_graded(server, 2)}
    assert subs["ann"]["status"] == "graded" and subs["ann"]["score"] == 3
    assert subs["bo"]["status"] == "failed" and subs["bo"]["message"] == queue_state.INTERRUPTED
