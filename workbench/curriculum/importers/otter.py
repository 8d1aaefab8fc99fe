"""Import an otter-grader (Otter Assign v1 format) notebook into our nbgrader-schema format.

Otter's delimiters are raw cells holding YAML under a first-line comment: ``# ASSIGNMENT CONFIG``
(dropped), ``# BEGIN QUESTION`` (name, points, manual) ... ``# END QUESTION``, and
``# BEGIN TESTS`` ... ``# END TESTS`` around test cells, one test case per cell (``# HIDDEN`` first
line, or a triple-quoted ``# BEGIN TEST CONFIG`` string with hidden/points/failure_message).

Mapping, and why:
- the solution cell becomes an answer cell (``solution``, grade id = question name); otter's
  ``# BEGIN SOLUTION``/``# END SOLUTION`` become ours, and a line ending in ``# SOLUTION`` becomes a
  one-line solution region (the student sees our stub instead of otter's ``...``);
- each test case becomes its own graded cell (``<name>_test<i>``), so otter's per-test points and
  partial credit survive; a hidden case's code sits between our hidden-test markers;
- otter judges a test by comparing the cell's output with the master notebook's; when the master
  has that output (``execute_result``), the converted cell asserts that the last expression's
  ``repr`` equals it, otherwise it passes when the cell runs without error;
- a manual question's solution cell becomes a graded answer cell worth the question's points.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import yaml
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from workbench.curriculum import cells
from workbench.curriculum.importers.common import ImportedLab, ImportError_, read_notebook, slug

TEST_CONFIG = re.compile(r'^\s*("""|\'\'\')\s*#\s*BEGIN TEST CONFIG\s*\n(.*?)\n\s*\1\s*#\s*END TEST CONFIG\s*\n?',
                         re.DOTALL)
OTTER_LINES = re.compile(r"^\s*(import otter|grader\s*=\s*otter\.|grader\.(check|export|check_all)\()")


def _marker(cell: NotebookNode) -> tuple[str, dict[str, Any]] | None:
    """(kind, YAML config) for an otter boundary cell, else None."""
    if cell.cell_type != "raw":
        return None
    first, _, rest = cell.source.strip().partition("\n")
    kind = first.strip().lstrip("#").strip().upper()
    if kind not in ("ASSIGNMENT CONFIG", "BEGIN QUESTION", "END QUESTION", "BEGIN TESTS", "END TESTS",
                    "BEGIN SOLUTION", "END SOLUTION", "BEGIN PROMPT", "END PROMPT"):
        return None
    try:
        config = yaml.safe_load(rest) or {}
    except yaml.YAMLError as exc:
        raise ImportError_(f"the '# {kind}' cell is not valid YAML ({exc}); fix it in the otter notebook") from None
    return kind, config if isinstance(config, dict) else {}


def _solution(source: str) -> str:
    out = []
    for line in source.splitlines():
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if re.match(r"#\s*BEGIN SOLUTION", stripped):
            out.append(indent + cells.SOLUTION_BEGIN)
        elif re.match(r"#\s*END SOLUTION", stripped):
            out.append(indent + cells.SOLUTION_END)
        elif re.search(r"#\s*(SOLUTION|SOLUTION NO PROMPT|SEED)\s*$", line):
            code = re.sub(r"\s*#\s*(SOLUTION|SOLUTION NO PROMPT|SEED)\s*$", "", line)
            out += [indent + cells.SOLUTION_BEGIN, code, indent + cells.SOLUTION_END]
        elif not OTTER_LINES.match(line):
            out.append(line)
    return "\n".join(out)


def _expected(cell: NotebookNode) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "execute_result":
            text = output.get("data", {}).get("text/plain")
            return "".join(text) if isinstance(text, list) else text
    return None


def _test_case(cell: NotebookNode, label: str) -> tuple[str, dict[str, Any]]:
    """(our assert-style code, config) for one otter test cell."""
    source, config = cell.source, dict[str, Any]()
    match = TEST_CONFIG.match(source)
    if match:
        config = yaml.safe_load(match.group(2)) or {}
        source = source[match.end():]
    lines = source.strip("\n").splitlines()
    if lines and lines[0].strip().upper() == "# HIDDEN":
        config["hidden"] = True
        lines = lines[1:]
    code = "\n".join(lines)
    expected = _expected(cell)
    message = str(config.get("failure_message") or f"{label} failed")
    try:
        tree = ast.parse(code)
    except SyntaxError:
        tree = None
    if expected is not None and tree is not None and tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body[-1]
        head = "\n".join(lines[: last.lineno - 1])
        expr = "\n".join(lines[last.lineno - 1:])
        code = (f"{head}\n" if head else "") + f"_otter_value = ({expr})\n" \
            f"assert repr(_otter_value) == {expected!r}, {message!r}"
    return code, config


