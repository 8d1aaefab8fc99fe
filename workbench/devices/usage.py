"""A holder's use of its quota, from lease rows: what the lease decision refuses by and what
``workbench.session()`` shows (``quota.py``), computed the same way for both."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from workbench.devices import lease_sql as sql
from workbench.devices import policy

if TYPE_CHECKING:  # leases imports this module
    from workbench.devices.leases import Request


class HolderUsage:
    """One holder's standing against its quota, read at most once per decision (fallbacks share it)."""

    def __init__(self, conn: Connection, holder: str, course: str | None, quota: policy.Quota,
                 now: datetime) -> None:
        self.conn, self.holder, self.course, self.quota, self.now = conn, holder, course, quota, now
        self._live: list[dict[str, Any]] | None = None
        self._used: float | None = None

    def problem(self, req: Request) -> str | None:
        """Why the quota refuses ``req``, or None."""
        quota, holder, course = self.quota, self.holder, self.course
        if quota.concurrent_devices is not None:
            if self._live is None:
                self._live = sql.LIVE_OF_HOLDER.run(self.conn, {"holder": holder})
            held = sum(r["count"] for r in self._live)
            if held + req.count > quota.concurrent_devices:
                ids = [r["id"] for r in self._live]
                return policy.concurrent_message(holder, course, quota, held, ids, req.count)
        if quota.device_hours is not None and req.kind in quota.metered:
            start, _ = policy.period_bounds(quota.period, self.now)
            if self._used is None:
                params = {"holder": holder, "course": course, "start": start}
                rows = sql.used_query(bool(course), start is not None, quota.metered).run(self.conn, params)
                self._used = sum(device_seconds(r, self.now, start) for r in rows)
            if self._used >= quota.device_hours * 3600:
                return policy.hours_message(holder, course, quota, self._used, self.now)
        return None


def device_seconds(row: Any, now: datetime, since: datetime | None = None) -> float:
    """Device-seconds of one lease row (``started``, ``ended``, ``count``), optionally only after ``since``."""
    started, ended, count = ((row["started"], row["ended"], row["count"]) if isinstance(row, Mapping)
                             else (row.started, row.ended, row.count))
    if started is None:
        return 0.0
    start = max(started, since) if since else started
    return max(0.0, ((ended or now) - start).total_seconds()) * count
