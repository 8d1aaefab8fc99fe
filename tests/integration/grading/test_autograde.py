"""``workbench autograde`` on a class: warm workers, gradebook rows, idempotence, resume, parity
with ``workbench grade``, then exports, manual points and feedback through the CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import pwd
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
import yaml

from workbench.cli import main
from workbench.commands import context
from workbench.grading.grade import grade_notebook
from workbench.grading.sandbox import Limits

from .conftest import SECRET, source_notebook

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
KINDS = {
    "correct": {},
    "wrong": {"mul": "def mul(a, b):\n    return a + b"},
    "erroring": {"add": "def add(a, b):\n    raise ValueError('oops')"},
    "looping": {"mul": "def mul(a, b):\n    while True:\n        pass"},
}
CLASS = ["correct"] * 4 + ["wrong"] * 3 + ["erroring"] * 3 + ["looping"] * 2


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(autouse=True)
def _in_process(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Run the CLI in this process (a fresh interpreter pays ~2-4 s for nbformat each time), with
    settings re-read for this test's store."""
    context.settings.cache_clear()
    global _capsys
    _capsys = capsys
    yield
    context.settings.cache_clear()


_capsys: pytest.CaptureFixture[str]


def cli(*args: str, check: bool = True) -> Ran:
    _capsys.readouterr()
    code = main(list(args))
    out = _capsys.readouterr()
    if check:
        assert code == 0, out.err
    return Ran(code, out.out, out.err)


def submission(kind: str) -> nbformat.NotebookNode:
    nb = source_notebook()
    nb.cells[1].source = "assert add(1, 2) == 3"
    nb.cells[4].source = "# Checked by the grader"
    for cell in nb.cells:
        code = KINDS[kind].get(cell.metadata["nbgrader"]["grade_id"])
        if code is not None:
            cell.source = code
    return nb


