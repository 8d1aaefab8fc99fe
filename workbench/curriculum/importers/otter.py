"""Import an otter-grader (Otter Assign v1 format) notebook into our nbgrader-schema format.

Otter's delimiters are raw cells holding YAML under a first-line comment: ``# ASSIGNMENT CONFIG``
(dropped), ``# BEGIN QUESTION`` (name, points, manual) ... ``# END QUESTION``, and inside a
question ``# BEGIN PROMPT`` ... ``# END PROMPT``, ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` and
``# BEGIN TESTS`` ... ``# END TESTS`` around test cells, one test case per cell (``# HIDDEN`` first
line, or a triple-quoted ``# BEGIN TEST CONFIG`` string with hidden/points/failure_message). The
format is otter's ``docs/otter_assign/notebook_format.rst``; ``test/test_assign/files/example.ipynb``
in ucbds-infra/otter-grader exercises every block.

Mapping, and why:
- each solution cell becomes an answer cell (``solution``, grade id = question name, then
  ``<name>_2``...); otter's in-code ``# BEGIN SOLUTION``/``# END SOLUTION`` become ours, and a line
  ending in ``# SOLUTION`` becomes a one-line solution region (the student sees our stub instead of
  otter's ``...``); what otter removes outright (``# SOLUTION NO PROMPT`` / ``# SEED`` lines,
  ``# BEGIN SOLUTION NO PROMPT`` blocks) sits inside hidden markers as well, so students see
  nothing there. A question without a ``# BEGIN SOLUTION`` block falls back to its first code
  cell, or for a manual question a markdown cell starting with ``**Solution:**``;
- a manual question's first answer cell is graded (manually) and worth the question's points, code
  or markdown, as nbgrader's manual answers are; a markdown solution between otter's raw
  ``# BEGIN/END SOLUTION`` cells is such an answer (an autograded question's markdown solution is
  hidden from students, as otter drops it, unless tagged ``otter_include``);
- a prompt (``# BEGIN PROMPT`` ... ``# END PROMPT``: what otter shows students where the solution
  is) becomes the student stub (``metadata.workbench.stub``) of the question's first solution cell
  of its type, so release shows exactly the prompt. A prompted code answer is one solution region,
  otter's in-code markers dropped, since the prompt stands in for the whole cell. A prompt without
  a solution is kept as it is, or, for a manual question with no other answer, becomes its graded
  answer (source and stub both the prompt). A solution cell with an in-code prompt (a
  triple-quoted string from a line ending ``# BEGIN PROMPT`` to one ending ``# END PROMPT``)
  gets otter's own student version of the cell as its stub (the prompt's lines in place, otter's
  ``...`` for the rest of the solution), and loses the prompt string from its solution code;
- what otter leaves out of both its outputs is left out here too: cells whose first line is
  ``# IGNORE``, lines ending in ``# IGNORE`` and ``# BEGIN IGNORE`` ... ``# END IGNORE`` blocks;
- each test case becomes its own graded cell (``<name>_test<i>``), so otter's per-test points and
  partial credit survive; a hidden case's code sits between our hidden-test markers;
- otter judges a test that prints or ends in an expression by what it shows (doctest-style: the
  printed text, then the value's display), compared with the master's. The converted cell captures
  its own printed text and asserts that it, followed by the last expression's display (IPython's
  ``pretty``, the text Jupyter shows), equals that output; where the saved master has none,
  ``read`` runs the master (``otter_master``) and uses its outputs, and a cell that ran without
  output showed nothing. With ``run=False`` (``--no-run``) such a test only checks that it runs
  without error, and the caller is warned with the tests' names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from workbench.curriculum import cells
from workbench.curriculum.importers import otter_code, otter_tests
from workbench.curriculum.importers.common import ImportedLab, ImportError_, read_notebook, slug
from workbench.curriculum.importers.otter_master import DEFAULT_TIMEOUT, run_master, without_otter_lines

SOLUTION_MARKDOWN = re.compile(r"^\s*(\*\*|<strong>)solution:?(\*\*|</strong>)", re.I | re.M)
IGNORE_CELL = re.compile(r"\A\s*#\s*IGNORE\s*(\n|\Z)", re.I)


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


def _meta(gid: str, **flags: Any) -> dict[str, Any]:
    return {"nbgrader": {"grade_id": gid, "schema_version": 3, "grade": False, "solution": False,
                         "locked": False, **flags}}


def _plain(cell: NotebookNode) -> NotebookNode | None:
    if cell.cell_type == "code":
        code = without_otter_lines(cell.source)
        return new_code_cell(code) if code.strip() else None
    if cell.cell_type == "markdown":
        return new_markdown_cell(cell.source)
    return None


class _Question:
    """The cells of one question, labelled by block, turned into ours at ``# END QUESTION``."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.name = slug(str(config["name"]))
        self.manual = bool(config.get("manual"))
        self.items: list[tuple[str, NotebookNode]] = []  # (text | prompt | solution | out, cell)
        self.had_solution_block = False

    def cells(self) -> list[NotebookNode]:
        items = self.items
        if not self.had_solution_block:  # older notebooks: the first code cell (or **Solution:** markdown)
            for index, (label, cell) in enumerate(items):
                if label == "text" and (cell.cell_type == "code" or (
                        self.manual and cell.cell_type == "markdown" and SOLUTION_MARKDOWN.search(cell.source))):
                    items = [*items[:index], ("solution", cell), *items[index + 1:]]
                    break
        pairs: dict[int, NotebookNode] = {}  # solution item index -> its prompt cell
        paired: set[int] = set()  # prompt item indexes
        for p_index, (label, prompt) in enumerate(items):
            if label != "prompt":
                continue
            for s_index, (other, solution) in enumerate(items):
                if other == "solution" and s_index not in pairs and solution.cell_type == prompt.cell_type:
                    pairs[s_index] = prompt
                    paired.add(p_index)
                    break
        has_answer = any(label == "solution" for label, _ in items)
        out: list[NotebookNode] = []
        answers = 0
        for index, (label, cell) in enumerate(items):
            if label == "out":
                out.append(cell)
            elif index in paired:
                continue  # emitted with its solution
            elif label == "solution" and cell.cell_type == "markdown" and "otter_include" in \
                    cell.metadata.get("tags", []):
                out.append(new_markdown_cell(cell.source))  # otter shows these to students as they are
            elif label == "solution" and cell.cell_type == "markdown" and not self.manual and index not in pairs:
                # otter drops an autograded question's markdown solution from the student version
                out.append(new_markdown_cell(f"{cells.HIDDEN_BEGIN}\n{cell.source}\n{cells.HIDDEN_END}"))
            elif label == "solution" and cell.cell_type in ("code", "markdown"):
                answers += 1
                out.append(self._answer(cell, pairs.get(index), answers))
            elif label == "prompt" and index not in paired and self.manual and not has_answer \
                    and cell.cell_type in ("code", "markdown"):
                has_answer, answers = True, answers + 1
                out.append(self._answer(None, cell, answers))
            elif (plain := _plain(cell)) is not None:
                out.append(plain)
        return out

    def _has_code_prompt(self, source: str) -> bool:
        try:
            return otter_code.prompt_span(source.splitlines()) is not None
        except ImportError_ as exc:
            raise ImportError_(f"question '{self.config['name']}': {exc.message}") from None

    def _answer(self, solution: NotebookNode | None, prompt: NotebookNode | None, number: int) -> NotebookNode:
        """One answer cell, whose student stub is the prompt if it has one; the first of a manual
        question is graded and carries its points."""
        gid = self.name if number == 1 else f"{self.name}_{number}"
        meta = _meta(gid, solution=True)
        if self.manual and number == 1:
            points = self.config.get("points", 1)
            if points is not None and (isinstance(points, bool) or not isinstance(points, (int, float))):
                raise ImportError_(f"manual question '{self.config['name']}' has points {points!r}; "
                                   "give it one number")
            meta["nbgrader"].update(grade=True, points=float(points or 0))
        answer = solution if solution is not None else prompt  # a prompt may be all otter has
        assert answer is not None
        if prompt is not None:
            meta["workbench"] = {"stub": prompt.source}
        elif answer.cell_type == "code" and self._has_code_prompt(answer.source):
            meta["workbench"] = {"stub": otter_code.student_view(answer.source)}
            return new_code_cell(otter_code.one_region(otter_code.without_prompts(answer.source)), metadata=meta)
        if answer.cell_type == "markdown":
            return new_markdown_cell(answer.source, metadata=meta)
        code = otter_code.solution(answer.source) if prompt is None else otter_code.one_region(answer.source)
        return new_code_cell(code, metadata=meta)


