"""nbgrader-compatible cell metadata and source markers, shared by validation, release and grading.

The schema is nbgrader's (``metadata.nbgrader``: grade, solution, locked, points, grade_id,
schema_version, task) so nbgrader assignments work unchanged. Our one addition lives in
``metadata.workbench``, where nbgrader never looks: ``stub``, a solution cell's own student text
(otter's prompts import as stubs).
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
CHECK_MARKER = "# workbench: check"
CHECK_STUB = "# Checked by the grader outside your kernel (workbench check); nothing to run here."


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


def stub(cell: NotebookNode) -> str | None:
    """What students see in place of this cell's solution (``metadata.workbench.stub``), or None for
    the default stub; a non-string stub counts as none here and is reported by ``notebook_problems``."""
    meta = cell.get("metadata", {}).get("workbench", {})
    value = meta.get("stub") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


def drop_stub(cell: NotebookNode) -> None:
    """Remove ``metadata.workbench.stub`` (and ``metadata.workbench`` if nothing else is left)."""
    meta = cell.get("metadata", {}).get("workbench")
    if isinstance(meta, dict) and "stub" in meta:
        del meta["stub"]
        if not meta:
            del cell.metadata["workbench"]


def stub_problem(cell: NotebookNode) -> str | None:
    """Why the cell's ``metadata.workbench.stub`` cannot work, or None (also when it has none)."""
    meta = cell.get("metadata", {}).get("workbench", {})
    if not isinstance(meta, dict) or "stub" not in meta:
        return None
    name = f"cell '{grade_id(cell)}'" if grade_id(cell) else "this cell"
    if not isinstance(meta["stub"], str):
        return (f"metadata.workbench.stub of {name} must be a string (the text students see in place of "
                f"the solution), not {type(meta['stub']).__name__} {meta['stub']!r}")
    if not is_solution(cell) and not (cell.cell_type == "code" and SOLUTION_BEGIN in cell.source):
        return (f"{name} has metadata.workbench.stub but no solution to replace; set "
                f"metadata.nbgrader.solution or add '{SOLUTION_BEGIN}' / '{SOLUTION_END}', or remove the stub")
    return None


def is_check(cell: NotebookNode) -> bool:
    """A native check cell: judged in the grader process, never shown to or run by the student."""
    return cell.cell_type == "code" and cell.source.lstrip().startswith(CHECK_MARKER)


AUTOTEST = ("### AUTOTEST", "### HASHED AUTOTEST")  # nbgrader's generate-time test directives


def notebook_problems(nb: NotebookNode) -> tuple[list[tuple[int, str]], float]:
    """Grade-id, points, marker and stub problems of a source notebook as (1-based cell, message), and its
    total points. One function so the course loader and ``workbench release`` can never disagree."""
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    total = 0.0
    for index, cell in enumerate(nb.cells, start=1):
        meta = nbgrader_meta(cell)
        gid = grade_id(cell)
        if (meta.get("grade") or meta.get("solution") or meta.get("locked") or meta.get("task")) and gid is None:
            problems.append((index, "graded/solution/locked cell has no grade_id; set "
                                    "metadata.nbgrader.grade_id to a unique name"))
        if gid is not None:
            if gid in seen:
                problems.append((index, f"grade_id '{gid}' is already used by cell {seen[gid]}; "
                                        "grade ids must be unique"))
            seen.setdefault(gid, index)
        if meta.get("grade") or meta.get("task"):  # nbgrader task cells carry points too
            raw = meta.get("points", 0)
            if "points" not in meta and not meta.get("solution"):
                problems.append((index, f"graded or task cell '{gid}' has no points; set metadata.nbgrader.points"))
            elif not isinstance(raw, (int, float)) or isinstance(raw, bool) or raw < 0:
                problems.append((index, f"points must be a number ≥ 0, not {raw!r}"))
            else:
                total += float(raw)
        if (marker := unbalanced_markers(cell.source)) is not None:
            problems.append((index, marker))
        if (bad_stub := stub_problem(cell)) is not None:
            problems.append((index, bad_stub))
        if cell.cell_type == "code" and any(line.lstrip().startswith(AUTOTEST) for line in cell.source.splitlines()):
            # a comment to Python: the test would pass whatever the student wrote
            problems.append((index, "nbgrader's ### AUTOTEST directives are not supported (they would pass as "
                                    "comments); write the asserts they stand for, or import the source that "
                                    "`nbgrader generate_assignment` expanded them into"))
    return problems, total


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


def replace_regions(source: str, begin: str, end: str, stub: str | None, *, once: bool = False) -> str:
    """Replace each begin..end region (markers included) with ``stub`` at the region's indent; with
    ``once``, only the first region gets the stub and the later ones are removed (a cell's own stub
    is one text for the whole cell, so repeating it would show it twice)."""
    out: list[str] = []
    inside = False
    regions = 0
    for line in source.splitlines():
        stripped = line.strip()
        if not inside and stripped.startswith(begin):
            inside = True
            regions += 1
            if stub is not None and not (once and regions > 1):
                indent = line[: len(line) - len(line.lstrip())]
                out.extend(indent + stub_line for stub_line in stub.splitlines())
        elif inside and stripped.startswith(end):
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)
