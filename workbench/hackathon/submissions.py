"""Accepting a team's submission: window, phase and limits decided atomically, the file kept immutably.

Limits count a team's submissions that are queued, running or scored; a ``failed`` one (a bad
file, a crashed run) does not count, nor a copy migrated into a later phase. "Per day" means the
calendar day in the event's own time zone (``timezone`` in event.yaml), so a day's allowance
resets at the organiser's midnight, as the refusal says. The check and the insert are one write
transaction serialised per team (``teams.lock``): 50 teams at once, or one team racing its own
limit from many tabs, count exactly. A refusal names the reason and when the next is allowed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from workbench.atomic import write_atomically
from workbench.errors import NotFoundError, SubmissionRefused
from workbench.hackathon import teams
from workbench.hackathon.model import Event
from workbench.store import Store
from workbench.store import events_models as e

MAX_BYTES = 64 * 1024 * 1024
SUFFIX = {"predictions": ".csv", "notebook": ".ipynb"}
S = e.EventSubmission


def day_bounds(event: Event, now: datetime) -> tuple[datetime, datetime]:
    """The start of ``now``'s calendar day in the event's time zone, and the next day's start."""
    zone = ZoneInfo(event.timezone)
    day = now.astimezone(zone).date()
    return (datetime.combine(day, time(0), tzinfo=zone),
            datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone))


def _window(event: Event, kind: str, size: int, now: datetime) -> str:
    """The phase a submission at ``now`` goes to, or SubmissionRefused saying why and when."""
    if kind not in event.kinds:
        raise SubmissionRefused(f"event '{event.id}' takes {' or '.join(event.kinds)} submissions, not '{kind}'")
    if size == 0:
        raise SubmissionRefused("the submission is empty; send the predictions CSV or the notebook")
    if size > MAX_BYTES:
        raise SubmissionRefused(f"the submission is {size} bytes; the most a submission may be is {MAX_BYTES}")
    if now < event.opens:
        raise SubmissionRefused(f"event '{event.id}' opens at {event.opens.isoformat()}; "
                                f"the first submission is allowed then")
    if now >= event.closes:
        raise SubmissionRefused(f"event '{event.id}' closed at {event.closes.isoformat()}; "
                                "no further submission is allowed")
    phase = event.phase_at(now)
    if phase is None:
        later = [p.opens for p in event.phases if p.opens > now]
        when = f"; the next is allowed when the next phase opens at {min(later).isoformat()}" if later else ""
        raise SubmissionRefused(f"no phase of event '{event.id}' is open at {now.isoformat()}{when}")
    return phase.id


def _limits(s: Session, event: Event, team_id: str, now: datetime) -> None:
    counted = (S.event_id == event.id, S.team_id == team_id, S.status != "failed", S.migrated_from.is_(None))
    total = int(s.scalar(select(func.count()).select_from(S).where(*counted)) or 0)
    if total >= event.limits.total:
        raise SubmissionRefused(f"team '{team_id}' has used all {event.limits.total} submissions of event "
                                f"'{event.id}' (failed ones do not count); no further submission is allowed")
    start, end = day_bounds(event, now)
    today = int(s.scalar(select(func.count()).select_from(S).where(*counted, S.created >= start)) or 0)
    if today >= event.limits.per_day:
        nxt = (f"the next is allowed at {end.isoformat()}" if end < event.closes
               else f"the event closes at {event.closes.isoformat()} before the next day begins")
        raise SubmissionRefused(
            f"team '{team_id}' has made {today} of its {event.limits.per_day} submissions today "
            f"(days in the event's time zone, {event.timezone}; failed ones do not count); {nxt}")


def _keep(data: bytes, folder: Path, name: str) -> Path:
    """Write ``data`` as ``folder/name`` by temp file + rename; folders only the service reads (0700)."""
    for part in reversed([folder, *folder.parents][:3]):
        part.mkdir(mode=0o700, exist_ok=True)
    target = folder / name
    if not target.exists():
        write_atomically(target, data, durable=True)
    return target


