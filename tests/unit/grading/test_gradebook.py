"""Gradebook store: the migration matches the models, late penalties, adjustments, idempotent rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from workbench.curriculum import catalog
from workbench.curriculum.model import Course, Lab
from workbench.errors import NotFoundError
from workbench.grading import gradebook
from workbench.grading.grade import GradeResult, TaskResult
from workbench.grading.gradebook import GradebookError, Incoming, LatePolicy
from workbench.store import open_store
from workbench.store.models import Base

DUE = datetime(2030, 1, 1, tzinfo=timezone.utc)


def result() -> GradeResult:
    """What grading a submission with one auto-graded and one manual task returns."""
    return GradeResult(score=2, max_score=3, needs_manual=True, tasks=[
        TaskResult("t1", 2, 2, "passed"), TaskResult("essay", 0, 1, "manual")])


def test_migration_creates_exactly_the_gradebook_models(db_url: str) -> None:
    store = open_store(db_url)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    gradebook_tables = {"students", "submissions", "task_grades", "grade_adjustments"}
    ours = [d for d in diff if any(t in repr(d) for t in gradebook_tables)]
    assert ours == []


@pytest.mark.parametrize(("late", "percent"), [
    (timedelta(seconds=-5), 0), (timedelta(0), 0), (timedelta(minutes=1), 10), (timedelta(hours=25), 20),
    (timedelta(days=30), 50),
])
def test_default_late_policy(late: timedelta, percent: float) -> None:
    assert LatePolicy().penalty(DUE + late, DUE)[1] == pytest.approx(percent / 100)


def test_grace_and_no_due_date() -> None:
    policy = LatePolicy(percent_per_day=5, cap_percent=100, grace_minutes=15)
    assert policy.penalty(DUE + timedelta(minutes=10), DUE) == (600.0, 0.0)
    assert policy.penalty(DUE + timedelta(days=3), DUE)[1] == pytest.approx(0.15)
    assert LatePolicy().penalty(DUE + timedelta(days=3), None) == (0.0, 0.0)


def test_submission_rows_penalty_and_adjustments(db_url: str, tmp_path: Path) -> None:
    store = open_store(db_url)
    catalog.register(store, Course("c1", "C", tmp_path, (Lab("l1", "L", tmp_path / "s.ipynb", 3.0, due=DUE),)))
    path, sha = gradebook.store_file(b'{"cells": []}', tmp_path / "data", "c1", "l1", "ann")
    assert path.read_bytes() == b'{"cells": []}' and not list(path.parent.glob(".incoming-*"))
    [(sid, todo)] = gradebook.add_submissions(store, "c1", "l1", [Incoming("ann", path, sha, DUE + timedelta(hours=2))],
                                              "src1")
    assert todo
    gradebook.record(store, [gradebook.Outcome(sid, result=result())], "src1", LatePolicy())
    again = [Incoming("ann", path, sha, DUE)]
    assert gradebook.add_submissions(store, "c1", "l1", again, "src1") == [(sid, False)]
    assert gradebook.add_submissions(store, "c1", "l1", again, "src2") == [(sid, True)]  # new tests
    gradebook.record(store, [gradebook.Outcome(sid, result=result())], "src2", LatePolicy())
    sub = gradebook.submission(store, sid)
    assert (sub["raw_score"], sub["penalty"], sub["score"], sub["needs_manual"]) == (2.0, 0.1, 1.8, True)
    gradebook.set_points(store, "c1", "l1", "ann", "essay", 0.5, "ok", "prof")
    sub = gradebook.set_points(store, "c1", "l1", "ann", "essay", 1.0, "better on review", "prof2")
    essay = sub["tasks"][1]
    assert (essay["points"], essay["adjusted_by"], essay["comment"]) == (1.0, "prof2", "better on review")
    assert (sub["raw_score"], sub["score"], sub["needs_manual"]) == (3.0, 2.7, False)
    with pytest.raises(GradebookError, match="between 0 and 1"):
        gradebook.set_points(store, "c1", "l1", "ann", "essay", 2, "", "prof")
    with pytest.raises(NotFoundError, match="by 'bob'"):
        gradebook.set_points(store, "c1", "l1", "bob", "essay", 1, "", "prof")
    with pytest.raises(GradebookError, match="not a usable name"):
        gradebook.store_file(b"x", tmp_path, "c1", "l1", "../etc")