def convert(nb: NotebookNode, executed: NotebookNode | None = None) -> tuple[NotebookNode, list[str]]:
    """Our source notebook, and the ids of output-judged tests that have no output to compare with
    (they only check that they run). ``executed`` is the master after a run, cell for cell."""
    out: list[NotebookNode] = []
    question: _Question | None = None
    block: str | None = None  # PROMPT or SOLUTION inside a question
    tests: list[tuple[int, NotebookNode]] | None = None
    weak: list[str] = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type in ("code", "markdown") and IGNORE_CELL.match(cell.source):
            continue  # otter's "# IGNORE" cells are in neither of its outputs
        if cell.cell_type == "code":
            try:
                cell = NotebookNode({**cell, "source": otter_code.without_ignored(cell.source)})
            except ImportError_ as exc:
                raise ImportError_(f"cell {index + 1}: {exc.message}") from None
        marker = _marker(cell)
        kind = marker[0] if marker else None
        if kind == "ASSIGNMENT CONFIG":
            continue
        if kind == "BEGIN QUESTION":
            if question is not None or tests is not None:
                open_name = question.config.get("name", "?") if question else "?"
                raise ImportError_(f"question '{open_name}' is not closed before the next '# BEGIN QUESTION'; "
                                   "add its '# END TESTS' / '# END QUESTION' cells")
            config = marker[1] if marker else {}
            if not config.get("name"):
                raise ImportError_("a '# BEGIN QUESTION' cell has no name; add 'name: q1' to it")
            question, block = _Question(config), None
            continue
        if kind in ("BEGIN PROMPT", "BEGIN SOLUTION", "END PROMPT", "END SOLUTION"):
            what = kind.split()[1]
            if question is None or tests is not None:
                raise ImportError_(f"'# {kind}' outside a question or inside its tests; "
                                   f"put the {what.lower()} cells inside BEGIN/END QUESTION, before the tests")
            if kind.startswith("BEGIN"):
                if block is not None:
                    raise ImportError_(f"question '{question.config['name']}': '# {kind}' inside an open "
                                       f"'# BEGIN {block}' block; close it with '# END {block}' first")
                block = what
                question.had_solution_block |= what == "SOLUTION"
            else:
                if block != what:
                    raise ImportError_(f"question '{question.config['name']}': '# {kind}' without a matching "
                                       f"'# BEGIN {what}'")
                block = None
            continue
        if kind == "END QUESTION":
            if question is None or tests is not None or block is not None:
                raise ImportError_("'# END QUESTION' without an open question, or with its tests, prompt or "
                                   "solution block still open; close that block first")
            out += question.cells()
            question = None
            continue
        if kind == "BEGIN TESTS":
            if question is None or tests is not None or block is not None:
                raise ImportError_("'# BEGIN TESTS' outside a question or inside other tests; "
                                   "put each question's tests between '# BEGIN TESTS' and '# END TESTS'")
            tests = []
            continue
        if kind == "END TESTS":
            if question is None or tests is None:
                raise ImportError_("'# END TESTS' outside a question; put tests inside BEGIN/END QUESTION")
            name = question.name
            ran = [None if executed is None else executed.cells[at] for at, _ in tests]
            converted = [otter_tests.assert_cell(t, f"{name} test {i + 1}", ran[i]) for i, (_, t) in enumerate(tests)]
            for i, ((code, config, unjudged), points) in enumerate(
                    zip(converted, otter_tests.points(question.config, [c for _, c, _ in converted]), strict=True)):
                if config.get("hidden"):
                    code = f"{cells.HIDDEN_BEGIN}\n{code}\n{cells.HIDDEN_END}"
                gid = f"{name}_test{i + 1}"
                if unjudged:
                    weak.append(gid)
                question.items.append(("out", new_code_cell(code, metadata=_meta(gid, grade=True, points=points))))
            tests = None
            continue
        if tests is not None:
            if cell.cell_type == "code":
                tests.append((index, cell))
            continue
        if question is not None:
            question.items.append(((block or "text").lower(), cell))
            continue
        if (plain := _plain(cell)) is not None:
            out.append(plain)
    if tests is not None or question is not None:
        raise ImportError_("a question or its tests are never closed; add the '# END TESTS' / '# END QUESTION' cell")
    return new_notebook(cells=out, metadata=nb.get("metadata", {})), weak


