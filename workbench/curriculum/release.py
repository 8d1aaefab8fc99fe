"""Release: turn an instructor's source notebook into the student version.

One transformation per step, as nbgrader's preprocessors do: strip solutions, remove hidden
tests, lock read-only cells, clear outputs.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import NotebookNode

from workbench.curriculum import cells


def strip_solutions(nb: NotebookNode) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code":
            if cells.SOLUTION_BEGIN in cell.source:
                cell.source = cells.replace_regions(
                    cell.source, cells.SOLUTION_BEGIN, cells.SOLUTION_END, cells.CODE_STUB
                )
            elif cells.is_solution(cell):
                cell.source = cells.CODE_STUB
        elif cells.is_solution(cell):
            cell.source = cells.ANSWER_STUB


def remove_hidden_tests(nb: NotebookNode) -> None:
    for cell in nb.cells:
        if cells.HIDDEN_BEGIN in cell.source:
            cell.source = cells.replace_regions(cell.source, cells.HIDDEN_BEGIN, cells.HIDDEN_END, None)


def lock_cells(nb: NotebookNode) -> None:
    for cell in nb.cells:
        if cells.is_locked(cell):
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False


def clear_outputs(nb: NotebookNode) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None


def student_version(source: Path) -> NotebookNode:
    nb = nbformat.read(source, as_version=4)
    for step in (strip_solutions, remove_hidden_tests, lock_cells, clear_outputs):
        step(nb)
    return nb


CHECK_MARKER = "# workbench: check"
CHECK_STUB = "# Checked by the grader outside your kernel (workbench check); nothing to run here."


def hide_checks(nb: NotebookNode) -> None:
    """Native check cells run in the grader only; students see that the cell exists, not its code."""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.lstrip().startswith(CHECK_MARKER):
            cell.source = CHECK_STUB


def grade_id_problems(nb: NotebookNode, path: Path) -> list[str]:
    """Every graded, solution, locked or task cell needs a grade_id, unique in its notebook."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells, start=1):
        meta = cells.nbgrader_meta(cell)
        if not meta:
            continue
        needs = cells.is_graded(cell) or cells.is_solution(cell) or meta.get("locked") or meta.get("task")
        gid = cells.grade_id(cell)
        if needs and gid is None:
            problems.append(f"{path}: cell {index} has nbgrader metadata but no grade_id; give it a unique one")
        elif gid is not None:
            if gid in seen:
                problems.append(f"{path}: cell {index} repeats grade_id '{gid}' of cell {seen[gid]}; "
                                "grade ids must be unique")
            seen.setdefault(gid, index)
        if cells.is_graded(cell) and "points" not in meta and not cells.is_solution(cell):
            problems.append(f"{path}: graded cell {index} ('{gid}') has no points")
        trouble = cells.unbalanced_markers(cell.source)
        if trouble:
            problems.append(f"{path}: cell {index}: {trouble}")
    return problems


def release_notebook(source: Path) -> NotebookNode:
    """The student version of one source notebook, with check cells hidden too."""
    nb = student_version(source)
    hide_checks(nb)
    return nb
