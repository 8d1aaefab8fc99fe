"""Submissions between "queued" and "scored": claimed one at a time, scored in the trusted process.

A scorer claims a queued submission with one conditional UPDATE (so a server and a CLI never score
the same one twice), counting an attempt; the outcome is written only while the row is still
"running", so a run declared overdue cannot be revived by a late answer. A server that starts
finds what a killed predecessor left "running": each goes back to the queue once, and one
interrupted a second time is marked failed with a sentence, so none stays "running" forever.
Labels are read by ``scoring.score`` here, after a notebook's sandboxed run has ended.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from workbench.errors import WorkbenchError
from workbench.hackathon.model import Event
from workbench.store import Store
from workbench.store import events_models as e
from workbench.store.models import utcnow

S = e.EventSubmission
MAX_ATTEMPTS = 2
INTERRUPTED = ("scoring was interrupted twice (the workbench restarted while scoring it); this submission "
               "does not count against your limits: submit again")
_SCORES_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
SCORING_ALLOWANCE_S = 60.0  # beyond a notebook's own run limit, for reading and scoring its predictions


def time_limit(event: Event, kind: str) -> float:
    """How long one scoring run of ``kind`` may take before it is failed as overdue."""
    return SCORING_ALLOWANCE_S + (event.limits.run_timeout_s if kind == "notebook" else 0.0)


def claim(store: Store, sub_id: int | None = None) -> dict[str, Any] | None:
    """Mark the oldest queued submission (or ``sub_id``) running, counting an attempt; None if none."""
    def work(s: Session) -> dict[str, Any] | None:
        query = select(S.id).where(S.status == "queued").order_by(S.id).limit(1)
        found = s.scalar(query.where(S.id == sub_id) if sub_id is not None else query)
        if found is None:
            return None
        done = s.execute(update(S).where(S.id == found, S.status == "queued")
                         .values(status="running", attempts=S.attempts + 1, started=utcnow()))
        if not getattr(done, "rowcount", 0):
            return None
        row = s.get(S, found)
        assert row is not None
        return {"id": row.id, "event": row.event_id, "kind": row.kind, "path": row.path, "team": row.team_id,
                "member": row.member}
    return store.write(work)


def _end(store: Store, sub_id: int, **values: Any) -> bool:
    """Record an outcome, stamped inside the write lock (SQLite's ``BEGIN IMMEDIATE``; an advisory lock on
    PostgreSQL), so scoring times follow commit order: a board that has seen the newest scoring time
    has seen every score before it (``board``'s cache relies on it)."""
    def work(s: Session) -> bool:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(_SCORES_LOCK, {"k": zlib.crc32(b"workbench-event-scores")})
        done = s.execute(update(S).where(S.id == sub_id, S.status == "running").values(scored=utcnow(), **values))
        return bool(getattr(done, "rowcount", 0))
    return store.write(work)


def fail(store: Store, sub_id: int, reason: str) -> bool:
    return _end(store, sub_id, status="failed", reason=reason[:2000])


def score(store: Store, event: Event, claimed: dict[str, Any], python: str = "",
          inventory: str = "") -> dict[str, Any]:
    """Score one claimed submission and record the outcome (scored, or failed with the reason); a
    notebook runs first in the sandbox with ``python`` (``Workbench.lab_python``, '' for our own), on
    one device of the event's quota kind leased as the team from ``inventory`` (``run_device.py``)."""
    from workbench.hackathon import scoring

    try:
        data = Path(claimed["path"]).read_bytes()
        if claimed["kind"] == "notebook":
            from workbench.hackathon import notebook_run, run_device

            with run_device.team_device(store, event, claimed["team"], claimed["member"], inventory,
                                        claimed["id"], time_limit(event, "notebook")) as device:
                data = notebook_run.run_notebook(event, Path(claimed["path"]), python, device)
        result = scoring.score(event, data)
    except WorkbenchError as exc:
        fail(store, claimed["id"], exc.message)
        return {"id": claimed["id"], "status": "failed", "reason": exc.message}
    except Exception as exc:  # the scorer itself broke: the team's submission still must not hang
        reason = f"the scorer failed ({type(exc).__name__}: {exc}); this does not count against your limits"
        fail(store, claimed["id"], reason)
        return {"id": claimed["id"], "status": "failed", "reason": reason}
    _end(store, claimed["id"], status="scored", reason="", public_score=result.public,
         private_score=result.private)
    return {"id": claimed["id"], "status": "scored", "public_score": result.public}


def resume(store: Store) -> tuple[int, int]:
    """At a start: what a killed predecessor left running goes back to the queue once, or fails.
    Returns (re-queued, failed)."""
    def work(s: Session) -> tuple[int, int]:
        rows = s.execute(select(S.id, S.attempts).where(S.status == "running")).all()
        again = [r.id for r in rows if r.attempts < MAX_ATTEMPTS]
        given_up = [r.id for r in rows if r.attempts >= MAX_ATTEMPTS]
        if again:
            s.execute(update(S).where(S.id.in_(again)).values(status="queued", started=None))
        if given_up:
            s.execute(update(S).where(S.id.in_(given_up)).values(status="failed", reason=INTERRUPTED,
                                                                  scored=utcnow()))
        return len(again), len(given_up)
    return store.write(work)


def fail_overdue(store: Store, event: Event, now: datetime) -> int:
    """Fail the event's runs that outlived their time limit (a hung scorer), saying so."""
    def work(s: Session) -> int:
        count = 0
        for kind in event.kinds:
            limit = time_limit(event, kind)
            done = s.execute(update(S).where(
                S.event_id == event.id, S.kind == kind, S.status == "running",
                S.started < now - timedelta(seconds=limit)).values(
                status="failed", scored=now,
                reason=f"scoring did not finish within {limit:g} s (the event's time limit); this does not "
                       "count against your limits"))
            count += int(getattr(done, "rowcount", 0) or 0)
        return count
    return store.write(work)


def migrate(store: Store, event: Event, now: datetime) -> int:
    """For each open phase with ``migrate_from``: queue a copy of each scored submission of the earlier
    phase not copied yet (same stored file, ``migrated_from`` naming the original). Returns how many."""
    def work(s: Session) -> int:
        count = 0
        for phase in event.phases:
            if phase.migrate_from is None or phase.opens > now:
                continue
            copied = select(S.migrated_from).where(S.event_id == event.id, S.phase == phase.id,
                                                   S.migrated_from.is_not(None))
            for row in s.scalars(select(S).where(S.event_id == event.id, S.phase == phase.migrate_from,
                                                 S.status == "scored", S.id.not_in(copied)).order_by(S.id)):
                s.add(S(event_id=event.id, team_id=row.team_id, member=row.member, kind=row.kind,
                        phase=phase.id, created=row.created, sha256=row.sha256, path=row.path, size=row.size,
                        status="queued", reason="", attempts=0, chosen=False, final=False, migrated_from=row.id))
                count += 1
        return count
    return store.write(work)
