"""Lift nbgrader-style asserts out of the student's process: the student's process computes only the
student's side of each assert (``f(x)``), sends the value as typed plain data, and the grader
evaluates the comparison with the expected side (``y``), which never enters the student's process.

Why: an assert that runs next to the student's code can be subverted there (``__eq__`` that always
says yes, a patched ``numpy.allclose``, an input transformer that deletes asserts). A lifted assert is
decided here, on data: the student passes only by sending values that satisfy the instructor's
comparison, which needs the values the instructor expects.

Which cells lift: every statement is an ``assert`` of a judged form, an import, a docstring, an
assignment of a constant expression (an expected value, computed here; sent to the student's process
only when a student expression uses it as an input), or a statement of the student's side (``z =
normalise(x)``, ``np.random.seed(0)``) that mentions no expected value. A judged assert compares a
student expression with an expression free of student names: ``f(x) == y`` (and ``!=``, ``<``,
``in``, ``is``, ...), ``np.allclose / np.isclose / np.array_equal / math.isclose(f(x), y, ...)``,
``np.testing.assert_*(f(x), y)``, ``abs(f(x) - y) < tol``, ``isinstance(f(x), T)``, combined with
``and`` / ``or`` / ``not`` / ``all`` / ``np.all``. ``assert f(x)`` (the student's own truth), loops,
``try`` and definitions do not lift: such cells run in the student's process as before.
"""

from __future__ import annotations

import ast
import builtins
import copy
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import CodeType
from typing import Any

from workbench.grading.runner import CellOutcome
from workbench.grading.typed_values import Unsendable, decode

GRADER_ROOTS = ("numpy", "math")  # modules the grader evaluates expected sides with
SAFE_BUILTINS = frozenset({
    "abs", "all", "any", "bool", "complex", "dict", "divmod", "enumerate", "filter", "float", "frozenset",
    "int", "isinstance", "issubclass", "len", "list", "map", "max", "min", "pow", "range", "repr", "reversed",
    "round", "set", "sorted", "str", "sum", "tuple", "type", "zip", "bytes", "hash"})
COMPARERS = frozenset({
    "numpy.allclose", "numpy.isclose", "numpy.array_equal", "numpy.array_equiv", "math.isclose", "isinstance",
    "issubclass", "numpy.testing.assert_allclose", "numpy.testing.assert_array_equal",
    "numpy.testing.assert_array_almost_equal", "numpy.testing.assert_almost_equal", "numpy.testing.assert_equal",
    "numpy.testing.assert_approx_equal", "numpy.testing.assert_array_less"})
REDUCERS = frozenset({"all", "any", "bool", "numpy.all", "numpy.any"})
# Not evaluated in the grader: random state and files belong to the student's process.
IMPURE = ("numpy.random", "numpy.load", "numpy.loadtxt", "numpy.genfromtxt", "numpy.fromfile", "numpy.memmap",
          "numpy.save", "numpy.savez", "numpy.savetxt", "numpy.DataSource", "numpy.lib")
SKELETON = (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.IfExp, ast.Tuple, ast.List, ast.Set, ast.Dict)
LEAF = "__workbench_leaf__"


class Unliftable(Exception):
    """This cell's form cannot be judged outside the student's process; it runs there as before."""


@dataclass
class Item:
    """One statement of a lifted cell. kind: ``sandbox`` (runs in the student's process), ``grader``
    (an expected value, computed here only), or ``assert`` (judged here; ``leaves`` are the student
    expressions it needs, asked for in the order evaluation reaches them)."""

    kind: str
    source: str
    code: CodeType | None = None
    leaves: list[str] = field(default_factory=list)
    raises: bool = False  # numpy.testing.assert_*: the call raises rather than returns False
    said: str = ""  # the assert's own message, when the instructor wrote it as a string literal


@dataclass
class Lifted:
    items: list[Item]
    modules: dict[str, str]  # name -> dotted path of what it means in the grader (numpy, math.isclose)
    deferred: list[str]  # expected values later cells read: set in the student's process after judgement