@pytest.fixture
def store_url(request: pytest.FixtureRequest, db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's store: SQLite, or a fresh PostgreSQL database when parametrized (indirectly) so."""
    if getattr(request, "param", "sqlite") == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
        monkeypatch.setenv("WORKBENCH_DB_URL", url)
        return url
    return db_url


@pytest.fixture
def course(tmp_path: Path, store_url: str) -> Path:
    root = tmp_path / "course"
    (root / "labs" / "lab1").mkdir(parents=True)
    nbformat.write(source_notebook(), root / "labs" / "lab1" / "source.ipynb")
    (root / "course.yaml").write_text(yaml.safe_dump({
        "id": "ai101", "title": "AI 101", "labs": [{"id": "lab1", "title": "Lab 1", "path": "labs/lab1/source.ipynb",
                                                  "points": 8, "due": "2030-01-01T00:00:00+00:00"}]}))
    cli("course", "add", str(root))
    return root


@pytest.fixture
def klass(tmp_path: Path) -> Path:
    root = tmp_path / "class"
    for i, kind in enumerate(CLASS):
        (root / f"s{i:02d}").mkdir(parents=True)
        nbformat.write(submission(kind), root / f"s{i:02d}" / "lab1.ipynb")
    return root


def autograde(klass: Path, *extra: str) -> dict:
    proc = cli("autograde", "--course", "ai101", "--lab", "lab1", "--submissions", str(klass), "--workers", "2",
               "--timeout", "2", "--json", *extra)
    result = json.loads(proc.stdout)  # exactly one object: the tqdm bar went to stderr
    assert ("autograde lab1" in proc.stderr) == (result["graded"] > 0)
    return result


def exported(fmt: str, *extra: str) -> str:
    return cli("grades", "export", "--course", "ai101", "--lab", "lab1", "--format", fmt, *extra).stdout


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_class_autograde_idempotent_and_equal_to_grade(course: Path, klass: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    assert autograde(klass) == {"graded": 12, "skipped": 0, "failed": 0, "problems": []}
    elapsed = time.monotonic() - started
    book = {s["student"]: s for s in json.loads(exported("json"))["submissions"]}
    assert len(book) == 12
    source = course / "labs" / "lab1" / "source.ipynb"
    for i, kind in enumerate(CLASS[::3]):  # one of each kind, graded cold by `workbench grade`'s engine
        student = f"s{i * 3:02d}"
        alone = grade_notebook(klass / student / "lab1.ipynb", source, limits=Limits(cell_timeout=2))
        row = book[student]
        assert (row["raw_score"], row["max_score"]) == (alone.score, alone.max_score), kind
        assert [(t["id"], t["points"], t["status"]) for t in row["tasks"]] == \
               [(t.id, t.points, t.status) for t in alone.tasks], kind
    scores = [book[f"s{i:02d}"]["score"] for i in range(12)]
    assert scores == [7.0] * 4 + [2.0] * 3 + [5.0] * 3 + [2.0] * 2
    assert {t["status"] for t in book["s10"]["tasks"]} >= {"timeout"}
    assert elapsed < 60

    assert autograde(klass) == {"graded": 0, "skipped": 12, "failed": 0, "problems": []}  # no-op re-run
    nbformat.write(submission("correct"), klass / "s05" / "lab1.ipynb")  # a wrong one fixed and resubmitted
    assert autograde(klass)["graded"] == 1
    book = {s["student"]: s for s in json.loads(exported("json"))["submissions"]}
    assert book["s05"]["score"] == 7.0 and book["s04"]["score"] == 2.0

    # manual points, exports, feedback
    adjusted = cli("grades", "set", "--course", "ai101", "--lab", "lab1", "--student", "s00", "--task", "essay",
                   "--points", "1", "--comment", "clear explanation")
    assert f"(by {pwd.getpwuid(os.geteuid()).pw_name})" in adjusted.stdout  # the account, not a claimed name
    rows = list(csv.DictReader(io.StringIO(exported("csv"))))
    s00 = next(r for r in rows if r["student"] == "s00")
    assert (s00["score"], s00["essay"], s00["needs_manual"]) == ("8", "1", "no")
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email,sis_id,section\ns00,s00@uni.edu,SIS-0,A\n")
    cli("grades", "roster", "--course", "ai101", "--csv", str(roster))
    from_canvas = tmp_path / "canvas-gradebook.csv"  # Canvas's own export, as downloaded
    from_canvas.write_text('Student,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (311)\n'
                           '    Points Possible,,,,,10\n"Doe, Ann",4711,SIS-1,s01,B,9\n"Student, Test",99,,,,\n')
    assert "1 student(s)" in cli("grades", "roster", "--course", "ai101", "--csv", str(from_canvas)).stdout
    canvas = list(csv.reader(io.StringIO(exported("canvas"))))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "lab1"]
    assert canvas[1][0].strip() == "Points Possible" and canvas[1][5] == "8"
    assert ["s00", "", "SIS-0", "s00", "A", "8"] in canvas and ["s01", "4711", "SIS-1", "s01", "B", "7"] in canvas
    assert ["s02", "", "", "s02", "", "7"] in canvas
    unknown = tmp_path / "people.csv"
    unknown.write_text("login,mail\ns00,x@y\n")
    bad = cli("grades", "roster", "--course", "ai101", "--csv", str(unknown), check=False)
    assert bad.returncode == 2 and "needs a header row with a 'name' column" in bad.stderr
    no_login = tmp_path / "canvas-no-login.csv"
    no_login.write_text('Student,ID,SIS User ID,SIS Login ID,Section\n"Roe, Bo",4712,SIS-9,,B\n')
    bad = cli("grades", "roster", "--course", "ai101", "--csv", str(no_login), check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "line 2: 'Roe, Bo' has no SIS Login ID" in bad.stderr and "enable 'SIS Login ID'" in bad.stderr
    assert list(csv.reader(io.StringIO(exported("canvas")))) == canvas  # nothing stored changed
    moodle = list(csv.reader(io.StringIO(exported("moodle"))))
    assert moodle[0][:3] == ["Username", "Email address", "lab1"] and ["s00", "s00@uni.edu", "8", ""] in moodle
    bad = cli("grades", "set", "--course", "ai101", "--lab", "lab1", "--student", "s00", "--task", "essay",
              "--points", "5", check=False)
    assert bad.returncode == 2 and "between 0 and 1" in bad.stderr and "Traceback" not in bad.stderr

    page = tmp_path / "fb.html"
    cli("feedback", "--course", "ai101", "--lab", "lab1", "--student", "s07", "--out", str(page))
    text = page.read_text()
    assert "ValueError: oops" in text and "data:image/png;base64," in text and SECRET not in text
    assert "add(40, 2)" not in text and "student.call" not in text  # no hidden-test or check source


def test_resumes_after_a_crash(course: Path, klass: Path, db_url: str) -> None:
    args = [sys.executable, "-m", "workbench.cli", "autograde", "--course", "ai101", "--lab", "lab1",
            "--submissions", str(klass), "--workers", "1", "--timeout", "2", "--json", "--no-progress"]
    proc = subprocess.Popen(args, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    database = db_url.removeprefix("sqlite:///")
    deadline = time.monotonic() + 120
    graded = 0
    while graded < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            with sqlite3.connect(database) as conn:
                graded = conn.execute("select count(*) from submissions where status='graded'").fetchone()[0]
        except sqlite3.OperationalError:
            continue
    os.killpg(proc.pid, signal.SIGKILL)  # a crash: no cleanup runs at all
    proc.wait()
    assert 2 <= graded < 12
    with sqlite3.connect(database) as conn:
        done = conn.execute("select count(*) from submissions where status='graded'").fetchone()[0]
    result = autograde(klass)
    assert result["skipped"] == done and result["graded"] == 12 - done
    assert len(json.loads(exported("json"))["submissions"]) == 12


def test_unreadable_submission_is_recorded_not_fatal(course: Path, tmp_path: Path) -> None:
    klass = tmp_path / "small"
    (klass / "good").mkdir(parents=True)
    nbformat.write(submission("correct"), klass / "good" / "lab1.ipynb")
    (klass / "junk").mkdir()
    (klass / "junk" / "lab1.ipynb").write_text("{not a notebook")
    proc = cli("autograde", "--course", "ai101", "--lab", "lab1", "--submissions", str(klass), "--workers", "1",
               "--json", "--no-progress")
    result = json.loads(proc.stdout)
    assert (result["graded"], result["failed"]) == (1, 1) and "not valid JSON" in result["problems"][0]
    page = tmp_path / "junk.html"
    cli("feedback", "--course", "ai101", "--lab", "lab1", "--student", "junk", "--out", str(page))
    assert "Not graded (failed)" in page.read_text()
    missing = cli("autograde", "--course", "ai101", "--lab", "nope", "--submissions", str(klass), check=False)
    assert missing.returncode == 2 and "no lab 'nope'" in missing.stderr


def test_cli_writes_are_the_admins_and_record_who(repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A student account that can even write the SQLite store file cannot write through the CLI."""
    import shutil
    import tempfile

    from workbench.service.trial import unix_user

    if os.geteuid() != 0:
        pytest.skip("needs a second Unix account, made with useradd as root (CI runs as root)")
    student = unix_user("wb-cli-student").pw_name
    shared = Path(tempfile.mkdtemp(prefix="wb-admin-"))
    try:
        shared.chmod(0o755)
        store = shared / "workbench.db"
        monkeypatch.setenv("WORKBENCH_DB_URL", f"sqlite:///{store}")
        run = [sys.executable, "-m", "workbench.cli"]
        subprocess.run([*run, "db", "upgrade"], check=True, capture_output=True)
        store.chmod(0o666)  # even a store file everyone may write: the CLI still says whose it is
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}, "HOME": "/tmp"}
        attempt = subprocess.run(["runuser", "-u", student, "--", *run, "course", "add",
                                  str(repo_root / "curricula" / "intro")], capture_output=True, text=True,
                                 env=env, cwd="/")
        assert attempt.returncode == 2, attempt.stderr
        assert f"the store {store} belongs to root; write commands are its admin's" in attempt.stderr
    finally:
        shutil.rmtree(shared)
