"""Errors that reach a person.

Every message names the thing at fault (file, cell, key, limit) and what to do about it, because
students and instructors read these, not tracebacks. ``exit_code`` is what the CLI exits with.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class: a problem the user can fix, reported as one clear message."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(WorkbenchError):
    """A configuration value or key is wrong."""


class StoreError(WorkbenchError):
    """The store cannot be opened, migrated or written."""


class NotFoundError(WorkbenchError):
    """A course, lab or other named thing does not exist."""


class ValidationProblem:
    """One problem found while validating an input file, located as precisely as possible."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class CourseError(WorkbenchError):
    """A course directory is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[ValidationProblem]) -> None:
        self.problems = problems
        count = len(problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the course:"
        super().__init__("\n".join([header, *(f"  {p}" for p in problems)]))


class EventError(WorkbenchError):
    """An event directory is invalid; carries every problem found, as CourseError does."""

    def __init__(self, problems: list[ValidationProblem]) -> None:
        self.problems = problems
        count = len(problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the event:"
        super().__init__("\n".join([header, *(f"  {p}" for p in problems)]))


class PredictionsError(WorkbenchError):
    """A submitted predictions file cannot be scored; the message names the row and the fix."""


class SubmissionRefused(WorkbenchError):
    """A submission is refused (window, limits, team); the message says why and when the next is allowed."""


class NotebookRunError(WorkbenchError):
    """A submitted notebook or script did not produce predictions (time or memory limit, a crash, no
    predictions.csv); the message says which and what to change. Like a malformed file, it does not
    count against the team's limits."""