def lift(code: str, imports: dict[str, str], later: set[str]) -> Lifted | None:
    """The lifted form of a test cell, or None when it must run in the student's process. ``imports``:
    names the notebook's other cells import (``np`` -> ``numpy``); ``later``: names later cells read."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    inputs: set[str] = set()
    for _ in range(4):  # a constant a student expression reads is an input: it is set in their process
        analysis = _Analysis(imports, later, inputs)
        try:
            lifted = analysis.cell(tree)
        except Unliftable:
            return None
        if analysis.read <= inputs:
            return lifted
        inputs |= analysis.read
    return None


def imports_of(code: str) -> dict[str, str]:
    """Names bound by a cell's import statements -> the dotted path they stand for."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {}
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                found[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return found


def names_read(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


class _Analysis:
    def __init__(self, imports: dict[str, str], later: set[str], inputs: set[str]) -> None:
        self.aliases = {k: v for k, v in imports.items() if _grader_path(v)}
        self.later, self.inputs_known = later, inputs
        self.grader: dict[str, Item] = {}  # names holding expected values -> the item that set them
        self.read: set[str] = set()  # grader names that student expressions read (inputs)
        self.leaves: list[str] = []

    # -- names and kinds of expressions -------------------------------------------------------
    def known(self, name: str) -> bool:
        return name in self.grader or name in self.aliases or name in SAFE_BUILTINS

    def free(self, node: ast.AST) -> bool:
        """No student name in it: the grader can evaluate it alone."""
        bound: set[str] = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr):
                raise Unliftable
            if isinstance(sub, ast.comprehension):
                bound |= {n.id for n in ast.walk(sub.target) if isinstance(n, ast.Name)}
            elif isinstance(sub, ast.Lambda):
                bound |= {a.arg for a in ast.walk(sub.args) if isinstance(a, ast.arg)}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and not _grader_path(self.dotted(sub) or "numpy"):
                return False
        return all(self.known(n.id) or n.id in bound for n in ast.walk(node) if isinstance(n, ast.Name))

    def dotted(self, node: ast.AST) -> str | None:
        """The dotted name an attribute chain on an imported module stands for, or None."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.insert(0, node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id in self.grader or node.id not in self.aliases:
            return None
        return ".".join([self.aliases[node.id], *parts])

    def path(self, func: ast.AST) -> str | None:
        """What a callee means in the grader (``np.allclose`` -> ``numpy.allclose``), or None."""
        dotted = self.dotted(func)
        if dotted is not None:
            return dotted if _grader_path(dotted) else None
        if isinstance(func, ast.Name) and func.id in SAFE_BUILTINS and func.id not in self.grader:
            return func.id
        return None

    def kind(self, node: ast.AST) -> str:
        """``free`` (grader side), ``skeleton`` (evaluated here around student values) or ``leaf``
        (a student expression, evaluated in the student's process as a whole)."""
        if self.free(node):
            return "free"
        if isinstance(node, SKELETON):
            return "skeleton"
        if isinstance(node, ast.Call):
            path = self.path(node.func)
            if path is not None:
                args = [*node.args, *(k.value for k in node.keywords)]
                compares = path in COMPARERS or any(self.kind(a) == "skeleton" for a in args)
                return "skeleton" if compares else "leaf"
            base = node.func.value if isinstance(node.func, ast.Attribute) else None
            return "skeleton" if base is not None and self.kind(base) == "skeleton" else "leaf"
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            return "skeleton" if self.kind(node.value) == "skeleton" else "leaf"
        if isinstance(node, ast.Name):
            return "leaf"
        if isinstance(node, ast.Starred):
            return "skeleton"
        raise Unliftable

    def judged(self, node: ast.expr) -> bool:
        """The grader decides it: a comparison with at least one side free of student names."""
        if self.free(node):
            return True
        if isinstance(node, ast.Compare):
            return any(self.kind(o) == "free" for o in (node.left, *node.comparators))
        if isinstance(node, ast.BoolOp):
            return all(self.judged(v) for v in node.values)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return self.judged(node.operand)
        if isinstance(node, ast.Call):
            path = self.path(node.func)
            if path in COMPARERS:
                sides = [*node.args[:2], *(k.value for k in node.keywords if k.arg in ("actual", "desired"))]
                return self.kind(node) == "skeleton" and any(self.kind(a) == "free" for a in sides)
            if path in REDUCERS and len(node.args) == 1 and not node.keywords:
                return self.judged(node.args[0])
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("all", "any") and not node.args:
                return self.judged(node.func.value)
        return False

    # -- rewriting: student expressions become requests for their value ------------------------
    def split(self, node: ast.AST) -> ast.AST:
        kind = self.kind(node) if isinstance(node, ast.expr) else "skeleton"
        if kind == "free":
            return node
        if kind == "leaf":
            self.note_inputs(node)
            self.leaves.append(ast.unparse(node))
            return ast.Call(ast.Name(LEAF, ast.Load()), [ast.Constant(len(self.leaves) - 1)], [])
        for name, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                setattr(node, name, self.split(value))
            elif isinstance(value, list):
                setattr(node, name, [self.split(v) if isinstance(v, (ast.expr, ast.keyword)) else v for v in value])
        return node

    def note_inputs(self, node: ast.AST) -> None:
        """Constants a student expression reads are its inputs: the next analysis sets them in the
        student's process instead (and an assert whose expected side reads them does not lift)."""
        self.read |= {sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name) and sub.id in self.grader}

    # -- statements ----------------------------------------------------------------------------
    def cell(self, tree: ast.Module) -> Lifted:
        items: list[Item] = []
        for stmt in tree.body:
            source = ast.unparse(stmt)
            if isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
                continue
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                bound = imports_of(source)
                for name in bound:
                    self.grader.pop(name, None)
                    self.aliases.pop(name, None)
                self.aliases.update({k: v for k, v in bound.items() if _grader_path(v)})
                items.append(Item("sandbox", source))
            elif isinstance(stmt, ast.Assert):
                items.append(self.assertion(stmt.test, source, raises=False))
                items[-1].said = said(stmt)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) \
                    and (self.path(stmt.value.func) or "").startswith("numpy.testing.assert_"):
                items.append(self.assertion(stmt.value, source, raises=True))
            elif isinstance(stmt, ast.Assign) and self.free(stmt.value) and all(
                    isinstance(n, (ast.Name, ast.Tuple)) for n in stmt.targets) and not (
                    {n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)} & self.inputs_known):
                item = Item("grader", source, compile(ast.Module([stmt], []), "<expected>", "exec"))
                items.append(item)
                self.grader.update((n.id, item) for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name))
            elif isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)):
                self.note_inputs(stmt)
                for sub in ast.walk(stmt):
                    if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                        self.grader.pop(sub.id, None)
                        self.aliases.pop(sub.id, None)
                items.append(Item("sandbox", source))
            else:
                raise Unliftable
        if not any(item.kind == "assert" for item in items):
            raise Unliftable
        deferred = [item.source for name, item in self.grader.items() if name in self.later]
        return Lifted(items, dict(self.aliases), list(dict.fromkeys(deferred)))

    def assertion(self, test: ast.expr, source: str, raises: bool) -> Item:
        if not self.judged(test):
            raise Unliftable
        self.leaves = []
        body = self.split(copy.deepcopy(test))
        assert isinstance(body, ast.expr)
        code = compile(ast.fix_missing_locations(ast.Expression(body)), "<lifted>", "eval")
        return Item("assert", source, code, leaves=self.leaves, raises=raises)


