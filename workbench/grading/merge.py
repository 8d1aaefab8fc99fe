"""Source + submission → the list of steps to run, with everything trusted taken from the source.

Tests, points and grade ids come from the source only. The submission contributes the student's
own cells; a cell claiming a test's grade id is replaced by the source's test (so edited tests and
points earn nothing), a deleted test is re-inserted after the graded cell that preceded it in the
source, and a missing or duplicated answer cell is reported and its tests score zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from workbench.curriculum import cells
from workbench.errors import WorkbenchError

CHECK_MARKER = cells.CHECK_MARKER


class GradingInputError(WorkbenchError):
    """A submission or source cannot be graded (not JSON, not a notebook, a graded cell without an id)."""


@dataclass
class Task:
    """One graded item of the source: kind is test (assert cell), check (judged by the grader),
    or manual (graded answer or task cell, reviewed by a person)."""

    id: str
    kind: str
    max_points: float
    hidden: bool = False
    answer: str | None = None  # grade id of the answer cell this test depends on


@dataclass
class Step:
    """One cell to execute (or, for checks, to judge in the grader process)."""

    code: str
    role: str  # student, test, check, locked
    grade_id: str | None = None
    cell: int = 0  # 1-based position in the submission (0: a source cell the submission lacked), for messages


@dataclass
class Plan:
    tasks: list[Task]
    steps: list[Step]
    problems: dict[str, str] = field(default_factory=dict)  # grade id -> why it scores zero


def read_notebook(path: Path, what: str) -> NotebookNode:
    """Read a notebook or raise one clear line naming the file and the problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
    except OSError as exc:
        raise GradingInputError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GradingInputError(f"{path}: the {what} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise GradingInputError(f"{path}: the {what} is not a Jupyter notebook (no 'cells' list)")
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for malformed documents
        raise GradingInputError(f"{path}: the {what} is not a valid notebook ({exc})") from None


is_check = cells.is_check


NO_GRADED_CELLS = "the source has no graded cells (metadata.nbgrader.grade): graded 0 of 0, as nbgrader does"


def source_tasks(source: NotebookNode, path: Path) -> list[Task]:
    """The graded items of a source notebook, in order. A source without any is graded 0 of 0, as
    nbgrader grades it (its cells still run, for their outputs); ``grade_notebook`` warns about it."""
    tasks: list[Task] = []
    answer: str | None = None
    for cell in source.cells:
        gid = cells.grade_id(cell)
        meta = cells.nbgrader_meta(cell)
        if cells.is_solution(cell) and gid:
            answer = gid
        if meta.get("task"):
            tasks.append(Task(gid or f"task-{len(tasks) + 1}", "manual", float(meta.get("points", 0) or 0)))
        elif cells.is_graded(cell):
            if not gid:
                raise GradingInputError(f"{path}: a graded cell has no grade_id; run `workbench release` to check")
            if cells.is_solution(cell) or cell.cell_type != "code":
                tasks.append(Task(gid, "manual", cells.points(cell)))
            else:
                tasks.append(Task(gid, "check" if is_check(cell) else "test", cells.points(cell),
                                  hidden=cells.HIDDEN_BEGIN in cell.source, answer=answer))
    ids = [t.id for t in tasks]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise GradingInputError(f"{path}: grade_id {', '.join(dupes)} is used more than once in the source")
    return tasks


def make_plan(source: NotebookNode, submission: NotebookNode, source_path: Path) -> Plan:
    tasks = source_tasks(source, source_path)
    by_id: dict[str, NotebookNode] = {}
    for cell in source.cells:
        gid = cells.grade_id(cell)
        if gid:
            by_id[gid] = cell
    order = list(by_id)
    counts: dict[str, int] = {}
    for cell in submission.cells:
        sub_gid = cells.grade_id(cell)
        if sub_gid is not None and sub_gid in by_id:
            counts[sub_gid] = counts.get(sub_gid, 0) + 1
    problems: dict[str, str] = {}
    for gid, cell in by_id.items():
        if cells.is_solution(cell):
            if counts.get(gid, 0) == 0:
                problems[gid] = f"answer cell '{gid}' is missing from the submission"
            elif counts[gid] > 1:
                problems[gid] = f"answer cell '{gid}' appears {counts[gid]} times in the submission"

    steps: list[Step] = []
    emitted: set[str] = set()
    for position, cell in enumerate(submission.cells, 1):
        gid = cells.grade_id(cell)
        src = by_id.get(gid) if gid else None
        if src is None:
            if cell.cell_type == "code":
                steps.append(Step(cell.source, "student", cell=position))
            continue
        assert gid is not None
        if gid in emitted or gid in problems:
            continue
        emitted.add(gid)
        steps.append(_trusted_step(src, gid, student=cell))
        steps[-1].cell = position

    for index, gid in enumerate(order):
        if gid in emitted or gid in problems or cells.is_solution(by_id[gid]):
            continue
        src = by_id[gid]
        if src.cell_type != "code":
            continue
        before = [g for g in order[:index] if g in emitted]
        position = 0
        if before:
            position = max(i for i, s in enumerate(steps) if s.grade_id == before[-1]) + 1
        steps.insert(position, _trusted_step(src, gid, student=None))
        emitted.add(gid)
    return Plan(tasks, [s for s in steps if s.code.strip()], problems)


def _trusted_step(src: NotebookNode, gid: str, student: NotebookNode | None) -> Step:
    """The step for a cell the source owns: its test or locked code, or the student's answer."""
    if cells.is_solution(src):
        code = student.source if student is not None and student.cell_type == "code" else ""
        return Step(code if src.cell_type == "code" else "", "student", gid)
    if src.cell_type != "code":
        return Step("", "locked", gid)
    if cells.is_graded(src):
        return Step(src.source, "check" if is_check(src) else "test", gid)
    return Step(src.source, "locked", gid)
