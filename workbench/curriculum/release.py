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
    """Solutions become stubs: the cell's own ``metadata.workbench.stub`` if it has one, else the
    default for its type. A code cell's own stub takes the place of its first solution region and
    the later regions go, so students see the stub once, with the code around the regions kept;
    a solution cell without regions, and a markdown solution cell, become the stub entirely. The
    stub leaves the metadata once used: students see it in the cell, once, not again in the file."""
    for cell in nb.cells:
        own = cells.stub(cell)
        cells.drop_stub(cell)
        if cell.cell_type == "code":
            if cells.SOLUTION_BEGIN in cell.source:
                cell.source = cells.replace_regions(cell.source, cells.SOLUTION_BEGIN, cells.SOLUTION_END,
                                                    cells.CODE_STUB if own is None else own, once=own is not None)
            elif cells.is_solution(cell):
                cell.source = cells.CODE_STUB if own is None else own
        elif cells.is_solution(cell):
            cell.source = cells.ANSWER_STUB if own is None else own


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


def hide_checks(nb: NotebookNode) -> None:
    """Native check cells run in the grader only; students see that the cell exists, not its code."""
    for cell in nb.cells:
        if cells.is_check(cell):
            cell.source = cells.CHECK_STUB


def student_version(source: Path) -> NotebookNode:
    """What a student may see: used by ``workbench release`` and the server's "open lab" alike, so
    neither can leak solutions, hidden tests or native-check code."""
    nb = nbformat.read(source, as_version=4)
    for step in (strip_solutions, remove_hidden_tests, hide_checks, lock_cells, clear_outputs):
        step(nb)
    return nb


def grade_id_problems(nb: NotebookNode, path: Path) -> list[str]:
    """Every problem of ``cells.notebook_problems`` as one line naming the file and the cell."""
    return [f"{path}: cell {index}: {message}" for index, message in cells.notebook_problems(nb)[0]]


release_notebook = student_version
