"""Hidden tests are judged in a run of their own, whose only way out is a verdict.

Why a second run: whatever runs in the student's process can be read by the student's code there
(caller frames, ``linecache``, IPython's events and transformers, ``sys.settrace``, ``gc``, the
command pipe's buffers) and printed later in any encoding, which no scrubber recognises. So the run
whose outputs and messages the student sees, the *feedback run*, never receives hidden test text: test
cells run there with their hidden regions removed (what the student's release shows). The hidden
tests run afterwards in the *judging run*, a fresh sandbox (the feedback run's is gone by then, its
processes and files with it) that replays the student's cells and runs each test cell whole. Nothing
of the judging run is kept: not its output, not its messages, not its tracebacks. What leaves it is,
per hidden task, a status (passed, failed, error, timeout, memory, killed) and, for an error, the
name of a built-in exception type; the student is told that and a fixed sentence.

In the judging run, hidden cells never pass through IPython's ``run_cell``: they are compiled with
Python's own compiler under the name ``<hidden>`` (no ``linecache`` entry, no cell events, no input
or AST transformers of the student's) and executed on the user namespace. Where a cell's form allows
it (``lifting.py``), its asserts are judged here instead: the judging run computes only the student's
side of each assert, and the expected side never enters the student's process at all.

Every grade is finally scrubbed of hidden text (``secrecy.py``): the backstop, should hidden text
reach a message or output by a path this design did not foresee.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from workbench.grading import lifting, secrecy
from workbench.grading.merge import Plan, Step
from workbench.grading.runner import CellOutcome, Runner
from workbench.grading.sandbox import Limits, SandboxSpec

BUILTIN_EXCEPTIONS = frozenset(name for name, value in vars(builtins).items()
                               if isinstance(value, type) and issubclass(value, BaseException))
LIFTED_NOTE = "judged by the grader, outside your process"


class Session(Protocol):
    """What the judging run needs of grade.py's self-restarting session."""

    runner: Runner | None

    def usable(self) -> bool: ...

    def run(self, step: Step) -> tuple[str, float, str, CellOutcome]: ...

    def close(self) -> None: ...


class Prior(Protocol):
    status: str


@functools.lru_cache(maxsize=64)
def _lift(code: str, imports: tuple[tuple[str, str], ...], later: frozenset[str]) -> lifting.Lifted | None:
    return lifting.lift(code, dict(imports), set(later))


@functools.lru_cache(maxsize=16)
def _scrubber(sources: tuple[str, ...], public: str) -> secrecy.Scrubber:
    return secrecy.Scrubber(sources, public)


@functools.lru_cache(maxsize=256)
def _imports(code: str) -> dict[str, str]:
    return lifting.imports_of(code)


@functools.lru_cache(maxsize=256)
def _names(code: str) -> frozenset[str]:
    return frozenset(lifting.names_read(code))


_NO_SCRUBBER = secrecy.Scrubber((), "")


