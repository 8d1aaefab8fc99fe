"""Teams of an event: declared by the organiser, or self-registered (create, join, leave, merge).

A user is in at most one team per event (a unique store row). Merges follow Kaggle: allowed
before the merge deadline, and refused when the two teams together have more counted submissions
than one team could have made by then (``per_day`` times the days since the event opened, capped
at ``total``), so merging is never a way around the limits. A merge needs both teams to ask for it
(either side asks first, the other accepts by asking the same), or an organiser.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workbench.errors import NotFoundError, SubmissionRefused, WorkbenchError
from workbench.hackathon.model import Event
from workbench.store import Store
from workbench.store import events_models as e

TEAM_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:k)")


class TeamError(WorkbenchError):
    """A team action that the event's rules do not allow; the message says which rule."""


def sync_declared(s: Session, event: Event) -> None:
    """Make the store's teams and members those event.yaml declares (declared mode only): a member
    no longer listed leaves (their team's submissions stay the team's)."""
    if event.teams.mode != "declared":
        return
    listed = {user for members in event.teams.declared.values() for user in members}
    s.execute(delete(e.TeamMember).where(e.TeamMember.event_id == event.id, e.TeamMember.user.not_in(listed)))
    for team_id, members in event.teams.declared.items():
        if s.scalar(select(e.Team).where(e.Team.event_id == event.id, e.Team.team_id == team_id)) is None:
            s.add(e.Team(event_id=event.id, team_id=team_id, name=team_id))
        for user in members:
            row = s.scalar(select(e.TeamMember).where(e.TeamMember.event_id == event.id, e.TeamMember.user == user))
            if row is None:
                s.add(e.TeamMember(event_id=event.id, user=user, team_id=team_id))
            else:
                row.team_id = team_id
    s.flush()


def lock(s: Session, event_id: str, *team_ids: str) -> None:
    """Serialise decisions about these teams' counts until the transaction ends. SQLite's write
    transactions (``BEGIN IMMEDIATE``) already run one at a time; PostgreSQL takes a per-team
    advisory lock, as the lease decisions do per holder, in a fixed order so two merges cannot deadlock."""
    if s.get_bind().dialect.name == "postgresql":
        for team_id in sorted(team_ids):
            s.execute(_ADVISORY_LOCK, {"k": zlib.crc32(f"event:{event_id}:{team_id}".encode())})


def team_of(store: Store, event_id: str, user: str) -> str | None:
    with store.session() as s:
        return s.scalar(select(e.TeamMember.team_id).where(e.TeamMember.event_id == event_id,
                                                           e.TeamMember.user == user))


def _self_registration(event: Event, action: str) -> None:
    if event.teams.mode != "self":
        raise TeamError(f"event '{event.id}' declares its teams in event.yaml; {action} is the organiser's "
                        "(edit teams.declared and run `workbench event create` again)")


def _members(s: Session, event_id: str, team_id: str) -> list[str]:
    return list(s.scalars(select(e.TeamMember.user).where(e.TeamMember.event_id == event_id,
                                                          e.TeamMember.team_id == team_id)
                          .order_by(e.TeamMember.user)))


def _team(s: Session, event_id: str, team_id: str) -> e.Team:
    row = s.scalar(select(e.Team).where(e.Team.event_id == event_id, e.Team.team_id == team_id))
    if row is None or row.merged_into:
        merged = f" (merged into '{row.merged_into}')" if row is not None else ""
        raise NotFoundError(f"no team '{team_id}' in event '{event_id}'{merged}; `workbench event team list "
                            f"{event_id}` lists them")
    return row


def _not_in_a_team(s: Session, event_id: str, user: str) -> None:
    current = s.scalar(select(e.TeamMember.team_id).where(e.TeamMember.event_id == event_id,
                                                          e.TeamMember.user == user))
    if current is not None:
        raise TeamError(f"'{user}' is already in team '{current}' of event '{event_id}'; leave it first")


def create(store: Store, event: Event, user: str, team_id: str, name: str = "") -> dict[str, Any]:
    """A new team with ``user`` as its first member."""
    _self_registration(event, "creating a team")
    if not TEAM_ID.fullmatch(team_id):
        raise TeamError(f"team id '{team_id}' is not allowed: use 1-64 lowercase letters, digits, '-' or '_', "
                        "starting with a letter or digit")

    def work(s: Session) -> dict[str, Any]:
        lock(s, event.id, team_id)
        _not_in_a_team(s, event.id, user)
        if s.scalar(select(e.Team.id).where(e.Team.event_id == event.id, e.Team.team_id == team_id)):
            raise TeamError(f"team '{team_id}' exists in event '{event.id}'; join it or pick another id")
        s.add(e.Team(event_id=event.id, team_id=team_id, name=name or team_id))
        s.add(e.TeamMember(event_id=event.id, user=user, team_id=team_id))
        s.flush()
        return _describe(s, event.id, team_id)
    return _write(store, work, user)


def _write(store: Store, work: Callable[[Session], dict[str, Any]], user: str) -> dict[str, Any]:
    """A membership write; the one-team-per-user row refuses a user's second team taken at the same moment."""
    try:
        return store.write(work)
    except IntegrityError as exc:
        raise TeamError(f"'{user}' joined or created another team at the same moment; "
                        "`GET events/<id>` (or `workbench event team list`) shows which") from exc


