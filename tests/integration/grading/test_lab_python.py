"""``Workbench.lab_python``: the grading sandbox, cold (``workbench grade``) and warm (``workbench
autograde``), runs student code with the labs' interpreter and sees that environment, not the
grader's. The labs' environment here is a second venv holding a module the grader's venv lacks."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from workbench.cli import main
from workbench.commands import context
from workbench.grading.grade import grade_notebook
from workbench.grading.sandbox import Limits

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
PYTHON311 = Path("/usr/bin/python3.11")
ENV = "WORKBENCH_LAB_PYTHON"


def _copy_distribution(name: str, site: Path, seen: set[str]) -> None:
    """Install ``name`` and what it requires into ``site`` by copying the grader's installed files (no
    network): the labs' environment needs IPython, as every kernel environment has it."""
    key = canonicalize_name(name)
    if key in seen:
        return
    seen.add(key)
    dist = importlib.metadata.distribution(name)
    for file in dist.files or []:
        if ".." in file.parts:  # scripts outside site-packages
            continue
        target = site / file
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(str(dist.locate_file(file))), target)
    for text in dist.requires or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            _copy_distribution(requirement.name, site, seen)


def _venv(root: Path) -> Path:
    if not PYTHON311.exists():
        pytest.skip("needs /usr/bin/python3.11 to build a second environment")
    subprocess.run([str(PYTHON311), "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    return root / "bin" / "python"


@pytest.fixture(scope="module")
def lab_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A labs' environment: IPython (copied from ours) plus ``labonly``, which the grader does not have."""
    python = _venv(tmp_path_factory.mktemp("labs") / "venv")
    site = next(python.parent.parent.glob("lib/python3.*/site-packages"))
    (site / "labonly.py").write_text("VALUE = 42\n")
    _copy_distribution("ipython", site, set())
    with pytest.raises(ImportError):
        __import__("labonly")
    return python


def meta(gid: str, **flags: object) -> dict:
    return {"nbgrader": {"grade": False, "solution": False, "locked": False, "grade_id": gid, "points": 0,
                         "schema_version": 3, **flags}}


def lab_notebook() -> nbformat.NotebookNode:
    return new_notebook(cells=[
        new_code_cell("import sys\nimport labonly\nprint(sys.executable)", metadata=meta("answer", solution=True)),
        new_code_cell("import labonly\nassert labonly.VALUE == 42",
                      metadata=meta("test_labonly", grade=True, points=1, locked=True)),
    ])


@pytest.fixture
def lab(tmp_path: Path) -> tuple[Path, Path]:
    """(source, submission) of a lab whose code imports ``labonly``."""
    source, submission = tmp_path / "source" / "lab1.ipynb", tmp_path / "sub" / "lab1.ipynb"
    for path in (source, submission):
        path.parent.mkdir()
        nbformat.write(lab_notebook(), path)
    return source, submission


def grade_cli(submission: Path, source: Path, python: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if python is not None:
        env[ENV] = python
    return subprocess.run([sys.executable, "-m", "workbench.cli", "grade", str(submission), "--source", str(source),
                           "--json", "--timeout", "20"], capture_output=True, text=True, cwd=REPO,
                          env={**env, "PYTHONPATH": str(REPO)}, timeout=180)


def test_grade_runs_student_code_with_the_lab_python(lab: tuple[Path, Path], lab_python: Path,
                                                     tmp_path: Path) -> None:
    source, submission = lab
    graded = grade_cli(submission, source, str(lab_python))
    assert graded.returncode == 0, graded.stderr
    data = json.loads(graded.stdout)
    assert (data["score"], data["max_score"]) == (1.0, 1.0), data
    assert data["tasks"][0]["status"] == "passed"

    result = grade_notebook(submission, source, limits=Limits(cell_timeout=20), python=str(lab_python))
    answer = next(o for o in result.outputs if o["grade_id"] == "answer")
    assert answer["stdout"] == f"{lab_python}\n"  # the venv's python, run by the path it was named by

    own = json.loads(grade_cli(submission, source, None).stdout)  # the grader's own Python lacks labonly
    assert own["score"] == 0.0 and own["tasks"][0]["status"] == "error"
    assert "ModuleNotFoundError: No module named 'labonly'" in own["tasks"][0]["message"]

    missing = tmp_path / "nowhere" / "bin" / "python"
    refused = grade_cli(submission, source, str(missing))
    assert refused.returncode == 2 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    assert f"Workbench.lab_python ({ENV}) is {missing}, which does not exist" in refused.stderr

    bare = _venv(tmp_path / "bare")  # a Python without IPython cannot run the sandbox's cells
    refused = grade_cli(submission, source, str(bare))
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert f"is {bare}, which has no IPython" in refused.stderr and "install ipykernel" in refused.stderr


@pytest.fixture
def in_process(capsys: pytest.CaptureFixture[str], db_url: str) -> Iterator[pytest.CaptureFixture[str]]:
    """The CLI run in this process (a fresh interpreter pays seconds for nbformat each time)."""
    context.settings.cache_clear()
    yield capsys
    context.settings.cache_clear()


def test_warm_workers_use_the_lab_python(in_process: pytest.CaptureFixture[str], lab_python: Path, db_url: str,
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def cli(*args: str) -> tuple[int, str, str]:
        in_process.readouterr()
        code = main(list(args))
        out = in_process.readouterr()
        return code, out.out, out.err

    course = tmp_path / "course"
    (course / "labs" / "lab1").mkdir(parents=True)
    nbformat.write(lab_notebook(), course / "labs" / "lab1" / "source.ipynb")
    (course / "course.yaml").write_text(yaml.safe_dump({
        "id": "ai101", "title": "AI 101", "labs": [{"id": "lab1", "title": "Lab 1", "path": "labs/lab1/source.ipynb",
                                                  "points": 1}]}))
    assert cli("course", "add", str(course))[0] == 0
    klass = tmp_path / "class"
    for student in ("s0", "s1", "s2"):
        (klass / student).mkdir(parents=True)
        nbformat.write(lab_notebook(), klass / student / "lab1.ipynb")
    run = ("autograde", "--course", "ai101", "--lab", "lab1", "--submissions", str(klass), "--workers", "2",
           "--timeout", "20", "--json", "--no-progress")

    def book() -> dict[str, dict]:
        code, out, err = cli("grades", "export", "--course", "ai101", "--lab", "lab1", "--format", "json")
        assert code == 0, err
        return {s["student"]: s for s in json.loads(out)["submissions"]}

    monkeypatch.setenv(ENV, str(tmp_path / "missing-python"))
    code, out, err = cli(*run)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert f"Workbench.lab_python ({ENV}) is {tmp_path / 'missing-python'}, which does not exist" in err
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:  # refused before anything was stored
        assert conn.execute("select count(*) from submissions").fetchone()[0] == 0

    monkeypatch.setenv(ENV, str(lab_python))
    code, out, err = cli(*run)
    assert code == 0 and json.loads(out)["graded"] == 3, err
    assert {name: (s["score"], s["tasks"][0]["status"]) for name, s in book().items()} == \
           {name: (1.0, "passed") for name in ("s0", "s1", "s2")}
    page = tmp_path / "s1.html"
    assert cli("feedback", "--course", "ai101", "--lab", "lab1", "--student", "s1", "--out", str(page))[0] == 0
    assert f"{lab_python}\n" in page.read_text()  # the cell's print of sys.executable, in a warm sandbox

    monkeypatch.delenv(ENV)
    code, out, err = cli(*run, "--force")
    assert code == 0 and json.loads(out)["graded"] == 3, err
    for name, sub in book().items():
        assert (sub["score"], sub["tasks"][0]["status"]) == (0.0, "error"), name
        assert "ModuleNotFoundError: No module named 'labonly'" in sub["tasks"][0]["message"]
