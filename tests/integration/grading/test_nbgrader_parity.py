"""Parity with nbgrader: its own test fixtures (``fixtures/nbgrader/``, nbgrader 0.9.6) graded by us
score what nbgrader itself gives them.

Each case is imported (``workbench import nbgrader``), registered and autograded through the CLI from
nbgrader's own layout (``submitted/<student>/ps1/``, files handed in beside the notebook included),
and every student's score is compared with ``NBGRADER``: the scores nbgrader 0.9.6 gave the same
class (``fixtures/nbgrader/regenerate.py`` re-measures them; nbgrader never runs here).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.commands import context

from .nbgrader_cases import CASES, FIXTURES, Case, build

pytestmark = pytest.mark.integration

# nbgrader 0.9.6 (Python 3.11), `nbgrader autograde` of each case: (score, max score) per student.
NBGRADER: dict[tuple[str, str], tuple[float, float]] = {
    ("submitted", "unchanged"): (1, 7),
    ("submitted", "changed"): (2, 7),
    ("submitted", "cheat"): (1, 7),
    ("submitted", "cheat-alt"): (1, 7),
    ("submitted", "grade-cell-changed"): (1, 7),
    ("submitted", "locked-cell-changed"): (1, 7),
    ("test", "solution"): (3, 6),
    ("test", "with-output"): (3, 6),
    ("test", "released"): (0, 6),
    ("hidden-tests", "foo"): (1.5, 3),
    ("relative-file", "foo"): (10, 10),
    ("relative-file-submitted", "foo"): (10, 10),
    ("relative-file-submitted", "bar"): (0, 10),
    ("environment-variable", "foo"): (0, 1),
    ("side-effects", "foo"): (0, 0),
    ("zero-points", "foo"): (0, 0),
    ("infinite-loop", "foo"): (0, 0),
    ("timeout", "foo"): (1, 1),
    ("timeout-2s", "bar"): (0, 1),
}


@pytest.fixture(autouse=True)
def _settings_per_test() -> Iterator[None]:
    """The CLI runs in this process (a fresh interpreter costs seconds each time): settings are
    re-read for this test's store."""
    context.settings.cache_clear()
    yield
    context.settings.cache_clear()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out, out.err


def test_every_case_has_nbgrader_scores() -> None:
    assert {(c.name, s.name) for c in CASES for s in c.students} == set(NBGRADER)
    assert (FIXTURES / "LICENSE").read_text().startswith("Copyright (c) 2014 Project Jupyter Contributors")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_autograde_scores_what_nbgrader_scores(case: Case, tmp_path: Path, db_url: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    root = build(case, tmp_path / "nbgrader")
    cli(capsys, "import", "nbgrader", str(root), "--out", str(tmp_path / "course"), "--id", "parity", "--add")
    limits = ["--timeout", f"{case.timeout:g}"] if case.timeout else []
    out, err = cli(capsys, "autograde", "--course", "parity", "--lab", "ps1", "--submissions", str(root),
                   "--json", "--no-progress", *limits)
    assert json.loads(out)["graded"] == len(case.students), out
    exported, _ = cli(capsys, "grades", "export", "--course", "parity", "--format", "json")
    ours = {s["student"]: (s["raw_score"], s["max_score"]) for s in json.loads(exported)["submissions"]}
    expected = {s.name: NBGRADER[(case.name, s.name)] for s in case.students}
    assert ours == expected, case.why
    no_graded_cells = case.name in ("side-effects", "infinite-loop")  # graded 0 of 0, said once, not refused
    assert (err.count("has no graded cells") == 1 and "graded 0 of 0" in err) == no_graded_cells, err


def test_grade_cli_matches_on_the_three_differences(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The three cases issue #12 found, through `workbench grade`: a file released beside the source,
    NBGRADER_EXECUTION, a source without graded cells (0 of 0 and one warning line on stderr)."""
    lab = tmp_path / "lab"
    lab.mkdir()
    shutil.copyfile(FIXTURES / "files" / "open_relative_file.ipynb", lab / "p1.ipynb")
    shutil.copyfile(FIXTURES / "files" / "data.txt", lab / "data.txt")
    out, _ = cli(capsys, "grade", str(FIXTURES / "files" / "open_relative_file.ipynb"), "--source",
                 str(lab / "p1.ipynb"), "--json")
    assert json.loads(out)["score"] == 10
    env = FIXTURES / "files" / "validating-environment-variable.ipynb"
    out, _ = cli(capsys, "grade", str(env), "--source", str(env), "--json")
    assert (json.loads(out)["score"], json.loads(out)["max_score"]) == (0, 1)
    empty = FIXTURES / "files" / "side-effects.ipynb"
    out, err = cli(capsys, "grade", str(empty), "--source", str(empty), "--json")
    assert json.loads(out) == {"score": 0, "max_score": 0, "tasks": [], "needs_manual": False}
    [line] = err.strip().splitlines()
    assert line == (f"workbench: warning: {empty}: the source has no graded cells (metadata.nbgrader.grade): "
                    "graded 0 of 0, as nbgrader does")


def test_autotest_directives_are_refused_not_passed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """nbgrader expands `### AUTOTEST` lines when it generates the assignment; to Python they are
    comments, so a test cell of them would pass whatever the student wrote. Importing one says so."""
    source = tmp_path / "nbgrader" / "source" / "ps1"
    source.mkdir(parents=True)
    shutil.copyfile(FIXTURES / "files" / "autotest-simple.ipynb", source / "p1.ipynb")
    capsys.readouterr()
    assert main(["import", "nbgrader", str(tmp_path / "nbgrader"), "--out", str(tmp_path / "course")]) == 2
    err = capsys.readouterr().err
    assert "p1.ipynb: cell 3: nbgrader's ### AUTOTEST directives are not supported" in err, err