def _points(question: dict[str, Any], configs: list[dict[str, Any]]) -> list[float]:
    """Otter's rules: stated test points count; the rest share what the question has left (default 1)."""
    stated = [c.get("points") for c in configs]
    total = question.get("points")
    if all(p is None for p in stated):
        share = float(total if total is not None else 1) / max(len(configs), 1)
        return [share] * len(configs)
    if total is None:
        return [float(p or 0) for p in stated]
    missing = sum(1 for p in stated if p is None)
    rest = (float(total) - sum(float(p) for p in stated if p is not None)) / missing if missing else 0.0
    return [float(p) if p is not None else rest for p in stated]


def _meta(gid: str, **flags: Any) -> dict[str, Any]:
    return {"nbgrader": {"grade_id": gid, "schema_version": 3, "grade": False, "solution": False,
                         "locked": False, **flags}}


def convert(nb: NotebookNode) -> NotebookNode:
    out: list[NotebookNode] = []
    question: dict[str, Any] | None = None
    tests: list[NotebookNode] | None = None
    solved = False
    for cell in nb.cells:
        marker = _marker(cell)
        kind = marker[0] if marker else None
        if kind == "ASSIGNMENT CONFIG" or kind in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN PROMPT", "END PROMPT"):
            continue
        if kind == "BEGIN QUESTION":
            if question is not None or tests is not None:
                open_name = (question or {}).get("name", "?")
                raise ImportError_(f"question '{open_name}' is not closed before the next '# BEGIN QUESTION'; "
                                   "add its '# END TESTS' / '# END QUESTION' cells")
            question, solved = marker[1] if marker else {}, False
            if not question.get("name"):
                raise ImportError_("a '# BEGIN QUESTION' cell has no name; add 'name: q1' to it")
            continue
        if kind == "END QUESTION":
            question = None
            continue
        if kind == "BEGIN TESTS":
            if question is None or tests is not None:
                raise ImportError_("'# BEGIN TESTS' outside a question or inside other tests; "
                                   "put each question's tests between '# BEGIN TESTS' and '# END TESTS'")
            tests = []
            continue
        if kind == "END TESTS":
            if question is None or tests is None:
                raise ImportError_("'# END TESTS' outside a question; put tests inside BEGIN/END QUESTION")
            name = slug(str(question["name"]))
            converted = [_test_case(t, f"{name} test {i + 1}") for i, t in enumerate(tests)]
            for i, ((code, config), points) in enumerate(zip(converted, _points(question, [c for _, c in converted]),
                                                             strict=True)):
                if config.get("hidden"):
                    code = f"{cells.HIDDEN_BEGIN}\n{code}\n{cells.HIDDEN_END}"
                out.append(new_code_cell(code, metadata=_meta(f"{name}_test{i + 1}", grade=True, points=points)))
            tests = None
            continue
        if tests is not None:
            if cell.cell_type == "code":
                tests.append(cell)
            continue
        if question is not None and not solved and cell.cell_type == "code":
            solved = True
            manual = bool(question.get("manual"))
            flags: dict[str, Any] = {"solution": True}
            if manual:
                flags.update(grade=True, points=float(question.get("points", 1) or 0))
            out.append(new_code_cell(_solution(cell.source), metadata=_meta(slug(str(question["name"])), **flags)))
            continue
        if question is not None and not solved and question.get("manual") and cell.cell_type == "markdown" \
                and re.search(r"^\s*(\*\*|<strong>)solution:?(\*\*|</strong>)", cell.source, re.I | re.M):
            solved = True
            out.append(new_markdown_cell(cell.source, metadata=_meta(
                slug(str(question["name"])), solution=True, grade=True, points=float(question.get("points", 1) or 0))))
            continue
        if cell.cell_type == "code":
            code = "\n".join(line for line in cell.source.splitlines() if not OTTER_LINES.match(line))
            if code.strip():
                out.append(new_code_cell(code))
        elif cell.cell_type == "markdown":
            out.append(new_markdown_cell(cell.source))
    if tests is not None or question is not None:
        raise ImportError_("a question or its tests are never closed; add the '# END TESTS' / '# END QUESTION' cell")
    result = new_notebook(cells=out, metadata=nb.get("metadata", {}))
    return result


def read(path: Path) -> list[ImportedLab]:
    if not path.exists():
        raise ImportError_(f"{path}: no such file or folder")
    notebooks = sorted(p for p in path.glob("*.ipynb")) if path.is_dir() else [path]
    if not notebooks:
        raise ImportError_(f"{path}: no otter notebooks (*.ipynb) here")
    labs = []
    for notebook in notebooks:
        try:
            converted = convert(read_notebook(notebook))
        except ImportError_ as exc:
            raise ImportError_(f"{notebook}: {exc.message}") from None
        labs.append(ImportedLab(slug(notebook.stem), notebook.stem, converted, notebook.name))
    return labs
