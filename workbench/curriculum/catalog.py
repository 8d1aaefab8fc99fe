"""The course catalog in the store: what `course add` writes and the REST API reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from workbench.curriculum.model import Course
from workbench.errors import NotFoundError
from workbench.store import Store
from workbench.store import models as m


def register(store: Store, course: Course) -> bool:
    """Insert or update ``course`` and its labs; return True when it was new."""

    def work(session: Session) -> bool:
        row = session.get(m.Course, course.id, options=[selectinload(m.Course.labs)])
        created = row is None
        if row is None:
            row = m.Course(id=course.id)
            session.add(row)
        row.title = course.title
        row.description = course.description
        row.path = str(course.root)
        row.instructors = list(course.instructors)
        row.updated = m.utcnow()
        wanted = {lab.id for lab in course.labs}
        for gone in [lab for lab in row.labs if lab.lab_id not in wanted]:
            row.labs.remove(gone)
        existing = {lab.lab_id: lab for lab in row.labs}
        for position, lab in enumerate(course.labs):
            lab_row = existing.get(lab.id)
            if lab_row is None:
                lab_row = m.Lab(lab_id=lab.id)
                row.labs.append(lab_row)
            lab_row.title = lab.title
            lab_row.notebook = str(lab.notebook)
            lab_row.points = lab.points
            lab_row.due = lab.due
            lab_row.device = lab.device.to_json()
            lab_row.frameworks = list(lab.frameworks)
            lab_row.limits = dict(lab.grading)
            lab_row.position = position
        return created

    return store.write(work)


def _lab_json(lab: m.Lab) -> dict[str, Any]:
    return {
        "id": lab.lab_id,
        "title": lab.title,
        "points": lab.points,
        "due": lab.due.isoformat() if lab.due else None,
        "device": lab.device,
        "frameworks": lab.frameworks,
        "grading": lab.limits,
    }


def course_json(course: m.Course) -> dict[str, Any]:
    return {
        "id": course.id,
        "title": course.title,
        "description": course.description,
        "labs": [_lab_json(lab) for lab in course.labs],
    }


def list_courses(store: Store) -> list[dict[str, Any]]:
    with store.session() as session:
        rows = session.scalars(
            select(m.Course).options(selectinload(m.Course.labs)).order_by(m.Course.id)
        )
        return [course_json(row) for row in rows]


def instructors(store: Store) -> dict[str, list[str]]:
    """Each course's ``roles.instructors`` from its course.yaml."""
    with store.session() as session:
        return {row.id: list(row.instructors or []) for row in session.scalars(select(m.Course))}


def course_row(session: Session, course_id: str, with_labs: bool = False) -> m.Course:
    """The course's row, or the NotFoundError every caller would otherwise spell out."""
    row = session.get(m.Course, course_id, options=[selectinload(m.Course.labs)] if with_labs else [])
    if row is None:
        raise NotFoundError(f"no course '{course_id}'; `workbench course list` shows the courses")
    return row


def lab_row(session: Session, course_id: str, lab_id: str) -> m.Lab:
    """The lab's row, or the NotFoundError every caller would otherwise spell out."""
    row = session.scalar(select(m.Lab).where(m.Lab.course_id == course_id, m.Lab.lab_id == lab_id))
    if row is None:
        raise NotFoundError(f"no lab '{lab_id}' in course '{course_id}'; `workbench course list` shows the labs "
                            "(`workbench course add DIR` adds or updates a course)")
    return row


def get_course(store: Store, course_id: str) -> dict[str, Any]:
    with store.session() as session:
        return course_json(course_row(session, course_id, with_labs=True))


def lab_notebook(store: Store, course_id: str, lab_id: str) -> Path:
    """The source notebook of a lab, checked to still exist where the course was added from."""
    with store.session() as session:
        path = Path(lab_row(session, course_id, lab_id).notebook)
    if not path.is_file():
        raise NotFoundError(
            f"lab '{lab_id}' of course '{course_id}' points at {path}, which no longer exists; "
            "run `workbench course add` again with the course's new location"
        )
    return path


def get_course_path(store: Store, course_id: str) -> str:
    """Where the course directory was added from (for its data/ folder)."""
    with store.session() as session:
        return course_row(session, course_id).path


def lab_limits(store: Store, course_id: str, lab_id: str) -> dict[str, float]:
    """The grading limits the course sets for a lab (course.yaml `grading:`); empty means the grader's defaults."""
    with store.session() as session:
        return dict(lab_row(session, course_id, lab_id).limits or {})
