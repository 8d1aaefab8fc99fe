"""The nbgrader parity cases: nbgrader's own test fixtures (``fixtures/nbgrader/``), laid out as
nbgrader's autograde tests lay them out, so our grader and nbgrader grade exactly the same class.

Standard library only: ``fixtures/nbgrader/regenerate.py`` imports this module from nbgrader's own
virtual environment to re-measure nbgrader's scores, and ``test_nbgrader_parity.py`` builds the same
layout for ``workbench``. Each case is one assignment ``ps1`` with one notebook ``p1.ipynb``
(``source/ps1/p1.ipynb`` plus the files released beside it; ``submitted/<student>/ps1/p1.ipynb`` plus
the files the student handed in beside it), as in nbgrader's ``tests/apps/test_nbgrader_autograde.py``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "nbgrader"
ASSIGNMENT, NOTEBOOK = "ps1", "p1.ipynb"


@dataclass(frozen=True)
class Student:
    name: str
    notebook: str  # a path under FIXTURES
    files: tuple[str, ...] = ()  # handed in beside the notebook (paths under FIXTURES, kept by name)


@dataclass(frozen=True)
class Case:
    name: str
    source: str  # a path under FIXTURES
    students: tuple[Student, ...]
    source_files: tuple[str, ...] = ()  # released beside the source notebook
    timeout: float | None = None  # per-cell time limit for both graders (nbgrader: ExecutePreprocessor.timeout)
    nbgrader_config: str = ""  # extra lines of nbgrader_config.py (how the fixture's own test configures it)
    why: str = ""


CASES: tuple[Case, ...] = (
    Case("submitted", "files/submitted-unchanged.ipynb", (
        Student("unchanged", "files/submitted-unchanged.ipynb"),
        Student("changed", "files/submitted-changed.ipynb"),
        Student("cheat", "files/submitted-cheat-attempt.ipynb"),
        Student("cheat-alt", "files/submitted-cheat-attempt-alternative.ipynb"),
        Student("grade-cell-changed", "files/submitted-grade-cell-changed.ipynb"),
        Student("locked-cell-changed", "files/submitted-locked-cell-changed.ipynb"),
    ), why="test_grade, test_grade_cheat_attempt: edited tests and a silenced traceback earn nothing"),
    Case("test", "files/test.ipynb", (
        Student("solution", "files/test.ipynb"),
        Student("with-output", "files/test-with-output.ipynb"),
        Student("released", "generated/test-release.ipynb"),
    ), why="the problem-set notebook: its solution, a copy saved with outputs, the untouched release"),
    Case("hidden-tests", "files/test-hidden-tests.ipynb", (
        Student("foo", "generated/test-hidden-tests-release.ipynb"),
    ), nbgrader_config='c.ClearSolutions.code_stub = dict(python="# YOUR CODE HERE")',
        why="test_hidden_tests_single_notebook: passes the visible tests, fails the hidden ones (1.5)"),
    Case("relative-file", "files/open_relative_file.ipynb", (
        Student("foo", "files/open_relative_file.ipynb"),
    ), source_files=("files/data.txt",), why="a test reads data.txt, released beside the notebook"),
    Case("relative-file-submitted", "files/open_relative_file.ipynb", (
        Student("foo", "files/open_relative_file.ipynb", files=("files/data.txt",)),
        Student("bar", "files/open_relative_file.ipynb"),
    ), why="data.txt handed in beside the notebook by one student, not by the other"),
    Case("environment-variable", "files/validating-environment-variable.ipynb", (
        Student("foo", "files/validating-environment-variable.ipynb"),
    ), why="test_grade_with_validating_envvar: NBGRADER_EXECUTION is set while grading"),
    Case("side-effects", "files/side-effects.ipynb", (
        Student("foo", "files/side-effects.ipynb"),
    ), why="test_side_effects: no graded cells, 0 of 0; the cell writes a file in the working directory"),
    Case("zero-points", "files/validation-zero-points.ipynb", (
        Student("foo", "files/validation-zero-points.ipynb"),
    ), why="a failing test worth 0 points"),
    Case("infinite-loop", "files/infinite-loop.ipynb", (
        Student("foo", "files/infinite-loop.ipynb"),
    ), timeout=2, why="test_permissions: an endless loop, no graded cells"),
    Case("timeout", "files/timeout.ipynb", (
        Student("foo", "files/timeout.ipynb"),
    ), why="test_autograde_timeout: a 5 s cell within the default limit"),
    Case("timeout-2s", "files/timeout.ipynb", (
        Student("bar", "files/timeout.ipynb"),
    ), timeout=2, why="test_autograde_timeout: the same cell past a 2 s limit"),
)


def build(case: Case, root: Path) -> Path:
    """Lay the case out as an nbgrader course under ``root``: ``source/ps1/`` and
    ``submitted/<student>/ps1/``; returns ``root``."""
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    shutil.copyfile(FIXTURES / case.source, source / NOTEBOOK)
    for name in case.source_files:
        shutil.copyfile(FIXTURES / name, source / Path(name).name)
    for student in case.students:
        folder = root / "submitted" / student.name / ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copyfile(FIXTURES / student.notebook, folder / NOTEBOOK)
        for name in student.files:
            shutil.copyfile(FIXTURES / name, folder / Path(name).name)
    return root
