"""Submissions between "stored" and "graded": no submission stays queued forever.

A grading run marks its submissions as begun (``begin``); a run that dies as a whole (the source
vanished, no sandbox, a crash of the grading thread) marks what it left queued as failed with the
reason (``fail_queued``); and a server that starts finds what a killed predecessor left queued
(``resume``): each such submission is graded again once, and one interrupted a second time is
marked failed, so a submission that kills its grader cannot stall the queue forever.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workbench.store import Store
from workbench.store import gradebook_models as g
from workbench.store import models as m

MAX_ATTEMPTS = 2
INTERRUPTED = ("grading was interrupted twice (the workbench restarted while grading it); "
               "submit again, or ask your instructor to autograde the lab")


def begin(store: Store, ids: list[int]) -> None:
    """Count one more grading run for each submission."""
    if ids:
        store.write(lambda s: s.execute(update(g.Submission).where(g.Submission.id.in_(ids))
                                        .values(attempts=g.Submission.attempts + 1)))


def fail_queued(store: Store, ids: list[int], reason: str) -> int:
    """Mark the submissions of a failed run that are still queued as failed, saying why."""
    def work(s: Session) -> int:
        result = s.execute(update(g.Submission).where(g.Submission.id.in_(ids), g.Submission.status == "queued")
                           .values(status="failed", message=reason[:2000], graded=m.utcnow()))
        return int(getattr(result, "rowcount", 0) or 0)
    return store.write(work) if ids else 0


def resume(store: Store) -> dict[tuple[str, str], list[tuple[int, Path]]]:
    """What a restarted server must grade again, by (course, lab); the twice-interrupted are failed."""
    def work(s: Session) -> dict[tuple[str, str], list[tuple[int, Path]]]:
        rows = s.execute(select(g.Submission.id, g.Submission.course_id, g.Submission.lab_id, g.Submission.path,
                                g.Submission.attempts).where(g.Submission.status == "queued")).all()
        again: dict[tuple[str, str], list[tuple[int, Path]]] = defaultdict(list)
        given_up = [row.id for row in rows if row.attempts >= MAX_ATTEMPTS]
        for row in rows:
            if row.attempts < MAX_ATTEMPTS:
                again[(row.course_id, row.lab_id)].append((row.id, Path(row.path)))
        if given_up:
            s.execute(update(g.Submission).where(g.Submission.id.in_(given_up))
                      .values(status="failed", message=INTERRUPTED, graded=m.utcnow()))
        return dict(again)
    return store.write(work)
