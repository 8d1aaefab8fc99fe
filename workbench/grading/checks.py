"""Native checks: judgement in the trusted grader process, never in the student's.

A check is a graded code cell of the *source* whose first line is ``# workbench: check``. The
grader runs that cell itself (the sandbox never receives it, and release hides it); it defines
``check(student)``. ``student.call(name, *args)`` sends plain inputs to the student's process,
which calls its own ``name`` and returns only a plain value (number, string, list, dict, or an
array as ``.npy`` bytes loaded without pickle). ``check`` then decides: return ``None``/``True``
for full points, ``False`` for none, a number in [0, 1] for partial credit, or raise
``AssertionError`` with a message. Expected values, tolerances and points never enter the
student's process, so patching ``numpy``, ``assert`` or ``__eq__`` there earns nothing.
"""

from __future__ import annotations

import base64
import io
import math
import time
from collections.abc import Callable
from typing import Any

from workbench.grading.runner import CellOutcome, Runner


class StudentError(Exception):
    """The student's function raised (or ran out of time or memory) while a check called it."""

    def __init__(self, outcome: CellOutcome) -> None:
        super().__init__(f"{outcome.ename or outcome.status}: {outcome.evalue}".strip())
        self.outcome = outcome


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__npy__"}:
            import numpy as np

            return np.load(io.BytesIO(base64.b64decode(value["__npy__"])), allow_pickle=False)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _encode(value: Any) -> Any:
    if type(value).__module__ == "numpy":
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


class Student:
    """The grader's handle on the student's process: calls and reads, plain values only."""

    def __init__(self, runner: Runner, deadline: float) -> None:
        self._runner = runner
        self._deadline = deadline
        self.last: CellOutcome | None = None

    def _ask(self, name: str, args: list[Any], kwargs: dict[str, Any], call: bool) -> Any:
        outcome = self._runner.call(name, _encode(list(args)), _encode(kwargs), self._deadline, call=call)
        self.last = outcome
        if outcome.status != "ok":
            raise StudentError(outcome)
        return _decode(outcome.value)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._ask(name, list(args), kwargs, call=True)

    def value(self, name: str) -> Any:
        return self._ask(name, [], {}, call=False)


def check(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a function in a check cell as a check (``@workbench.check``); plain ``def check`` also works."""
    fn.__workbench_check__ = True  # type: ignore[attr-defined]
    return fn


def close(got: Any, expected: Any, rtol: float = 1e-7, atol: float = 0.0) -> bool:
    """Tolerant comparison for numbers and arrays, run in the grader."""
    import numpy as np

    try:
        return bool(np.allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float),
                                rtol=rtol, atol=atol))
    except (TypeError, ValueError):
        return False


def judge(code: str, runner: Runner, cell_timeout: float, deadline: float) -> tuple[str, float, str, CellOutcome]:
    """Run one check cell in this (trusted) process; return status, credit fraction, message."""
    namespace: dict[str, Any] = {"close": close, "math": math, "check": None}
    student = Student(runner, min(time.monotonic() + cell_timeout, deadline))
    ok = CellOutcome("ok")
    try:
        exec(compile(code, "<check>", "exec"), namespace)
    except Exception as exc:
        return "error", 0.0, f"the check cell itself is broken ({type(exc).__name__}: {exc}); tell the instructor", ok
    fns = [v for v in namespace.values() if callable(v) and getattr(v, "__workbench_check__", False)]
    if not fns and callable(namespace.get("check")):
        fns = [namespace["check"]]
    if not fns:
        return "error", 0.0, "the check cell defines no check(student) function; tell the instructor", ok
    credit = 1.0
    try:
        for fn in fns:
            verdict = fn(student)
            if verdict is False:
                credit = 0.0
            elif isinstance(verdict, (int, float)) and not isinstance(verdict, bool):
                credit = min(credit, max(0.0, min(1.0, float(verdict))))
    except StudentError as exc:
        status = exc.outcome.status
        return ("error" if status == "error" else status), 0.0, str(exc), exc.outcome
    except AssertionError as exc:
        return "failed", 0.0, str(exc) or "check failed", student.last or ok
    except Exception as exc:
        return "failed", 0.0, f"{type(exc).__name__}: {exc}", student.last or ok
    status = "passed" if credit >= 1.0 else "failed"
    return status, credit, "" if credit >= 1.0 else f"partial credit {credit:.0%}", student.last or ok