def read(path: Path, *, run: bool = True, timeout: float = DEFAULT_TIMEOUT,
         warn: Callable[[str], None] | None = None) -> list[ImportedLab]:
    """Convert ``path`` (a notebook or a folder of them). Masters whose output-judged tests lack
    stored outputs are executed unless ``run`` is false; ``warn`` hears of tests left weak."""
    if not path.exists():
        raise ImportError_(f"{path}: no such file or folder")
    notebooks = sorted(p for p in path.glob("*.ipynb")) if path.is_dir() else [path]
    if not notebooks:
        raise ImportError_(f"{path}: no otter notebooks (*.ipynb) here")
    labs = []
    for notebook in notebooks:
        nb = read_notebook(notebook)
        try:
            converted, weak = convert(nb)
        except ImportError_ as exc:
            raise ImportError_(f"{notebook}: {exc.message}") from None
        if weak and run:
            converted, weak = convert(nb, run_master(notebook, nb, timeout))
        if weak and warn is not None:
            warn(f"{notebook}: {len(weak)} output-judged test(s) have no stored output and only check that "
                 f"they run without error: {', '.join(weak)}"
                 + ("; import without --no-run to execute the master and compare outputs" if not run else ""))
        labs.append(ImportedLab(slug(notebook.stem), notebook.stem, converted, notebook.name))
    return labs