def accept(store: Store, event: Event, team_id: str, member: str, kind: str, data: bytes, now: datetime,
           data_dir: Path) -> dict[str, Any]:
    """Store a submission of ``team_id`` (queued for scoring), or raise SubmissionRefused."""
    phase = _window(event, kind, len(data), now)
    sha = hashlib.sha256(data).hexdigest()
    folder = data_dir / "events" / event.id / team_id

    def work(s: Session) -> dict[str, Any]:
        teams.lock(s, event.id, team_id)
        if s.scalar(select(e.TeamMember.team_id).where(e.TeamMember.event_id == event.id,
                                                       e.TeamMember.user == member)) != team_id:
            raise SubmissionRefused(f"'{member}' is not a member of team '{team_id}' of event '{event.id}'")
        _limits(s, event, team_id, now)
        path = _keep(data, folder, f"{sha[:16]}{SUFFIX[kind]}")
        row = S(event_id=event.id, team_id=team_id, member=member, kind=kind, phase=phase, created=now,
                sha256=sha, path=str(path), size=len(data), status="queued", reason="", attempts=0,
                chosen=False, final=False)
        s.add(row)
        s.flush()
        return record(row)
    data_dir.mkdir(parents=True, exist_ok=True)
    return store.write(work)


def record(row: e.EventSubmission) -> dict[str, Any]:
    """A submission as the organiser sees it (every field; ``visible`` trims it for a team)."""
    return {"id": row.id, "event": row.event_id, "team": row.team_id, "member": row.member, "kind": row.kind,
            "phase": row.phase, "created": row.created.isoformat(), "sha256": row.sha256, "size": row.size,
            "status": row.status, "reason": row.reason, "attempts": row.attempts,
            "scored": row.scored.isoformat() if row.scored else None,
            "public_score": row.public_score, "private_score": row.private_score,
            "chosen": row.chosen, "final": row.final, "migrated_from": row.migrated_from}


def visible(sub: dict[str, Any], event: Event, finalized: bool) -> dict[str, Any]:
    """What a team sees of its own submission: private scores only after finalize, and nothing of
    a score in a blind phase (the row says "received")."""
    shown = {k: v for k, v in sub.items() if k != "private_score"}
    if finalized:
        shown["private_score"] = sub["private_score"]
    phase = event.phase(sub["phase"])
    if phase is not None and phase.blind and not finalized:
        shown["public_score"] = None
        shown["status"] = "received" if sub["status"] in ("scored", "queued", "running") else sub["status"]
    return shown


def listing(store: Store, event_id: str, team_id: str | None = None) -> list[dict[str, Any]]:
    """A team's submissions (every team's when None), newest first."""
    with store.session() as s:
        query = select(S).where(S.event_id == event_id).order_by(S.created.desc(), S.id.desc())
        if team_id is not None:
            query = query.where(S.team_id == team_id)
        return [record(row) for row in s.scalars(query)]


def get(store: Store, event_id: str, sub_id: int) -> dict[str, Any]:
    with store.session() as s:
        row = s.get(S, sub_id)
        if row is None or row.event_id != event_id:
            raise NotFoundError(f"no submission {sub_id} in event '{event_id}'")
        return record(row)


def choose(store: Store, event: Event, team_id: str, ids: list[int]) -> list[dict[str, Any]]:
    """The team's final entries for the ``chosen`` rule: up to ``k`` of its scored submissions."""
    if len(set(ids)) > event.selection.k:
        raise SubmissionRefused(f"event '{event.id}' lets a team choose up to {event.selection.k} final "
                                f"entries; {len(set(ids))} were chosen")

    def work(s: Session) -> list[dict[str, Any]]:
        teams.lock(s, event.id, team_id)
        rows = list(s.scalars(select(S).where(S.id.in_(ids)))) if ids else []
        for row in rows:
            if row.event_id != event.id or row.team_id != team_id:
                raise NotFoundError(f"no submission {row.id} of team '{team_id}' in event '{event.id}'")
            if row.status != "scored":
                raise SubmissionRefused(f"submission {row.id} is {row.status}; only scored ones can be chosen")
        missing = set(ids) - {row.id for row in rows}
        if missing:
            raise NotFoundError(f"no submission {min(missing)} of team '{team_id}' in event '{event.id}'")
        s.execute(update(S).where(S.event_id == event.id, S.team_id == team_id).values(chosen=False))
        s.execute(update(S).where(S.id.in_(ids or [-1])).values(chosen=True))
        s.flush()
        return [record(r) for r in s.scalars(select(S).where(S.event_id == event.id, S.team_id == team_id,
                                                             S.chosen.is_(True)))]
    return store.write(work)