class HiddenTests:
    """One plan's hidden tests: what the feedback run may see, the judging run, the scrubber."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        # test and locked cells with hidden regions (check cells run in the grader: nothing to hide there)
        self.secret = {i for i, s in enumerate(plan.steps)
                       if s.role in ("test", "locked") and secrecy.has_hidden(s.code)}
        self.died: set[int] = set()  # steps whose sandbox died in the feedback run: the judging run skips them
        self.lifted: dict[int, lifting.Lifted | None] = {}
        self.scrubber = _NO_SCRUBBER
        if not self.secret:  # most labs: nothing to hide, nothing to pay
            return
        trusted = [s.code for s in plan.steps if s.role in ("test", "locked")]
        public = "\n".join(secrecy.visible(code) for code in trusted)
        self.scrubber = _scrubber(tuple(plan.steps[i].code for i in sorted(self.secret)), public)
        imports: dict[str, str] = {}
        for code in trusted:
            imports.update(_imports(code))
        for index in sorted(self.secret):
            later = frozenset().union(*(_names(s.code) for s in plan.steps[index + 1:] if s.role != "student"))
            self.lifted[index] = _lift(plan.steps[index].code, tuple(sorted(imports.items())), later)

    def feedback_step(self, index: int, step: Step) -> Step | None:
        """The step as the feedback run gets it: hidden regions removed; None when nothing is left."""
        if index not in self.secret:
            return step
        code = secrecy.visible(step.code)
        return dataclasses.replace(step, code=code) if code.strip() else None

    def ran(self, index: int, outcome: CellOutcome) -> None:
        if outcome.dead:
            self.died.add(index)

    def judge(self, spec: SandboxSpec, new_session: Callable[[float], Session],
              prior: dict[str, Any]) -> dict[str, tuple[str, float, str]]:
        """The judging run, after the feedback run has ended: (status, credit, message) per hidden
        task whose visible part passed there (or that has none)."""
        tasks = {t.id: t for t in self.plan.tasks}
        wanted: dict[int, str] = {}
        for index in self.secret:
            task = tasks.get(self.plan.steps[index].grade_id or "")
            if task is not None and task.kind == "test" and task.hidden:
                earlier: Prior | None = prior.get(task.id)
                if earlier is None or earlier.status == "passed":
                    wanted[index] = task.id
        if not wanted:
            return {}
        limits = spec.limits
        deadline = time.monotonic() + limits.total_timeout
        session = new_session(deadline)
        verdicts: dict[str, tuple[str, float, str]] = {}
        try:
            for index, step in enumerate(self.plan.steps[: max(wanted) + 1]):
                if index in self.died or step.role == "check":
                    continue
                if index in self.secret and index not in wanted:
                    if step.role == "locked" and session.usable():  # a locked cell's hidden part: run, unjudged
                        self._exec(session, step.code, deadline, limits)
                    continue  # a test whose visible part failed stopped there in the feedback run too
                if not session.usable():
                    if index in wanted:
                        over = time.monotonic() >= deadline
                        verdicts[wanted[index]] = _verdict("over" if over else "killed", "", False, limits)
                    continue
                if index in wanted:
                    verdicts[wanted[index]] = self._judge(index, session, deadline, limits)
                else:
                    session.run(step)
        finally:
            session.close()
        return verdicts

    def _exec(self, session: Session, code: str, deadline: float, limits: Limits) -> CellOutcome:
        assert session.runner is not None
        until = min(deadline, time.monotonic() + limits.cell_timeout)
        return session.runner.ask({"op": "exec", "code": code}, until)

    def _judge(self, index: int, session: Session, deadline: float, limits: Limits) -> tuple[str, float, str]:
        lifted = self.lifted.get(index)
        if lifted is None:
            code = self.plan.steps[index].code
            outcome = self._exec(session, code, deadline, limits)
            status, said = outcome.status, ""
            if status == "ok":
                status = "passed"
            elif status == "error" and outcome.ename == "AssertionError":
                status, said = "failed", lifting.message_at(code, outcome.line)
            elif status == "error":
                status = "memory" if outcome.ename.endswith("MemoryError") else "error"
            return _verdict(status, outcome.ename, False, limits, said)
        runner = session.runner
        assert runner is not None
        until = min(deadline, time.monotonic() + limits.cell_timeout)
        status, ename, said = lifting.judge(lifted, lambda cmd: runner.ask(cmd, until))
        return _verdict(status, ename, True, limits, said)

    def scrub(self, tasks: Iterable[Any], outputs: list[dict[str, Any]]) -> None:
        """Remove hidden test text from task messages and cell outputs, in place, before anything is
        recorded: the backstop, independent of what the student's code did."""
        if self.scrubber.pattern is None:
            return
        for task in tasks:
            task.message = self.scrubber.text(task.message)
        outputs[:] = [self.scrubber.output(o) for o in outputs]


def _verdict(status: str, ename: str, lifted: bool, limits: Limits, said: str = "") -> tuple[str, float, str]:
    """What the student is told about a hidden task: fixed sentences, never text of the judging run
    (an exception's message or a class name of the student's could carry what the tests hold). The
    one exception is the failing assert's own message when the instructor wrote it as a string
    literal (``assert ..., "the mean of 1, 2, 3 is 2.0"``): words meant for the student, from the source."""
    where = f"; {LIFTED_NOTE}" if lifted else ""
    raised = ename if ename in BUILTIN_EXCEPTIONS else "an exception"
    if status == "passed":
        return "passed", 1.0, f"hidden tests {LIFTED_NOTE}" if lifted else ""
    if status == "failed":
        told = f"AssertionError: {said[:500]}" if said else "hidden tests failed (AssertionError)"
        return "failed", 0.0, told + where
    if status == "error":
        return "error", 0.0, f"hidden tests failed: your code raised {raised}{where}"
    if status == "unsendable":
        return "error", 0.0, ("hidden tests failed: a value your code computed cannot be sent to the grader, "
                              "which compares numbers, strings, lists, tuples, dicts, sets and arrays" + where)
    if status == "timeout":
        return "timeout", 0.0, f"hidden tests: time limit exceeded ({limits.cell_timeout:g} s per cell)"
    if status == "memory":
        return "memory", 0.0, f"hidden tests: memory limit exceeded ({limits.memory_mb} MB)"
    if status == "over":
        return "timeout", 0.0, f"hidden tests: submission time limit exceeded ({limits.total_timeout:g} s)"
    return "killed", 0.0, "hidden tests: your process ended while they ran"
