"""Say why a test failed when the real cause is an earlier cell.

A test that reads ``NameError: name 'results' is not defined`` tells a student nothing when the cell
that defines ``results`` died at the memory limit three cells before: the test only saw the
aftermath. The grader therefore remembers which of the student's cells (answers and locked cells, not
tests) failed and why, and a failing test's message names the first of them, in the same message,
with the limit it hit (memory, time) or the exception it raised. Memory errors come in many names
(``MemoryError``, numpy's ``_ArrayMemoryError``, MindSpore's ``RuntimeError: Allocate memory failed``,
torch's ``can't allocate memory``, ``[Errno 12]`` from mmap or a shared library that no longer fits):
each is named as the memory limit it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.grading.merge import Step

# What the allocators of Python, numpy, torch, MindSpore and the C library say when the address-space
# limit (RLIMIT_AS) refuses them.
MEMORY_WORDS = ("Cannot allocate memory", "cannot allocate memory", "can't allocate memory",
                "Allocate memory failed", "Unable to allocate", "failed to map segment", "out of memory",
                "[Errno 12]", "std::bad_alloc")


def means_memory(ename: str, evalue: str) -> bool:
    """Whether an exception is an allocation the memory limit refused."""
    return ename.endswith("MemoryError") or any(word in evalue for word in MEMORY_WORDS)


def first_line(text: str, limit: int = 300) -> str:
    """The part of a message worth repeating: its first line (MindSpore appends a C++ stack)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit] + "…"


def label(step: Step) -> str:
    """How a student finds the cell: its position in their notebook, and its grade id if it has one."""
    named = f" ('{step.grade_id}')" if step.grade_id else ""
    return f"cell {step.cell}{named}" if step.cell else f"the lab's cell{named}"


@dataclass
class EarlierFailures:
    """The student's cells that failed so far, in order: (label, what happened)."""

    failed: list[tuple[str, str]] = field(default_factory=list)

    def note(self, step: Step, status: str, message: str) -> None:
        """Remember a failed answer or locked cell (tests are judged on their own)."""
        if step.role in ("student", "locked") and status != "passed":
            self.failed.append((label(step), message or status))

    def explain(self, status: str, message: str) -> str:
        """A failed test's message, plus the first earlier cell that failed (and how many more)."""
        if status in ("passed", "manual") or not self.failed:
            return message
        where, why = self.failed[0]
        more = len(self.failed) - 1
        also = f" (and {more} later cell{'s' if more > 1 else ''})" if more else ""
        cause = f"an earlier cell failed first: {where}: {why}{also}"
        return f"{message} — {cause}" if message else cause
