"""nbgrader-compatible cell metadata and source markers, shared by validation, release and grading.

The schema is nbgrader's (``metadata.nbgrader``: grade, solution, locked, points, grade_id,
schema_version, task) so nbgrader assignments work unchanged.
"""

from __future__ import annotations

from typing import Any

from nbformat import NotebookNode

SOLUTION_BEGIN = "### BEGIN SOLUTION"
SOLUTION_END = "### END SOLUTION"
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
ANSWER_STUB = "YOUR ANSWER HERE"


def nbgrader_meta(cell: NotebookNode) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def is_graded(cell: NotebookNode) -> bool:
    return bool(nbgrader_meta(cell).get("grade"))


def is_solution(cell: NotebookNode) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_locked(cell: NotebookNode) -> bool:
    meta = nbgrader_meta(cell)
    return bool(meta.get("locked")) or (is_graded(cell) and not is_solution(cell))


def grade_id(cell: NotebookNode) -> str | None:
    value = nbgrader_meta(cell).get("grade_id")
    return str(value) if value not in (None, "") else None


def points(cell: NotebookNode) -> float:
    return float(nbgrader_meta(cell).get("points", 0) or 0) if is_graded(cell) else 0.0


def unbalanced_markers(source: str) -> str | None:
    """Describe the first unbalanced BEGIN/END marker pair in ``source``, or None."""
    for begin, end in ((SOLUTION_BEGIN, SOLUTION_END), (HIDDEN_BEGIN, HIDDEN_END)):
        depth = 0
        for line in source.splitlines():
            stripped = line.strip()
            if stripped.startswith(begin):
                depth += 1
                if depth > 1:
                    return f"'{begin}' opened twice without '{end}'"
            elif stripped.startswith(end):
                depth -= 1
                if depth < 0:
                    return f"'{end}' without a matching '{begin}'"
        if depth:
            return f"'{begin}' is never closed; add '{end}'"
    return None


def replace_regions(source: str, begin: str, end: str, stub: str | None) -> str:
    """Replace each begin..end region (markers included) with ``stub`` at the region's indent."""
    out: list[str] = []
    inside = False
    for line in source.splitlines():
        stripped = line.strip()
        if not inside and stripped.startswith(begin):
            inside = True
            if stub is not None:
                indent = line[: len(line) - len(line.lstrip())]
                out.extend(indent + stub_line for stub_line in stub.splitlines())
        elif inside and stripped.startswith(end):
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)
