"""The gradebook: store submissions (temp file + rename, then a hash row), record grading results
(a batch per transaction), apply manual adjustments and late penalties, and tabulate.

A submission is identified by (student, lab, SHA-256 of its bytes): storing the same bytes twice
is a no-op, and a submission counts as graded only when its row says so *and* it was graded
against the current source (``source_sha256``), so editing the tests re-grades everyone.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, selectinload

from workbench.atomic import write_atomically
from workbench.curriculum.catalog import lab_row
from workbench.errors import NotFoundError, WorkbenchError
from workbench.grading import lab_files
from workbench.store import Store
from workbench.store import gradebook_models as g
from workbench.store import models as m

OUTPUT_KEEP = 20_000  # characters per stream and cell kept for feedback
ROSTER_FIELDS = ("email", "sis_id", "section", "lms_id")  # LMS identifiers a roster may set
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$")


class GradebookError(WorkbenchError):
    """A gradebook request names something that cannot be graded or adjusted as asked."""


@dataclass(frozen=True)
class LatePolicy:
    """Penalty for work submitted after the lab's due date.

    Default: 10 % of the score per started day late (so one minute late costs 10 %), capped at
    50 %, no grace period. ``percent_per_day=0`` turns penalties off.
    """

    percent_per_day: float = 10.0
    cap_percent: float = 50.0
    grace_minutes: float = 0.0

    def penalty(self, submitted: datetime, due: datetime | None) -> tuple[float, float]:
        """(seconds late, fraction of the score taken off)."""
        if due is None:
            return 0.0, 0.0
        late = (submitted - due).total_seconds()
        if late <= self.grace_minutes * 60:
            return max(late, 0.0), 0.0
        days = math.ceil(late / 86400)
        return late, min(self.cap_percent, days * self.percent_per_day) / 100.0


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_name(name: str, what: str) -> str:
    if not NAME.match(name):
        raise GradebookError(f"{what} {name!r} is not a usable name; use letters, digits and . _ @ + -")
    return name


def store_file(data: bytes, storage: Path, course: str, lab: str, student: str,
               files: dict[str, bytes] | None = None) -> tuple[Path, str]:
    """Write a submission under ``storage`` by temp file + rename; return its path and SHA-256. The
    files handed in beside the notebook (``files``) are kept with it and count in its hash."""
    sha = lab_files.digest(data, files or {})
    folder = storage / "submissions" / course / lab / check_name(student, "student")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{sha[:16]}.ipynb"
    if not target.exists():
        write_atomically(target, data, durable=True)
    lab_files.store(files or {}, target)
    return target, sha


def _new_student(course: str, name: str) -> g.Student:
    return g.Student(course_id=course, name=name, email="", sis_id="", section="", lms_id="")


def _student(session: Session, course: str, name: str) -> g.Student:
    row = session.scalar(select(g.Student).where(g.Student.course_id == course, g.Student.name == name))
    if row is None:
        row = _new_student(course, name)
        session.add(row)
        session.flush()
    return row


@dataclass(frozen=True)
class Incoming:
    """A stored submission file (``store_file``) waiting for its hash row."""

    student: str
    path: Path
    sha256: str
    submitted: datetime


def add_submissions(store: Store, course: str, lab: str, incoming: list[Incoming],
                    source_sha: str) -> list[tuple[int, bool]]:
    """Register stored files in one transaction; for each, (submission id, whether it still needs
    grading). Why one transaction: a class of hundreds costs a few queries, not hundreds of commits,
    and a crash leaves either all of them registered or none (their files are kept either way)."""

    def work(session: Session) -> list[tuple[int, bool]]:
        lab_row(session, course, lab)
        students = {s.name: s for s in session.scalars(select(g.Student).where(g.Student.course_id == course))}
        new = [_new_student(course, name) for name in dict.fromkeys(i.student for i in incoming)
               if name not in students]
        session.add_all(new)
        session.flush()
        students.update((s.name, s) for s in new)
        known = {(row.student_id, row.sha256): row for row in session.scalars(
            select(g.Submission).where(g.Submission.course_id == course, g.Submission.lab_id == lab))}
        rows = []
        for item in incoming:
            who = students[item.student]
            row = known.get((who.id, item.sha256))
            if row is None:
                row = known[(who.id, item.sha256)] = g.Submission(
                    course_id=course, lab_id=lab, student_id=who.id, submitted=item.submitted, sha256=item.sha256,
                    path=str(item.path), status="queued", source_sha256="", auto_score=0.0, max_score=0.0,
                    late_s=0.0, penalty=0.0, needs_manual=0, message="", outputs=[])
                session.add(row)
            rows.append(row)
        session.flush()
        result = []
        for row in rows:
            pending = not (row.status == "graded" and row.source_sha256 == source_sha)
            if pending:
                row.status = "queued"
            result.append((row.id, pending))
        return result

    return store.write(work)


@dataclass
class Outcome:
    """One graded submission on its way to the gradebook: its result, or why it could not be graded."""

    submission_id: int
    result: Any = None
    failure: str = ""


def record(store: Store, outcomes: list[Outcome], source_sha: str, policy: LatePolicy) -> None:
    """Write a batch of outcomes in one transaction: each result's tasks, score, penalty and
    outputs (the submission then counts as graded against ``source_sha``), or the failure message.
    Why batches of bulk statements: autograde's writer drains whatever the workers finished into
    one commit of a few executemany statements, so the gradebook's Python work stays small next to
    the workers it shares the cores with."""

    def work(session: Session) -> None:
        ids = [o.submission_id for o in outcomes]
        rows = {row.id: row for row in session.execute(
            select(g.Submission.id, g.Submission.course_id, g.Submission.lab_id, g.Submission.submitted)
            .where(g.Submission.id.in_(ids)))}
        now = m.utcnow()
        dues: dict[tuple[str, str], datetime | None] = {}
        graded: list[dict[str, Any]] = []
        tasks: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for outcome in outcomes:
            row = rows.get(outcome.submission_id)
            if outcome.result is None:  # a failure of a submission deleted meanwhile has nothing to mark
                if row is not None:
                    failed.append({"id": row.id, "status": "failed", "message": outcome.failure[:2000],
                                   "graded": now})
                continue
            if row is None:
                raise NotFoundError(f"submission {outcome.submission_id} was deleted while it was graded")
            key = (row.course_id, row.lab_id)
            if key not in dues:
                dues[key] = lab_row(session, *key).due
            result = outcome.result
            late_s, penalty = policy.penalty(row.submitted, dues[key])
            graded.append({"id": row.id, "late_s": late_s, "penalty": penalty, "auto_score": result.score,
                           "max_score": result.max_score, "needs_manual": int(result.needs_manual),
                           "outputs": [_trim(o) for o in result.outputs], "source_sha256": source_sha,
                           "status": "graded", "message": "", "graded": now})
            tasks += [{"submission_id": row.id, "task_id": task.id, "position": position,
                       "auto_points": task.points, "max_points": task.max_points, "status": task.status,
                       "message": task.message} for position, task in enumerate(result.tasks)]
        if graded:  # a re-grade's old task rows go first (unique per submission and task)
            session.execute(delete(g.TaskGrade).where(g.TaskGrade.submission_id.in_([r["id"] for r in graded])))
            session.execute(update(g.Submission), graded)
        if tasks:
            session.execute(insert(g.TaskGrade), tasks)
        if failed:
            session.execute(update(g.Submission), failed)

    store.write(work)


def _trim(output: dict[str, Any], keep: int = OUTPUT_KEEP) -> dict[str, Any]:
    """What the gradebook keeps of one cell's output for feedback: enough to read, not a flood."""
    trimmed = dict(output)
    for key in ("stdout", "stderr", "code"):
        text = str(trimmed.get(key) or "")
        if len(text) > keep:
            trimmed[key] = text[:keep] + f"\n[{len(text) - keep} more characters not kept]"
    trimmed["display"] = [{k: v[:keep] for k, v in item.items()} for item in trimmed.get("display", [])[:5]]
    return trimmed


