"""Otter's test cells as our assert cells: a test case's config (hidden, points, failure message),
its output-judged form (what it prints and shows, compared with the master's), and otter's points rules."""

from __future__ import annotations

import ast
import re
from typing import Any

import yaml
from nbformat import NotebookNode

from workbench.curriculum.importers.common import ImportError_

TEST_CONFIG = re.compile(r'^\s*("""|\'\'\')\s*#\s*BEGIN TEST CONFIG\s*\n(.*?)\n\s*\1\s*#\s*END TEST CONFIG\s*\n?',
                         re.DOTALL)


def _shown(cell: NotebookNode) -> str | None:
    """What a master cell showed, as otter compares it: the text it printed, then its displayed value;
    None when the cell has no outputs saved."""
    outputs = cell.get("outputs", [])
    if not outputs:
        return None
    shown = ""
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            text = output.get("text", "")
            shown += "".join(text) if isinstance(text, list) else text
        elif output.get("output_type") == "execute_result":
            text = output.get("data", {}).get("text/plain", "")
            shown += ("".join(text) if isinstance(text, list) else text) + "\n"
    return shown


def _parse_test(cell: NotebookNode) -> tuple[list[str], dict[str, Any], ast.Module | None]:
    """(code lines, test config, parsed code) of one otter test cell."""
    source, config = cell.source, dict[str, Any]()
    match = TEST_CONFIG.match(source)
    if match:
        config = yaml.safe_load(match.group(2)) or {}
        source = source[match.end():]
    lines = source.strip("\n").splitlines()
    if lines and lines[0].strip().upper() == "# HIDDEN":
        config["hidden"] = True
        lines = lines[1:]
    try:
        tree: ast.Module | None = ast.parse("\n".join(lines))
    except SyntaxError:
        tree = None
    return lines, config, tree


def _ends_in_value(lines: list[str], tree: ast.Module | None) -> bool:
    """Whether the test ends in an expression whose value IPython displays (``;`` suppresses it)."""
    code = "\n".join(lines).rstrip()
    return tree is not None and bool(tree.body) and isinstance(tree.body[-1], ast.Expr) and not code.endswith(";")


def _prints(tree: ast.Module | None) -> bool:
    return tree is not None and any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                                    and node.func.id == "print" for node in ast.walk(tree))


def assert_cell(cell: NotebookNode, label: str, ran: NotebookNode | None) -> tuple[str, dict[str, Any], bool]:
    """(our assert-style code, config, whether it is output-judged yet has nothing to compare
    with) for one otter test cell; ``ran`` is the same cell of the executed master, if any. Otter
    judges a test by what it shows, doctest-style: the text it prints, then the value it ends in.
    The converted cell captures its own printed text and compares both with the master's."""
    lines, config, tree = _parse_test(cell)
    code = "\n".join(lines)
    value = _ends_in_value(lines, tree)
    if not (value or _prints(tree)):
        return code, config, False
    expected = _shown(cell)
    if expected is None and ran is not None:
        expected = _shown(ran) or ""  # it ran: no outputs means it showed nothing
    if expected is None:
        return code, config, True
    message = str(config.get("failure_message") or f"{label} failed")
    head, last = code, "None"
    if value:
        assert tree is not None
        start = tree.body[-1].lineno - 1
        head, last = "\n".join(lines[:start]), "\n".join(lines[start:])
    code = ("import contextlib as _otter_contextlib, io as _otter_io\n"
            "from IPython.lib.pretty import pretty as _otter_pretty\n"
            "_otter_out = _otter_io.StringIO()\n"
            "_otter_capture = _otter_contextlib.redirect_stdout(_otter_out)\n"
            "_otter_capture.__enter__()\n"
            + (f"{head}\n" if head else "")
            + f"_otter_value = ({last})\n"
            "_otter_capture.__exit__(None, None, None)\n"
            "_otter_shown = _otter_out.getvalue()"
            " + ('' if _otter_value is None else _otter_pretty(_otter_value) + '\\n')\n"
            f"assert _otter_shown.strip() == {expected.strip()!r}, {message!r}")
    return code, config, False


def points(question: dict[str, Any], configs: list[dict[str, Any]]) -> list[float]:
    """Otter's rules: stated test points count; the rest share what the question has left (default 1).
    The question's ``points`` may also be a list (one per test case) or ``{each: n}``."""
    stated = [c.get("points") for c in configs]
    total = question.get("points")
    if isinstance(total, dict):
        total = float(total.get("each", 1)) * len(configs)
    elif isinstance(total, list):
        if len(total) != len(configs):
            raise ImportError_(f"question '{question['name']}' lists {len(total)} points for {len(configs)} "
                               "test case(s); give one value per test case")
        stated, total = total, None
    if all(p is None for p in stated):
        share = float(total if total is not None else 1) / max(len(configs), 1)
        return [share] * len(configs)
    if total is None:
        return [float(p or 0) for p in stated]
    missing = sum(1 for p in stated if p is None)
    rest = (float(total) - sum(float(p) for p in stated if p is not None)) / missing if missing else 0.0
    return [float(p) if p is not None else rest for p in stated]
