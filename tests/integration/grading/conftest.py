"""A small source notebook with assert tests (one with hidden tests), a native check and a manual
answer, plus a helper that builds submissions from it with one cell changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SECRET = "HIDDEN-MARKER-7781"


def meta(gid: str, grade: bool = False, solution: bool = False, points: float = 0, locked: bool = False) -> dict:
    return {"nbgrader": {"grade": grade, "solution": solution, "locked": locked, "grade_id": gid,
                         "points": points, "schema_version": 3}}


def source_notebook() -> nbformat.NotebookNode:
    return new_notebook(cells=[
        new_code_cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
                      metadata=meta("add", solution=True)),
        new_code_cell("assert add(1, 2) == 3\n### BEGIN HIDDEN TESTS\n"
                      f"assert add(40, 2) == 42  # {SECRET}\n### END HIDDEN TESTS",
                      metadata=meta("test_add", grade=True, points=2)),
        new_code_cell("def mul(a, b):\n    ### BEGIN SOLUTION\n    return a * b\n    ### END SOLUTION",
                      metadata=meta("mul", solution=True)),
        new_code_cell("assert mul(2, 3) == 6", metadata=meta("test_mul", grade=True, points=3)),
        new_code_cell("# workbench: check\ndef check(student):\n"
                      "    got = [student.call('mul', a, 7) for a in (6, 3)]\n"
                      "    assert type(got[0]) is int, 'mul must return an int'\n"
                      "    return (got[0] == 42) * 0.5 + (got[1] == 21) * 0.5\n",
                      metadata=meta("check_mul", grade=True, points=2)),
        new_markdown_cell("Explain.", metadata=meta("essay", grade=True, solution=True, points=1)),
    ])


@pytest.fixture
def source_path(tmp_path: Path) -> Path:
    path = tmp_path / "source" / "lab.ipynb"
    path.parent.mkdir()
    nbformat.write(source_notebook(), path)
    return path


@pytest.fixture
def make_submission(tmp_path: Path) -> Callable[..., Path]:
    """Student version with answers filled in; ``replace`` maps grade id -> new source (None deletes)."""
    counter = iter(range(1000))

    def make(replace: dict[str, str | None] | None = None, extra: list[str] | None = None) -> Path:
        nb = source_notebook()
        nb.cells[1].source = "assert add(1, 2) == 3"
        nb.cells[4].source = "# Checked by the grader"
        kept = []
        for cell in nb.cells:
            gid = cell.metadata["nbgrader"]["grade_id"]
            if replace and gid in replace:
                if replace[gid] is None:
                    continue
                cell.source = replace[gid]
            kept.append(cell)
        nb.cells = [new_code_cell(code) for code in (extra or [])] + kept
        path = tmp_path / f"submission{next(counter)}" / "lab.ipynb"
        path.parent.mkdir()
        nbformat.write(nb, path)
        return path

    return make
