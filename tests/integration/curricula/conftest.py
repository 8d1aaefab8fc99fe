"""Shared helpers for the ai-compute-foundations lab tests: grade, release, grade wrong answers, execute.

Each lab runs on both frameworks in two executions: the reference's graded run is the torch one
(the sandbox clears the environment, so ``FRAMEWORK`` is unset and defaults to torch), and an
nbclient run sets ``FRAMEWORK=mindspore``; comparison cells run both frameworks in either.

Grading goes through ``grade_notebook`` (what ``workbench grade`` calls) with the course's data
mounted at ./data, as the course is graded.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from workbench.curriculum.loader import load_course
from workbench.curriculum.release import student_version
from workbench.grading.grade import GradeResult, grade_notebook
from workbench.grading.sandbox import Limits

COURSE = Path(__file__).resolve().parents[3] / "curricula" / "ai-compute-foundations"
DATA = COURSE / "data"


def limits(lab: str) -> Limits:
    """The lab's grading limits from course.yaml, as ``workbench grade`` and autograde apply them."""
    return Limits.for_lab(next(entry for entry in load_course(COURSE).labs if entry.id == lab).grading)


def source(lab: str) -> Path:
    return COURSE / "labs" / lab / "source.ipynb"


def grade(submission: nbformat.NotebookNode, lab: str, tmp_path: Path, name: str = "submission") -> GradeResult:
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(submission, path)
    start = time.monotonic()
    result = grade_notebook(path, source(lab), limits=limits(lab), data_dir=DATA)
    print(f"graded {lab}/{name} in {time.monotonic() - start:.1f} s: {result.score}/{result.max_score}")
    for task in result.tasks:
        print(f"  {task.id:28} {task.points:g}/{task.max_points:g} {task.status} {task.message}")
    return result


def reference(lab: str) -> nbformat.NotebookNode:
    return nbformat.read(source(lab), as_version=4)


def template(lab: str) -> nbformat.NotebookNode:
    return student_version(source(lab))


def with_answer(lab: str, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The released template with the given solution cells (by grade id) filled in; others from the reference."""
    ref = {c.metadata["nbgrader"]["grade_id"]: c.source for c in reference(lab).cells
           if c.metadata.get("nbgrader", {}).get("solution")}
    nb = template(lab)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and gid in ref:
            cell.source = answers.get(gid, ref[gid])
    return nb


def by_id(result: GradeResult) -> dict[str, Any]:
    return {t.id: t for t in result.tasks}


def execute(lab: str, framework: str, tmp_path: Path, timeout: int = 300) -> tuple[nbformat.NotebookNode, float]:
    """Run the reference notebook top to bottom in a real kernel with FRAMEWORK set; return it and its time."""
    from nbclient import NotebookClient

    nb = reference(lab)
    env = {**os.environ, "FRAMEWORK": framework, "WORKBENCH_DATA": str(DATA), "MPLBACKEND": "agg"}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    start = time.monotonic()
    client.execute(env=env)
    return nb, time.monotonic() - start


def typical_mistake(lab: str, answers: dict[str, str], failing: dict[str, str], passing: tuple[str, ...],
                    tmp_path: Path, name: str) -> GradeResult:
    """Grade one typical wrong answer: the template with ``answers`` filled in (the rest from the
    reference) must score strictly between 0 and full marks, each task in ``failing`` must fail with
    a message containing its text (what the student reads), and the tasks in ``passing`` must pass."""
    return check_mistake(grade(with_answer(lab, answers), lab, tmp_path, name), failing, passing, name)


def check_mistake(result: GradeResult, failing: dict[str, str], passing: tuple[str, ...], name: str) -> GradeResult:
    """``typical_mistake``'s checks on a wrong answer already graded."""
    tasks = by_id(result)
    assert 0 < result.score < result.max_score, f"{name}: {result.score}/{result.max_score}"
    for task_id, text in failing.items():
        assert tasks[task_id].status != "passed" and text in tasks[task_id].message, (task_id, tasks[task_id])
    for task_id in passing:
        assert tasks[task_id].status == "passed", (task_id, tasks[task_id])
    return result


def graded_stdout(result: GradeResult, grade_id: str) -> str:
    """What a (visible) cell printed during grading: the reference's graded run is its torch execution."""
    return "".join(o["stdout"] for o in result.outputs if o["grade_id"] == grade_id)


def outputs_text(nb: nbformat.NotebookNode, grade_id: str) -> str:
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "".join(o.get("text", "") for o in cell.get("outputs", []))




class Helpers:
    """The helpers above as a fixture: with ``--import-mode=importlib`` test modules cannot import conftest."""

    course, data = COURSE, DATA
    source, grade, reference, template = staticmethod(source), staticmethod(grade), staticmethod(reference), \
        staticmethod(template)
    with_answer, by_id, execute, outputs_text = staticmethod(with_answer), staticmethod(by_id), \
        staticmethod(execute), staticmethod(outputs_text)
    graded_stdout, typical_mistake = staticmethod(graded_stdout), staticmethod(typical_mistake)
    check_mistake = staticmethod(check_mistake)


@pytest.fixture(scope="session")
def labs() -> Helpers:
    return Helpers()