def set_points(store: Store, course: str, lab: str, student: str, task: str, points: float, comment: str,
               by: str, submission_id: int | None = None) -> dict[str, Any]:
    """Append a manual adjustment to the student's latest submission (or the one named)."""

    def work(session: Session) -> dict[str, Any]:
        if submission_id is not None:
            row = session.get(g.Submission, submission_id, options=[selectinload(g.Submission.tasks)])
        else:
            row = _latest(session, course, lab, student)
        if row is None:
            raise NotFoundError(f"no submission of lab '{lab}' by '{student}' in course '{course}'; "
                                "`workbench grades export` lists the graded ones")
        task_row = next((t for t in row.tasks if t.task_id == task), None)
        if task_row is None:
            known = ", ".join(t.task_id for t in row.tasks) or "none yet: grade it first"
            raise GradebookError(f"lab '{row.lab_id}' has no task '{task}'; its tasks: {known}")
        if not 0 <= points <= task_row.max_points:
            raise GradebookError(f"points for '{task}' must be between 0 and {task_row.max_points:g}, not {points:g}")
        session.add(g.Adjustment(submission_id=row.id, task_id=task, points=points, by=by, comment=comment))
        session.flush()
        return submission_json(session, row)

    return store.write(work)


# What "latest" means everywhere: the last submitted, the higher id on a tie.
NEWEST_FIRST = (g.Submission.submitted.desc(), g.Submission.id.desc())


def _latest(session: Session, course: str, lab: str, student: str) -> g.Submission | None:
    return session.scalar(
        select(g.Submission).join(g.Student)
        .where(g.Submission.course_id == course, g.Submission.lab_id == lab, g.Student.name == student)
        .options(selectinload(g.Submission.tasks))
        .order_by(*NEWEST_FIRST).limit(1))


