"""Team leases: a hackathon kernel's devices are held by the member's team, under the event's quota.

A kernel of an event (its kernel spec's ``course`` is ``event:<id>``, written when the starter is
opened) asks as its user; the lease decision holds it as ``team:<event>:<team>`` instead, so the
team's concurrent devices and device-hours (``events.team_quota``, recorded at registration) bind
all of its members together, and fair share weighs teams against each other. Read here from the
store's event tables, so the lease code needs nothing of ``workbench.hackathon`` (which sits above).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from workbench.devices.policy import LeaseRefused, Quota
from workbench.store.events_models import EventRow, TeamMember

EVENT_PREFIX = "event:"
TEAM_PREFIX = "team:"


def team_holder(event_id: str, team_id: str) -> str:
    """The holder name of a team: never a Unix account name (':' is not allowed in one)."""
    return f"{TEAM_PREFIX}{event_id}:{team_id}"


def event_of(course: str | None) -> str | None:
    """The event a lease's ``course`` names (``event:<id>``), or None for a course's lease."""
    return course[len(EVENT_PREFIX):] if course and course.startswith(EVENT_PREFIX) else None


class NoTeam(LeaseRefused):
    """An event kernel of a user who is in no team of the event."""


def resolve(conn: Connection, user: str, course: str | None) -> tuple[str, Quota] | None:
    """``(team holder, team quota)`` when ``course`` is an event, None otherwise; raises ``NoTeam``
    (with what to do) for a user in no team of it, and ``LeaseRefused`` for an unknown event."""
    event_id = event_of(course)
    if event_id is None:
        return None
    found = conn.execute(select(EventRow.team_quota).where(EventRow.id == event_id)).first()
    if found is None:
        raise LeaseRefused(f"no event '{event_id}' is registered; this kernel spec names it — open the event's "
                           "starter again from the Leaderboard")
    team = conn.execute(select(TeamMember.team_id).where(
        TeamMember.event_id == event_id, TeamMember.user == user)).scalar()
    if team is None:
        raise NoTeam(f"'{user}' is in no team of event '{event_id}', and an event's devices are leased to teams: "
                     "create or join a team in the Leaderboard (or `workbench event team create|join`), then "
                     "restart the kernel")
    return team_holder(event_id, team), team_quota(found[0] or {})


def team_quota(recorded: dict[str, Any]) -> Quota:
    """The event's quota as the lease policy applies it: for the event's whole window, metered on its kind."""
    return Quota(device_hours=recorded.get("device_hours"), period="total",
                 concurrent_devices=recorded.get("devices"), metered=(str(recorded.get("kind", "cpu")),))


def member_of(conn: Connection, user: str, holder: str) -> bool:
    """Whether ``user`` is in the team that ``holder`` names (a kernel may read its team's lease)."""
    if not holder.startswith(TEAM_PREFIX):
        return False
    event_id, _, team = holder[len(TEAM_PREFIX):].partition(":")
    return conn.execute(select(TeamMember.id).where(
        TeamMember.event_id == event_id, TeamMember.team_id == team, TeamMember.user == user)).first() is not None


def holders_of(conn: Connection, user: str) -> list[str]:
    """The team holders ``user`` belongs to, one per event (whose leases the user sees as their own)."""
    rows = conn.execute(select(TeamMember.event_id, TeamMember.team_id).where(TeamMember.user == user))
    return [team_holder(event_id, team) for event_id, team in rows]