# -- judgement, in the grader -----------------------------------------------------------------------
class _Stop(Exception):
    def __init__(self, outcome: CellOutcome) -> None:
        super().__init__(outcome.status)
        self.outcome = outcome


def said(node: ast.Assert) -> str:
    """An assert's message when it is a string literal: words the instructor wrote for the student."""
    message = node.msg
    return message.value if isinstance(message, ast.Constant) and isinstance(message.value, str) else ""


def message_at(code: str, line: int) -> str:
    """The literal message of the assert on ``line`` of a test cell (the innermost one), or ''."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Assert)
             and n.lineno <= line <= (n.end_lineno or n.lineno)]
    return said(max(found, key=lambda n: n.lineno)) if found else ""


def judge(lifted: Lifted, ask: Callable[[dict[str, Any]], CellOutcome]) -> tuple[str, str, str]:
    """Run a lifted cell: student-side statements and expressions in the student's process (``ask``),
    everything else here. Returns (status, exception name, the failing assert's own message):
    passed, failed, error, unsendable, or the sandbox's own timeout / memory / killed."""
    namespace: dict[str, Any] = {"__builtins__": builtins}
    for name, dotted in lifted.modules.items():
        namespace[name] = _resolve(dotted)

    def run(source: str) -> None:
        outcome = ask({"op": "exec", "code": source})
        if outcome.status != "ok":
            raise _Stop(outcome)

    current: Item | None = None
    try:
        for item in lifted.items:
            current = item
            if item.kind == "sandbox":
                run(item.source)
                continue
            if item.kind == "assert":
                namespace[LEAF] = _fetcher(item, ask)
            try:
                assert item.code is not None
                if item.kind == "grader":
                    exec(item.code, namespace)  # the instructor's constant, evaluated here
                    continue
                verdict = eval(item.code, namespace)  # the instructor's comparison, on plain data
                if not item.raises and not verdict:
                    return "failed", "AssertionError", item.said
            except (_Stop, Unsendable):
                raise
            except AssertionError:
                return "failed", "AssertionError", item.said
            except Exception as exc:  # what the same statement would have raised in the student's process
                return "error", type(exc).__name__, ""
        current = None
        for source in lifted.deferred:
            run(source)
    except _Stop as stop:
        outcome = stop.outcome
        if outcome.status == "error":
            if outcome.ename.endswith("MemoryError"):
                return "memory", outcome.ename, ""
            if outcome.ename == "AssertionError":
                return "failed", outcome.ename, current.said if current is not None else ""
            return "error", outcome.ename, ""
        return outcome.status, outcome.ename, ""
    except Unsendable:
        return "unsendable", "", ""
    return "passed", "", ""


def _fetcher(item: Item, ask: Callable[[dict[str, Any]], CellOutcome]) -> Callable[[int], Any]:
    def leaf(index: int) -> Any:
        outcome = ask({"op": "eval", "code": item.leaves[index]})
        if outcome.status != "ok":
            raise _Stop(outcome)
        return decode(outcome.value)

    return leaf


def _grader_path(dotted: str) -> bool:
    """numpy and math, less what reads random state or files (those stay with the student)."""
    return dotted.split(".")[0] in GRADER_ROOTS and not any(
        dotted == impure or dotted.startswith(impure + ".") for impure in IMPURE)


def _resolve(dotted: str) -> Any:
    parts = dotted.split(".")
    value: Any = importlib.import_module(parts[0])
    for index, part in enumerate(parts[1:], start=1):
        try:
            value = getattr(value, part)
        except AttributeError:
            value = importlib.import_module(".".join(parts[: index + 1]))
    return value