def submission_json(session: Session, row: g.Submission, outputs: bool = False) -> dict[str, Any]:
    """A submission with each task's final points (the newest adjustment wins), penalty and total."""
    adjustments: dict[str, g.Adjustment] = {}
    for newer in session.scalars(select(g.Adjustment).where(g.Adjustment.submission_id == row.id)
                                 .order_by(g.Adjustment.at, g.Adjustment.id)):
        adjustments[newer.task_id] = newer
    tasks: list[dict[str, Any]] = []
    for t in row.tasks:
        adj: g.Adjustment | None = adjustments.get(t.task_id)
        tasks.append({"id": t.task_id, "auto_points": t.auto_points, "max_points": t.max_points,
                      "points": adj.points if adj else t.auto_points, "status": t.status, "message": t.message,
                      "adjusted_by": adj.by if adj else None, "comment": adj.comment if adj else "",
                      "adjusted_at": adj.at.isoformat() if adj else None})
    raw = round(sum(t["points"] for t in tasks), 6)
    data: dict[str, Any] = {
        "id": row.id, "course": row.course_id, "lab": row.lab_id, "student": row.student.name,
        "submitted": row.submitted.isoformat(), "sha256": row.sha256, "status": row.status,
        "message": row.message, "graded": row.graded.isoformat() if row.graded else None,
        "raw_score": raw, "max_score": row.max_score, "late_s": row.late_s, "penalty": row.penalty,
        "score": round(raw * (1 - row.penalty), 6), "source_sha256": row.source_sha256,
        "needs_manual": bool(row.needs_manual)
        and any(t["status"] == "manual" and t["adjusted_by"] is None for t in tasks),
        "tasks": tasks,
    }
    if outputs:
        data["outputs"] = row.outputs
    return data


def submissions(store: Store, course: str, lab: str | None = None, student: str | None = None,
                latest_only: bool = False) -> list[dict[str, Any]]:
    """Submissions newest first (``latest_only``: one per student and lab)."""
    with store.session() as session:
        query = (select(g.Submission).join(g.Student).where(g.Submission.course_id == course)
                 .options(selectinload(g.Submission.tasks), selectinload(g.Submission.student))
                 .order_by(*NEWEST_FIRST))
        if lab:
            query = query.where(g.Submission.lab_id == lab)
        if student:
            query = query.where(g.Student.name == student)
        seen: set[tuple[int, str]] = set()
        found = []
        for row in session.scalars(query):
            if latest_only and (row.student_id, row.lab_id) in seen:
                continue
            seen.add((row.student_id, row.lab_id))
            found.append(submission_json(session, row))
        return found


def latest_stored(store: Store, course: str, lab: str) -> list[tuple[int, str, str, str]]:
    """Each student's latest submission of ``lab`` as (id, stored path, status, source_sha256), the
    same "latest" as ``submissions(latest_only=True)``. Why a query of its own: deciding what to
    (re-)grade needs four columns, and building each submission's JSON (its tasks and adjustments, a
    query each) cost an instructor's re-grade of 40 about 50 ms before the first sandbox started."""
    with store.session() as session:
        rows = session.execute(
            select(g.Submission.id, g.Submission.student_id, g.Submission.path, g.Submission.status,
                   g.Submission.source_sha256)
            .where(g.Submission.course_id == course, g.Submission.lab_id == lab)
            .order_by(*NEWEST_FIRST))
        seen: set[int] = set()
        latest = []
        for row in rows:
            if row.student_id not in seen:
                seen.add(row.student_id)
                latest.append((row.id, row.path, row.status, row.source_sha256))
        return latest


def submission(store: Store, submission_id: int, outputs: bool = True) -> dict[str, Any]:
    with store.session() as session:
        row = session.get(g.Submission, submission_id,
                          options=[selectinload(g.Submission.tasks), selectinload(g.Submission.student)])
        if row is None:
            raise NotFoundError(f"no submission {submission_id}")
        return submission_json(session, row, outputs=outputs)


def stored_path(store: Store, submission_id: int) -> str:
    with store.session() as session:
        row = session.get(g.Submission, submission_id)
        if row is None:
            raise NotFoundError(f"no submission {submission_id}")
        return row.path


def set_roster(store: Store, course: str, people: list[dict[str, str]]) -> int:
    """Create or update students with their LMS identifiers (name, email, sis_id, section, lms_id)."""

    def work(session: Session) -> int:
        for person in people:
            row = _student(session, course, check_name(person["name"], "student"))
            for key in ROSTER_FIELDS:
                if person.get(key):
                    setattr(row, key, person[key])
        return len(people)

    return store.write(work)


def roster(store: Store, course: str) -> dict[str, dict[str, str]]:
    """Each student's LMS identifiers (email, SIS id, section, LMS user id), for exports."""
    with store.session() as session:
        return {s.name: {key: getattr(s, key) for key in ROSTER_FIELDS}
                for s in session.scalars(select(g.Student).where(g.Student.course_id == course))}
