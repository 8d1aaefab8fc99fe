"""Grade one submission against its source: plan, execute in a sandbox, score from results.

Pass/fail comes from each cell's execution result (the exception the cell raised, or none), not
from its output. When the sandbox dies (timeout, kill, ``os._exit``) the affected task gets that
status and a fresh sandbox replays the cells that had completed, so the rest of the notebook is
still graded; after a few deaths or past the submission's wall limit the remaining tasks stop.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.grading import causes, checks, lab_files, lab_python
from workbench.grading.hidden import HiddenTests
from workbench.grading.identity import require_sandbox
from workbench.grading.merge import NO_GRADED_CELLS, Plan, Step, make_plan, read_notebook
from workbench.grading.runner import CellOutcome, Runner
from workbench.grading.sandbox import Limits, SandboxSpec, sweep_stale

MAX_RESTARTS = 3
STATUSES = ("passed", "failed", "error", "timeout", "memory", "killed", "manual", "missing")


@dataclass
class TaskResult:
    id: str
    points: float
    max_points: float
    status: str
    message: str = ""


@dataclass
class GradeResult:
    """The stable contract printed by ``workbench grade --json``; outputs are for feedback only."""

    score: float
    max_score: float
    tasks: list[TaskResult]
    needs_manual: bool
    outputs: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # for the instructor (stderr), not the contract

    def contract(self) -> dict[str, Any]:
        return {"score": self.score, "max_score": self.max_score,
                "tasks": [asdict(t) for t in self.tasks], "needs_manual": self.needs_manual}


def _message(outcome: CellOutcome, limits: Limits) -> str:
    """A message for the student: the error's name and text, never the test's source."""
    if outcome.status == "timeout":
        return f"time limit exceeded ({limits.cell_timeout:g} s per cell)"
    if outcome.status == "memory" or causes.means_memory(outcome.ename, outcome.evalue):
        plain = outcome.ename in ("", "MemoryError") and not outcome.evalue.strip()
        raised = "" if plain else f": {outcome.ename}: {causes.first_line(outcome.evalue)}".rstrip(": ")
        return f"memory limit exceeded ({limits.memory_mb} MB){raised}"
    if outcome.status == "killed":
        return outcome.evalue or "the student's process was killed"
    if outcome.status == "error":
        text = f"{outcome.ename}: {outcome.evalue}".strip().rstrip(":")[:500]
        hint = _limit_hint(outcome, limits)
        return f"{text} ({hint})" if hint else text
    return ""


def _limit_hint(outcome: CellOutcome, limits: Limits) -> str:
    """Which sandbox limit an OS error means, so a full disk or a fork loop reads as a limit reached
    rather than a mysterious errno: ENOSPC (the home and /tmp tmpfs), EFBIG (file size), EAGAIN from
    creating a process (the process limit)."""
    if outcome.evalue.startswith("[Errno 28]"):
        return f"disk limit reached: the home and /tmp hold {limits.tmp_mb} MB each"
    if outcome.evalue.startswith("[Errno 27]"):
        return f"file size limit reached: {limits.file_mb} MB per file"
    forking = any(word in outcome.traceback for word in ("fork", "Popen", "_execute_child", "spawn"))
    if outcome.evalue.startswith("[Errno 11]") and forking:
        return f"process limit reached: {limits.processes} processes"
    return ""


def _status(outcome: CellOutcome) -> str:
    if outcome.status == "ok":
        return "passed"
    if outcome.status == "error" and causes.means_memory(outcome.ename, outcome.evalue):
        return "memory"  # an allocator's own words for the limit (numpy, torch, MindSpore, mmap)
    if outcome.status == "error":
        return "failed" if outcome.ename == "AssertionError" else "error"
    return outcome.status


class _Session:
    """A runner that restarts itself, replaying completed cells, when its sandbox dies."""

    def __init__(self, spec: SandboxSpec, deadline: float) -> None:
        self.spec, self.deadline = spec, deadline
        self.done: list[Step] = []
        self.restarts = 0
        self.runner = self._fresh()

    def _fresh(self) -> Runner | None:
        runner = Runner(self.spec)
        if runner.start(min(self.deadline, time.monotonic() + 60)).status != "ok":
            runner.close()
            return None
        for step in self.done:
            if runner.run_cell(step.code, self._cell_deadline(), history=False).dead:
                runner.close()
                return None
        return runner

    def _cell_deadline(self) -> float:
        return min(self.deadline, time.monotonic() + self.spec.limits.cell_timeout)

    def usable(self) -> bool:
        if self.runner is not None and self.runner.alive():
            return True
        if self.restarts >= MAX_RESTARTS or time.monotonic() >= self.deadline:
            return False
        self.restarts += 1
        self.runner = self._fresh()
        return self.runner is not None

    def run(self, step: Step) -> tuple[str, float, str, CellOutcome]:
        assert self.runner is not None
        limits = self.spec.limits
        if step.role == "check":
            status, credit, message, outcome = checks.judge(step.code, self.runner, limits.cell_timeout,
                                                            self.deadline)
            return status, credit, message, outcome
        outcome = self.runner.run_cell(step.code, self._cell_deadline(), history=step.role != "test")
        if not outcome.dead:
            self.done.append(step)
        status = _status(outcome)
        return status, 1.0 if status == "passed" else 0.0, _message(outcome, limits), outcome

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()


def grade_plan(plan: Plan, spec: SandboxSpec) -> GradeResult:
    limits = spec.limits
    deadline = time.monotonic() + limits.total_timeout
    by_task = {t.id: t for t in plan.tasks}
    results: dict[str, TaskResult] = {}
    outputs: list[dict[str, Any]] = []
    for task in plan.tasks:
        if task.kind == "manual":
            problem = plan.problems.get(task.id)
            results[task.id] = TaskResult(task.id, 0.0, task.max_points, "missing" if problem else "manual",
                                          problem or "graded by the instructor")
        elif task.answer in plan.problems:
            results[task.id] = TaskResult(task.id, 0.0, task.max_points, "missing", plan.problems[task.answer])
    hidden_tests = HiddenTests(plan)  # the feedback run never gets their hidden regions (hidden.py)
    session = _Session(spec, deadline)
    earlier = causes.EarlierFailures()
    before: dict[str, causes.EarlierFailures] = {}  # a hidden test's earlier failures, for its verdict
    try:
        for index, step in enumerate(plan.steps):
            step_task = by_task.get(step.grade_id or "")
            if step_task is not None and step_task.id in results:
                continue
            if not session.usable():
                if step_task is not None:
                    over = time.monotonic() >= deadline
                    results[step_task.id] = TaskResult(
                        step_task.id, 0.0, step_task.max_points, "timeout" if over else "killed",
                        f"submission time limit exceeded ({limits.total_timeout:g} s)" if over
                        else "not run: the student's process kept dying")
                continue
            if step_task is not None and step_task.hidden:
                before[step_task.id] = causes.EarlierFailures(list(earlier.failed))
            run_step = hidden_tests.feedback_step(index, step)
            if run_step is None:
                continue
            status, credit, message, outcome = session.run(run_step)
            hidden_tests.ran(index, outcome)
            if step_task is not None and step_task.kind in ("test", "check"):
                message = earlier.explain(status, message)
            earlier.note(step, status, message)
            hidden = step_task is not None and step_task.hidden
            outputs.append({"grade_id": step.grade_id, "role": step.role, "status": status,
                            "stdout": "" if hidden else outcome.stdout,
                            "stderr": "" if hidden else outcome.stderr,
                            "display": [] if hidden else outcome.display,
                            "code": step.code if step.role == "student" else "",
                            # why the student's own cell failed (a limit reached, in words), for feedback
                            "error": message if step.role in ("student", "locked") and status != "passed"
                            else ""})
            if step_task is not None and step_task.kind in ("test", "check"):
                results[step_task.id] = TaskResult(step_task.id, round(step_task.max_points * credit, 6),
                                                   step_task.max_points, status, message)
    finally:
        session.close()
    for task_id, (status, credit, message) in hidden_tests.judge(
            spec, lambda until: _Session(spec, until), results).items():
        task = by_task[task_id]
        message = before.get(task_id, causes.EarlierFailures()).explain(status, message)
        results[task_id] = TaskResult(task_id, round(task.max_points * credit, 6), task.max_points, status, message)
    for task in plan.tasks:
        results.setdefault(task.id, TaskResult(task.id, 0.0, task.max_points, "missing",
                                               "the test did not run"))
    hidden_tests.scrub(results.values(), outputs)  # the backstop: no hidden text in what is recorded
    ordered = [results[t.id] for t in plan.tasks]
    return GradeResult(round(sum(t.points for t in ordered), 6), round(sum(t.max_points for t in ordered), 6),
                       ordered, any(t.status == "manual" for t in ordered), outputs,
                       [] if plan.tasks else [NO_GRADED_CELLS])


def grade_notebook(submission: Path, source: Path, limits: Limits | None = None,
                   unsafe_no_sandbox: bool = False, data_dir: Path | None = None,
                   preload: tuple[str, ...] = (), python: str = "",
                   submitted_files: dict[str, bytes] | None = None) -> GradeResult:
    """Grade one submission notebook against its source notebook; ``python`` is the setting
    ``Workbench.effective_lab_python`` (the labs' interpreter, '' for the grader's own). The files
    beside the source are released read-only into the working directory, ``submitted_files`` (what
    the student handed in beside the notebook) writable, as nbgrader's autograde provides them."""
    require_sandbox(unsafe_no_sandbox)
    interpreter = lab_python.resolve(python)
    source_nb = read_notebook(Path(source), "source notebook")
    submission_nb = read_notebook(Path(submission), "submission")
    plan = make_plan(source_nb, submission_nb, Path(source))
    released = lab_files.released(Path(source))
    lab_files.check_clash(released, data_dir, Path(source).parent)
    files = {**lab_files.for_sandbox(released, submitted_files or {}, data_dir),
             Path(submission).name: Path(submission).read_bytes()}
    sweep_stale()
    spec = SandboxSpec(limits=limits or Limits(), data_dir=data_dir, preload=preload, files=files,
                       released=released, unsafe_no_sandbox=unsafe_no_sandbox, python=interpreter)
    return grade_plan(plan, spec)
