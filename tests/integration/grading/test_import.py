"""``workbench import nbgrader|otter``: converted courses load, release safely, and grade right."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from workbench.cli import main
from workbench.commands import context
from workbench.curriculum.release import student_version
from workbench.grading.grade import grade_notebook
from workbench.grading.sandbox import Limits

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _fresh_settings(db_url: str) -> Iterator[None]:
    context.settings.cache_clear()
    yield
    context.settings.cache_clear()


def test_nbgrader_course_imports_and_autograde_reproduces_nbgrader(
        shared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ps1 = shared_dir / "interop" / "nbgrader-ps1"
    out = tmp_path / "ps1course"
    assert main(["import", "nbgrader", str(ps1), "--out", str(out), "--id", "ps1course", "--add"]) == 0
    assert "ps1-problem1 (10 points), ps1-problem2 (3 points)" in capsys.readouterr().out
    assert (out / "labs" / "ps1-problem1" / "jupyter.png").is_file()  # the assignment's other files came along
    for lab in ("ps1-problem1", "ps1-problem2"):
        assert main(["autograde", "--course", "ps1course", "--lab", lab, "--submissions", str(ps1),
                     "--workers", "2", "--json", "--no-progress",
                     "--late-percent-per-day", "0"]) == 0
        assert json.loads(capsys.readouterr().out)["graded"] == 2
    assert main(["grades", "export", "--course", "ps1course", "--format", "json"]) == 0
    totals: dict[str, list[float]] = {}
    for sub in json.loads(capsys.readouterr().out)["submissions"]:
        got = totals.setdefault(sub["student"], [0.0, 0.0])
        got[0] += sub["raw_score"]
        got[1] += sub["max_score"]
    assert totals == {"bitdiddle": [1.5, 13.0], "hacker": [3.0, 13.0]}  # nbgrader's own grades.csv


def test_otter_notebook_imports_and_grades(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "hw"
    assert main(["import", "otter", str(FIXTURES / "otter_hw01.ipynb"), "--out", str(out)]) == 0
    assert "otter_hw01 (6 points)" in capsys.readouterr().out
    source = out / "labs" / "otter_hw01" / "otter_hw01.ipynb"
    released = nbformat.writes(student_version(source))
    assert "x * x" not in released and "sum(xs)" not in released  # solutions stripped
    assert "square(-4)" not in released and "mean([1, 2, 3])" not in released  # hidden tests stripped
    assert "isinstance(mean([1]), float)" in released  # public tests stay

    def submit(name: str, answers: dict[str, str]) -> Path:
        nb = student_version(source)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                cell.source = answers[gid]
        path = tmp_path / name / "otter_hw01.ipynb"
        path.parent.mkdir()
        nbformat.write(nb, path)
        return path

    limits = Limits(cell_timeout=10)
    good = grade_notebook(submit("good", {"q1": "def square(x):\n    return x ** 2",
                                          "q2": "def mean(xs):\n    return sum(xs) / len(xs)"}), source, limits)
    assert (good.score, good.max_score, good.needs_manual) == (5.0, 6.0, True)
    floor = grade_notebook(submit("floor", {"q1": "def square(x):\n    return x * abs(x)",
                                            "q2": "def mean(xs):\n    return sum(xs) // len(xs)"}), source, limits)
    by_id = {t.id: (t.status, t.points, t.message) for t in floor.tasks}
    assert by_id["q1_test1"][:2] == ("passed", 1.0) and by_id["q1_test2"][:2] == ("failed", 0.0)
    assert by_id["q2_test1"] == ("failed", 0.0, "AssertionError: the mean of 1, 2, 3 is 2.0")
    assert by_id["q2_test2"][:2] == ("failed", 0.0) and floor.score == 1.0


def test_import_refuses_what_it_cannot_convert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nb = nbformat.read(FIXTURES / "otter_hw01.ipynb", as_version=4)
    del nb.cells[11]  # the first '# END QUESTION'
    del nb.cells[10]  # and its '# END TESTS'
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    assert main(["import", "otter", str(bad), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "bad.ipynb" in err and "Traceback" not in err and not (tmp_path / "x").exists()
    assert main(["import", "nbgrader", str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
