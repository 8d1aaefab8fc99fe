"""Store models for the gradebook: students, submissions, task grades, manual adjustments.

A submission row is written *after* its file was renamed into place, with the file's SHA-256, so
the store never names a half-written file; grading fills ``task_grades`` and flips the status in
the same transaction, which is what makes ``workbench autograde`` resumable. A manual
adjustment is an append-only row (who, when, why); the newest one for a task overrides its
automatic points, and earlier ones remain as the audit trail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workbench.store.models import Base, UTCDateTime, utcnow

SUBMISSION_STATES = ("queued", "grading", "graded", "failed")


class Student(Base):
    """A person enrolled in a course, by login name; LMS identifiers are optional for export."""

    __tablename__ = "students"
    __table_args__ = (UniqueConstraint("course_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(300), default="")
    sis_id: Mapped[str] = mapped_column(String(100), default="")
    section: Mapped[str] = mapped_column(String(100), default="")
    lms_id: Mapped[str] = mapped_column(String(100), default="", server_default="")


class Submission(Base):
    """One stored notebook of one student for one lab, and the outcome of grading it."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("student_id", "lab_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[str] = mapped_column(String(100), index=True)
    lab_id: Mapped[str] = mapped_column(String(100), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    submitted: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    source_sha256: Mapped[str] = mapped_column(String(64), default="")
    graded: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    auto_score: Mapped[float] = mapped_column(Float, default=0.0)
    max_score: Mapped[float] = mapped_column(Float, default=0.0)
    late_s: Mapped[float] = mapped_column(Float, default=0.0)
    penalty: Mapped[float] = mapped_column(Float, default=0.0)  # fraction of the score taken off
    needs_manual: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    outputs: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the student's outputs, for feedback
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # grading runs begun (a restart re-queues once)

    student: Mapped[Student] = relationship()
    tasks: Mapped[list[TaskGrade]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", order_by="TaskGrade.position"
    )


class TaskGrade(Base):
    """The automatic result of one graded item of one submission."""

    __tablename__ = "task_grades"
    __table_args__ = (UniqueConstraint("submission_id", "task_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    auto_points: Mapped[float] = mapped_column(Float, default=0.0)
    max_points: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(12))
    message: Mapped[str] = mapped_column(Text, default="")

    submission: Mapped[Submission] = relationship(back_populates="tasks")


class Adjustment(Base):
    """Manual points for a task of a submission, set by a person; the newest row wins."""

    __tablename__ = "grade_adjustments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str] = mapped_column(String(200))
    points: Mapped[float] = mapped_column(Float)
    by: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    comment: Mapped[str] = mapped_column(Text, default="")
