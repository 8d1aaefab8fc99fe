"""Files beside the notebook (issue #12): what the instructor releases with a lab is in the sandbox's
working directory read-only, what a student handed in beside the notebook is there writable, in cold
sandboxes (``workbench grade``) and on warm workers (``workbench autograde``, re-grades from the store
included), as root and as a normal user; ``workbench release`` and opening a lab copy the same files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from tests.fixtures.jupyter_server import Server
from workbench.cli import main
from workbench.commands import context

from .grader_user import Grader

pytestmark = pytest.mark.integration

# One graded cell that checks the whole working directory from inside the sandbox.
CHECKS = '''import os
assert open("data.txt").read() == "instructor", "the released data.txt wins over the student's"
assert open("helpers/util.py").read() == "X = 1\\n"
assert os.environ.get("NBGRADER_EXECUTION") == "autograde"
for name, attempt in [("write", lambda: open("data.txt", "w")), ("remove", lambda: os.remove("data.txt")),
                      ("rename", lambda: os.rename("data.txt", "x")), ("chmod", lambda: os.chmod("data.txt", 0o666)),
                      ("add", lambda: open("helpers/new.py", "w")), ("edit", lambda: open("helpers/util.py", "a")),
                      ("move", lambda: os.rename("helpers", "h2"))]:
    try:
        attempt()
    except OSError:
        pass
    else:
        raise AssertionError("a released file could be changed: " + name)
with open("mine.txt", "a") as f:
    f.write("!")
with open("notes/today.txt", "a") as f:
    f.write("!")
assert open("mine.txt").read() == "student!"
assert not os.path.exists("README.md"), "the instructor's notes stay private"
assert not os.path.exists("link.txt"), "links are not followed"
assert not os.path.exists(".hidden") and not os.path.exists("__pycache__")
'''


def meta(gid: str, **flags: object) -> dict:
    return {"nbgrader": {"grade_id": gid, "schema_version": 3, **flags}}


def notebook() -> nbformat.NotebookNode:
    return new_notebook(cells=[
        new_code_cell("x = 1", metadata=meta("answer", solution=True, grade=False)),
        new_code_cell(CHECKS, metadata=meta("files", grade=True, points=1)),
    ])


def write_course(root: Path) -> Path:
    lab = root / "labs" / "lab1"
    (lab / "helpers").mkdir(parents=True)
    (lab / "__pycache__").mkdir()
    nbformat.write(notebook(), lab / "source.ipynb")
    (lab / "data.txt").write_text("instructor")
    (lab / "helpers" / "util.py").write_text("X = 1\n")
    (lab / "README.md").write_text("instructor notes: the answer is 42")
    (lab / ".hidden").write_text("dotfile")
    (lab / "__pycache__" / "util.cpython-311.pyc").write_bytes(b"\0")
    (root / "course.yaml").write_text(yaml.safe_dump({"id": "files101", "title": "Files", "labs": [
        {"id": "lab1", "title": "Lab 1", "path": "labs/lab1/source.ipynb", "points": 1}]}))
    return root


def hand_in(submissions: Path, student: str) -> Path:
    """nbgrader's layout: submitted/<student>/<assignment>/ holds the notebook and the student's files."""
    folder = submissions / student / "lab1"
    (folder / "notes").mkdir(parents=True)
    nbformat.write(notebook(), folder / "lab1.ipynb")
    (folder / "mine.txt").write_text("student")
    (folder / "notes" / "today.txt").write_text("notes")
    (folder / "data.txt").write_text("forged")  # the instructor's data.txt must win
    (folder / "helpers").mkdir()
    (folder / "helpers" / "util.py").write_text("X = 2\n")
    (folder / "link.txt").symlink_to("/etc/hostname")
    return folder / "lab1.ipynb"


@pytest.fixture(autouse=True)
def _settings_per_test() -> Iterator[None]:
    context.settings.cache_clear()
    yield
    context.settings.cache_clear()


def cli(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> tuple[str, str]:
    capsys.readouterr()
    assert main(list(args)) == code
    out = capsys.readouterr()
    return out.out, out.err


def scores(data: dict) -> list[tuple[str, float, str]]:
    return [(t["id"], t["points"], t["status"]) for t in data["tasks"]]


def test_as_root_cold_and_warm(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    course = write_course(tmp_path / "course")
    submitted = hand_in(tmp_path / "submitted", "bob")
    cli(capsys, "course", "add", str(course))
    out, _ = cli(capsys, "grade", str(submitted), "--course", "files101", "--lab", "lab1", "--with-files", "--json")
    assert scores(json.loads(out)) == [("files", 1.0, "passed")]
    out, _ = cli(capsys, "grade", str(submitted), "--course", "files101", "--lab", "lab1", "--json")
    [(_, points, status)] = scores(json.loads(out))  # without the student's files: mine.txt is missing
    assert (points, status) == (0.0, "error")

    out, _ = cli(capsys, "autograde", "--course", "files101", "--lab", "lab1", "--submissions",
                 str(tmp_path / "submitted"), "--json", "--no-progress")
    assert json.loads(out)["graded"] == 1
    stored = next((Path(os.environ["WORKBENCH_DATA_DIR"]) / "submissions" / "files101" / "lab1" / "bob")
                  .glob("*.files"))
    assert sorted(p.relative_to(stored).as_posix() for p in stored.rglob("*") if p.is_file()) == \
        ["data.txt", "helpers/util.py", "mine.txt", "notes/today.txt"]  # kept: a re-grade has them
    (tmp_path / "submitted" / "bob" / "lab1" / "mine.txt").write_text("student")  # same bytes: no new submission
    out, _ = cli(capsys, "autograde", "--course", "files101", "--lab", "lab1", "--submissions",
                 str(tmp_path / "submitted"), "--json", "--no-progress", "--force")
    assert json.loads(out)["graded"] == 1
    exported, _ = cli(capsys, "grades", "export", "--course", "files101", "--format", "json")
    [row] = json.loads(exported)["submissions"]
    assert scores(row) == [("files", 1.0, "passed")], row
    (tmp_path / "submitted" / "bob" / "lab1" / "mine.txt").write_text("changed")  # a new hand-in
    out, _ = cli(capsys, "autograde", "--course", "files101", "--lab", "lab1", "--submissions",
                 str(tmp_path / "submitted"), "--json", "--no-progress")
    assert (json.loads(out)["graded"], json.loads(out)["skipped"]) == (1, 0)


def test_as_a_normal_user_cold_and_warm() -> None:
    grader = Grader.make()
    try:
        course = write_course(grader.work / "course")
        submitted = hand_in(grader.work / "submitted", "bob")
        assert grader.cli("db", "upgrade").returncode == 0
        added = grader.cli("course", "add", str(course))
        assert added.returncode == 0, added.stderr
        ran = grader.cli("grade", str(submitted), "--course", "files101", "--lab", "lab1", "--with-files", "--json")
        assert ran.returncode == 0, ran.stderr
        assert scores(json.loads(ran.stdout)) == [("files", 1.0, "passed")]
        ran = grader.cli("autograde", "--course", "files101", "--lab", "lab1", "--submissions",
                         str(grader.work / "submitted"), "--json", "--no-progress")
        assert ran.returncode == 0 and json.loads(ran.stdout)["graded"] == 1, ran.stderr
        exported = grader.cli("grades", "export", "--course", "files101", "--format", "json")
        [row] = json.loads(exported.stdout)["submissions"]
        assert scores(row) == [("files", 1.0, "passed")], row
    finally:
        grader.remove()


def test_release_copies_the_lab_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    course = write_course(tmp_path / "course")
    out = tmp_path / "release"
    cli(capsys, "release", str(course / "labs" / "lab1" / "source.ipynb"), "--out", str(out))
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == \
        ["data.txt", "helpers/util.py", "source.ipynb"]


def test_a_lab_data_folder_hidden_by_the_course_data_is_refused(tmp_path: Path, db_url: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    course = write_course(tmp_path / "course")
    (course / "data").mkdir()
    (course / "data" / "scene.txt").write_text("course data")
    (course / "labs" / "lab1" / "data").mkdir()
    (course / "labs" / "lab1" / "data" / "own.txt").write_text("lab data")
    submitted = hand_in(tmp_path / "submitted", "bob")
    cli(capsys, "course", "add", str(course))
    _, err = cli(capsys, "grade", str(submitted), "--course", "files101", "--lab", "lab1", code=2)
    assert "has its own data/" in err and str(course / "labs" / "lab1") in err and "Traceback" not in err


def test_opening_a_lab_puts_its_files_beside_the_copy(start_server: Callable[..., Server], tmp_path: Path,
                                                      db_url: str) -> None:
    from workbench.curriculum import catalog, load_course
    from workbench.store import open_store

    course = write_course(tmp_path / "course")
    catalog.register(open_store(db_url), load_course(course))
    student = start_server("--Workbench.default_role=student")
    (student.root / "files101").mkdir()
    (student.root / "files101" / "data.txt").write_text("the student's own")  # kept, never overwritten
    assert student.request("POST", "courses/files101/labs/lab1/open", {})[0] == 201
    folder = student.root / "files101"
    assert (folder / "helpers" / "util.py").read_text() == "X = 1\n"
    assert (folder / "data.txt").read_text() == "the student's own"
    assert not (folder / "README.md").exists() and (folder / "lab1.ipynb").is_file()


def test_nbgrader_import_keeps_the_assignment_folders(tmp_path: Path, db_url: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """nbgrader releases an assignment's sub-folders too (source/ps1/inputs/...): so does the import."""
    source = tmp_path / "nbgrader" / "source" / "ps1"
    (source / "inputs").mkdir(parents=True)
    nb = new_notebook(cells=[new_code_cell("assert open('inputs/data.txt').read() == 'x'",
                                           metadata=meta("reads", grade=True, points=1, locked=True))])
    nbformat.write(nb, source / "p1.ipynb")
    (source / "inputs" / "data.txt").write_text("x")
    submitted = tmp_path / "nbgrader" / "submitted" / "bob" / "ps1"
    submitted.mkdir(parents=True)
    nbformat.write(nb, submitted / "p1.ipynb")
    cli(capsys, "import", "nbgrader", str(tmp_path / "nbgrader"), "--out", str(tmp_path / "course"), "--add")
    assert (tmp_path / "course" / "labs" / "ps1" / "inputs" / "data.txt").read_text() == "x"
    out, _ = cli(capsys, "autograde", "--course", "nbgrader", "--lab", "ps1", "--submissions",
                 str(tmp_path / "nbgrader"), "--json", "--no-progress")
    assert json.loads(out)["graded"] == 1
    exported, _ = cli(capsys, "grades", "export", "--course", "nbgrader", "--format", "json")
    assert json.loads(exported)["submissions"][0]["score"] == 1
