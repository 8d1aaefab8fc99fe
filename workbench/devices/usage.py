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
        self._rows: list[dict[str, Any]] | None = None
        self.start, _ = policy.period_bounds(quota.period, now)

    def _read(self) -> list[dict[str, Any]]:
        """The holder's live and metered lease rows, read on the first question (one statement for both)."""
        if self._rows is None:
            quota, params = self.quota, {"holder": self.holder, "course": self.course, "start": self.start}
            query = sql.holder_query(bool(self.course), self.start is not None, quota.metered)
            self._rows = query.run(self.conn, params)
        return self._rows

    def _counts(self, row: dict[str, Any]) -> bool:
        """Whether the row counts against the device-hour quota (the statement also returns live others)."""
        return (row["kind"] in self.quota.metered and (not self.course or row["course"] == self.course)
                and (self.start is None or row["ended"] is None or row["ended"] > self.start))

    def problem(self, req: Request) -> str | None:
        """Why the quota refuses ``req``, or None."""
        quota, holder, course = self.quota, self.holder, self.course
        if quota.concurrent_devices is not None:
            live = [r for r in self._read() if r["state"] == "live"]
            held = sum(r["count"] for r in live)
            if held + req.count > quota.concurrent_devices:
                ids = [r["id"] for r in live]
                return policy.concurrent_message(holder, course, quota, held, ids, req.count)
        if quota.device_hours is not None and req.kind in quota.metered:
            used = sum(device_seconds(r, self.now, self.start) for r in self._read() if self._counts(r))
            if used >= quota.device_hours * 3600:
                return policy.hours_message(holder, course, quota, used, self.now)
        return None


def device_seconds(row: Any, now: datetime, since: datetime | None = None) -> float:
    """Device-seconds of one lease row (``started``, ``ended``, ``count``), optionally only after ``since``."""
    started, ended, count = ((row["started"], row["ended"], row["count"]) if isinstance(row, Mapping)
                             else (row.started, row.ended, row.count))
    if started is None:
        return 0.0
    start = max(started, since) if since else started
    return max(0.0, ((ended or now) - start).total_seconds()) * count
