"""How much of a holder's quota is used, for ``workbench.session()`` and the session widget.

Computed from the lease rows with the same rules that refuse a request (``LeaseManager``'s quota
check), so what the student sees is what the next request will be judged by.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from workbench.devices import team_holders
from workbench.devices.policy import Policy, period_bounds
from workbench.devices.usage import device_seconds
from workbench.store import Store
from workbench.store.events_models import EventRow
from workbench.store.leases_models import Lease
from workbench.store.models import utcnow


def quota_status(store: Store, rules: Policy, holder: str, course: str | None,
                 now: datetime | None = None) -> dict[str, Any]:
    """Used and limit device-hours in the current period, when it resets, and the other limits."""
    now = now or utcnow()
    quota = rules.quota_for(course)
    event = team_holders.event_of(course)
    if event is not None:  # a team's lease: the event's team quota, as the lease decision applies it
        with store.session() as s:
            quota = team_holders.team_quota(s.scalar(select(EventRow.team_quota).where(EventRow.id == event)) or {})
    start, reset = period_bounds(quota.period, now)
    query = select(Lease).where(Lease.holder == holder, Lease.kind.in_(quota.metered), Lease.started.is_not(None))
    if course:
        query = query.where(Lease.course == course)
    if start is not None:
        query = query.where((Lease.ended.is_(None)) | (Lease.ended > start))
    with store.session() as s:
        used = sum(device_seconds(r, now, start) for r in s.scalars(query))
    return {"holder": holder, "course": course, "used_hours": round(used / 3600, 4),
            "limit_hours": quota.device_hours, "period": quota.period, "resets": reset,
            "metered": list(quota.metered), "concurrent_devices": quota.concurrent_devices,
            "max_session_hours": quota.max_session_hours, "idle_minutes": quota.idle_minutes}


def team_standing(store: Store, holder: str, course: str | None) -> dict[str, Any] | None:
    """A team lease's team and the device-hours its event quota has left (None when unlimited), for
    the status bar; None for a lease that is not a team's."""
    if not holder.startswith(team_holders.TEAM_PREFIX) or team_holders.event_of(course) is None:
        return None
    status = quota_status(store, Policy(), holder, course)
    limit = status["limit_hours"]
    left = None if limit is None else round(max(0.0, limit - status["used_hours"]), 4)
    return {"team": holder.rpartition(":")[2], "team_hours_left": left}


def event_team_hours(store: Store, event_id: str) -> dict[str, float]:
    """Device-hours each team of an event has used so far (its kernels' leases, course ``event:<id>``),
    for the organiser's view of quota use."""
    now, course = utcnow(), f"{team_holders.EVENT_PREFIX}{event_id}"
    used: dict[str, float] = {}
    with store.session() as s:
        for row in s.scalars(select(Lease).where(Lease.course == course, Lease.started.is_not(None))):
            team = row.holder.rpartition(":")[2]
            used[team] = used.get(team, 0.0) + device_seconds(row, now) / 3600
    return used
