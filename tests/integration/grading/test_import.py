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
    assert by_id["q2_test1"] == ("failed", 0.0, "AssertionError: the mean of 1, 2, 3 is 2.0; "  # a hidden case,
                                 "judged by the grader, outside your process")  # its own failure_message shown
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
    assert main(["import", "otter", str(FIXTURES / "otter_hw01.ipynb"), "--out", str(tmp_path / "y"),
                 "--timeout", "0"]) == 2
    assert "--timeout must be a number of seconds above 0, not 0" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()


# The two fixtures below are hand-written in Otter Assign's v1 notebook format, following otter-grader's
# docs/otter_assign/notebook_format.rst ("Question Structure", "Manually-Graded Questions", "OK-Formatted
# Test Cells") and its test/test_assign/files/example.ipynb (raw BEGIN/END PROMPT and SOLUTION cells
# around markdown answers; test cells whose expected value is the master's output).


def _answer(nb: nbformat.NotebookNode, gid: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def _grade_json(submission: Path, source: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, tuple[str, float]]:
    assert main(["grade", str(submission), "--source", str(source), "--json", "--timeout", "20"]) == 0
    result = json.loads(capsys.readouterr().out)
    return {t["id"]: (t["status"], t["points"]) for t in result["tasks"]}


def test_otter_prompts_are_what_students_see(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "hw"
    assert main(["import", "otter", str(FIXTURES / "otter_prompts.ipynb"), "--out", str(out)]) == 0
    assert "otter_prompts (4 points)" in capsys.readouterr().out  # q1 test 1 + manual q2 (2) + manual q3 (1)
    source = out / "labs" / "otter_prompts" / "otter_prompts.ipynb"
    assert main(["release", str(source), "--out", str(tmp_path / "released")]) == 0
    capsys.readouterr()
    released = nbformat.read(tmp_path / "released" / "otter_prompts.ipynb", as_version=4)
    text = nbformat.writes(released)
    # manual markdown answer behind a '# BEGIN PROMPT' block: the prompt in place of the solution
    assert _answer(released, "q2").source == "_Type your answer here, replacing this text._"
    assert "three minus signs" not in text and "three minus signs" in source.read_text()
    assert text.count("_Type your answer here") == 1  # the prompt is not shown twice
    # code prompt: replaces our default stub
    assert _answer(released, "q1").source == "volume = ...  # replace ... with your answer"
    assert "3 ** 3" not in text and "NotImplementedError" not in text and "3 ** 3" in source.read_text()
    # markdown solution between raw SOLUTION cells, no prompt and no '**Solution:**': a manual answer
    assert _answer(released, "q3").source == "YOUR ANSWER HERE" and "ball of given density" not in text

    released_path = tmp_path / "released" / "otter_prompts.ipynb"
    _answer(released, "q1").source = "volume = 3 * 3 * 3"
    _answer(released, "q2").source = "Three negative factors give a negative product."
    nbformat.write(released, released_path)
    tasks = _grade_json(released_path, source, capsys)
    assert tasks == {"q1_test1": ("passed", 1.0), "q2": ("manual", 0.0), "q3": ("manual", 0.0)}


def test_otter_master_without_outputs_is_executed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    master = FIXTURES / "otter_no_outputs.ipynb"
    assert not any(c.get("outputs") for c in nbformat.read(master, as_version=4).cells)  # saved without outputs
    out = tmp_path / "hw"
    assert main(["import", "otter", str(master), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "otter_no_outputs (2 points)" in captured.out and "warning" not in captured.err
    source = out / "labs" / "otter_no_outputs" / "otter_no_outputs.ipynb"
    assert "import otter" not in source.read_text()  # otter's own lines are not part of the lab

    def submit(name: str, answer: str) -> Path:
        nb = student_version(source)
        _answer(nb, "q1").source = answer
        path = tmp_path / name / "otter_no_outputs.ipynb"
        path.parent.mkdir()
        nbformat.write(nb, path)
        return path

    right = _grade_json(submit("right", "def square(x):\n    return x ** 2"), source, capsys)
    assert right == {"q1_test1": ("passed", 1.0), "q1_test2": ("passed", 1.0)}
    wrong = _grade_json(submit("wrong", "def square(x):\n    return x + x"), source, capsys)  # runs, wrong value
    assert wrong == {"q1_test1": ("failed", 0.0), "q1_test2": ("failed", 0.0)}

    # --no-run: as before (the tests only check that they run), and the import says which tests
    assert main(["import", "otter", str(master), "--out", str(tmp_path / "weak"), "--no-run"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "otter_no_outputs.ipynb" in err and "q1_test1, q1_test2" in err
    assert "--no-run" in err


def test_otter_master_that_fails_is_refused_naming_the_cell(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:  # capfd: the kernel's stderr counts too
    nb = nbformat.read(FIXTURES / "otter_no_outputs.ipynb", as_version=4)
    # cell 4 reads a file beside the notebook (the master runs in its own folder), cell 5 raises
    nb.cells[3:3] = [nbformat.v4.new_code_cell("LIMIT = int(open('limit.txt').read())"),
                     nbformat.v4.new_code_cell("ratio = LIMIT / 0")]
    (tmp_path / "limit.txt").write_text("3")
    bad = tmp_path / "broken.ipynb"
    nbformat.write(nb, bad)
    assert main(["import", "otter", str(bad), "--out", str(tmp_path / "x")]) == 2
    err = capfd.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "broken.ipynb" in err and "cell 5 ('ratio = LIMIT / 0')" in err and "ZeroDivisionError" in err, err
    assert not (tmp_path / "x").exists()

    nb.cells[4].source = "import time\ntime.sleep(60)"
    nbformat.write(nb, bad)
    assert main(["import", "otter", str(bad), "--out", str(tmp_path / "x"), "--timeout", "2"]) == 2
    err = capfd.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "cell 5 ('import time')" in err and "within 2 s" in err, err


def test_otter_in_code_prompt_ignored_cells_and_shown_output(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "hw"
    assert main(["import", "otter", str(FIXTURES / "otter_in_code.ipynb"), "--out", str(out)]) == 0
    assert "otter_in_code (4 points)" in capsys.readouterr().out
    source = out / "labs" / "otter_in_code" / "otter_in_code.ipynb"
    assert main(["release", str(source), "--out", str(tmp_path / "released")]) == 0
    capsys.readouterr()
    released_path = tmp_path / "released" / "otter_in_code.ipynb"
    released = nbformat.read(released_path, as_version=4)
    # exactly what otter's notebook_format.rst says students are shown for this solution cell
    assert _answer(released, "q1").source == (
        "pi = 3.14\nif True:\n    ...\n    print('A circle with radius', radius, 'has area', area)\n\n"
        "def circumference(r):\n    # Next, define a circumference function.\n    pass")
    solution = _answer(nbformat.read(source, as_version=4), "q1").source
    assert "return 2 * pi * r" in solution
    assert "BEGIN PROMPT" not in solution and "define a circumference" not in solution
    for text in (source.read_text(), nbformat.writes(released)):  # ignored cells and lines: in neither
        assert "course staff" not in text and "only in the master" not in text
        assert "master check" not in text and "area > 29" not in text and "IGNORE" not in text

    def grade(q1: str | None, q2: str | None) -> dict[str, tuple[str, float]]:
        for gid, answer in (("q1", q1), ("q2", q2)):
            if answer is not None:
                _answer(released, gid).source = answer
        nbformat.write(released, released_path)
        return _grade_json(released_path, source, capsys)

    tests = ("q1_test1", "q1_test2", "q1_test3", "q2_test1")
    assert grade(None, None) == dict.fromkeys(tests, ("error", 0.0))  # as released
    table = "table = {r: round(circumference(r), 2) for r in range(1, 13)}"
    assert grade("pi = 3.14\n\ndef circumference(r):\n    return 2 * pi * r", table) == \
        dict.fromkeys(tests, ("passed", 1.0))  # q2: the master's 12-line display of the dict, not its repr
    # prints 3.14 where the master printed 6.28: the printed test fails too, it does not just run
    assert grade("pi = 3.14\n\ndef circumference(r):\n    return pi * r", None) == \
        dict.fromkeys(tests, ("failed", 0.0))


def test_otter_unbalanced_blocks_are_refused_naming_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for old, new, expected in (
            ("# END IGNORE\n", "", "unclosed.ipynb: cell 9: '# BEGIN IGNORE' is never closed; add '# END IGNORE'"),
            ('"""; # END PROMPT', "", "unclosed.ipynb: question 'q1': an in-code '\"\"\" # BEGIN PROMPT' string "
                                     "is never closed"),
            ("# BEGIN IGNORE\n", "", "unclosed.ipynb: cell 9: '# END IGNORE' without a '# BEGIN IGNORE' before it"),
            ("# BEGIN IGNORE\n", "# BEGIN IGNORE\n# BEGIN IGNORE\n",
             "unclosed.ipynb: cell 9: '# BEGIN IGNORE' inside another ignore block; close it with '# END IGNORE'")):
        nb = nbformat.read(FIXTURES / "otter_in_code.ipynb", as_version=4)
        assert old in nb.cells[8].source
        nb.cells[8].source = nb.cells[8].source.replace(old, new)
        bad = tmp_path / "unclosed.ipynb"
        nbformat.write(nb, bad)
        assert main(["import", "otter", str(bad), "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err, err
        assert not (tmp_path / "x").exists()