def join(store: Store, event: Event, user: str, team_id: str) -> dict[str, Any]:
    _self_registration(event, "joining a team")

    def work(s: Session) -> dict[str, Any]:
        lock(s, event.id, team_id)  # two joining at once on PostgreSQL cannot both take the last place
        _not_in_a_team(s, event.id, user)
        _team(s, event.id, team_id)
        size = len(_members(s, event.id, team_id))
        if size >= event.teams.max_size:
            raise TeamError(f"team '{team_id}' is full: {size} of {event.teams.max_size} members "
                            "(teams.max_size in event.yaml)")
        s.add(e.TeamMember(event_id=event.id, user=user, team_id=team_id))
        s.flush()
        return _describe(s, event.id, team_id)
    return _write(store, work, user)


def leave(store: Store, event: Event, user: str) -> dict[str, Any]:
    """``user`` leaves their team; the team and its submissions stay (they were its work)."""
    _self_registration(event, "leaving a team")

    def work(s: Session) -> dict[str, Any]:
        row = s.scalar(select(e.TeamMember).where(e.TeamMember.event_id == event.id, e.TeamMember.user == user))
        if row is None:
            raise TeamError(f"'{user}' is in no team of event '{event.id}'")
        team_id = row.team_id
        s.delete(row)
        s.flush()
        return _describe(s, event.id, team_id)
    return store.write(work)


def allowed_by(event: Event, now: datetime) -> int:
    """How many counted submissions one team may have made by ``now`` (Kaggle's merge rule)."""
    days = max(1, math.floor((now - event.opens).total_seconds() / 86400) + 1)
    return min(event.limits.per_day * days, event.limits.total)


def counted(s: Session, event_id: str, team_id: str) -> int:
    """Submissions that count against a team's limits: not failed, not copies into a later phase."""
    return int(s.scalar(select(func.count()).select_from(e.EventSubmission).where(
        e.EventSubmission.event_id == event_id, e.EventSubmission.team_id == team_id,
        e.EventSubmission.status != "failed", e.EventSubmission.migrated_from.is_(None))) or 0)


def merge(store: Store, event: Event, user: str, source: str, target: str, now: datetime,
          organiser: bool = False) -> dict[str, Any]:
    """Team ``source`` into ``target``: asked by both teams (a member of each) or by an organiser."""
    deadline = event.teams.merge_deadline or event.closes
    if now >= deadline:
        raise TeamError(f"the merge deadline of event '{event.id}' was {deadline.isoformat()}; teams can no "
                        "longer merge")
    if source == target:
        raise TeamError("a team cannot merge into itself")

    def work(s: Session) -> dict[str, Any]:
        lock(s, event.id, source, target)
        src, dst = _team(s, event.id, source), _team(s, event.id, target)
        mine = s.scalar(select(e.TeamMember.team_id).where(e.TeamMember.event_id == event.id,
                                                           e.TeamMember.user == user))
        offer = f"{source}>{target}"
        if not organiser:
            if mine not in (source, target):
                raise TeamError(f"'{user}' is in neither team '{source}' nor '{target}'; a merge is asked for "
                                "by a member of each team")
            other = dst if mine == source else src
            if other.merge_offer != offer:
                (src if mine == source else dst).merge_offer = offer
                return {**_describe(s, event.id, target), "merged": False,
                        "waiting": f"team '{mine}' asked to merge '{source}' into '{target}'; a member of team "
                                   f"'{other.team_id}' accepts by asking for the same merge"}
        size = len(_members(s, event.id, source)) + len(_members(s, event.id, target))
        if size > event.teams.max_size:
            raise TeamError(f"merging '{source}' into '{target}' makes {size} members; teams.max_size is "
                            f"{event.teams.max_size}")
        a, b, cap = counted(s, event.id, source), counted(s, event.id, target), allowed_by(event, now)
        if a + b > cap:
            days = max(1, math.floor((now - event.opens).total_seconds() / 86400) + 1)
            raise SubmissionRefused(
                f"merge refused: '{source}' has {a} and '{target}' has {b} counted submissions, {a + b} together; "
                f"one team may have made at most {cap} by now ({event.limits.per_day} per day x {days} day(s) "
                f"since the event opened, capped at {event.limits.total} in total)")
        for model in (e.TeamMember, e.EventSubmission):
            s.execute(update(model).where(model.event_id == event.id, model.team_id == source)
                      .values(team_id=target))
        src.merged_into, src.merge_offer, dst.merge_offer = target, None, None
        s.flush()
        return {**_describe(s, event.id, target), "merged": True}
    return store.write(work)


def _describe(s: Session, event_id: str, team_id: str) -> dict[str, Any]:
    row = s.scalar(select(e.Team).where(e.Team.event_id == event_id, e.Team.team_id == team_id))
    assert row is not None
    return {"id": row.team_id, "name": row.name, "members": _members(s, event_id, team_id),
            "created": row.created.isoformat(), "merged_into": row.merged_into,
            "submissions": counted(s, event_id, team_id)}


def teams(store: Store, event_id: str) -> list[dict[str, Any]]:
    """Every team that is not merged away, with members and counted submissions."""
    with store.session() as s:
        ids = list(s.scalars(select(e.Team.team_id).where(e.Team.event_id == event_id, e.Team.merged_into.is_(None))
                             .order_by(e.Team.team_id)))
        return [_describe(s, event_id, i) for i in ids]
