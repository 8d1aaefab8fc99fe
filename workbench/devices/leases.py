"""Leases: devices granted by one atomic store transaction, renewed by heartbeat, reclaimed by deadline.

``acquire`` runs inside ``Store.write``: on SQLite that is ``BEGIN IMMEDIATE`` (one writer at a
time, so the decision sees every other grant); on PostgreSQL free device rows are taken with
``SELECT ... FOR UPDATE SKIP LOCKED`` and a per-holder advisory lock serialises that holder's quota
check. Every transaction first reclaims leases whose heartbeat deadline has passed, so a dead
kernel's devices come back on the next touch even if no sweep runs.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from workbench.devices import inventory, policy
from workbench.devices.policy import DevicesBusy, LeaseNotFound, NoSuchDevices, Policy, QuotaExceeded
from workbench.store import Store
from workbench.store.leases_models import DeviceSlot, Lease
from workbench.store.models import utcnow

OPEN = ("live", "queued")


@dataclass(frozen=True)
class Request:
    kind: str
    count: int = 1

    @classmethod
    def parse(cls, spec: str) -> Request:
        """``npu:1``, ``gpu`` or ``cpu:2``."""
        kind, _, count = spec.strip().partition(":")
        if kind not in inventory.KINDS or (count and not count.isdigit()) or count == "0":
            raise policy.ConfigError(f"device request {spec!r} must look like npu:1, gpu:1 or cpu:1")
        return cls(kind, int(count or 1))

    def __str__(self) -> str:
        return f"{self.kind}:{self.count}"


def lease_dict(row: Lease, position: int | None = None) -> dict[str, Any]:
    """The lease as the CLI and REST API show it."""
    data = {"lease": row.id, "holder": row.holder, "course": row.course, "kernel_id": row.kernel_id,
            "kind": row.kind, "devices": row.devices, "state": row.state, "deadline": row.deadline,
            "started": row.started, "ended": row.ended, "reason": row.reason or None}
    if row.state == "queued":
        data["queue_position"] = position
    return data


class LeaseManager:
    """Every lease operation of one store, under one inventory and policy."""

    def __init__(self, store: Store, devices: list[inventory.Device], rules: Policy | None = None) -> None:
        self.store = store
        self.devices = devices
        self.policy = rules or Policy()
        self._synced = False

    @classmethod
    def from_settings(cls, store: Store, inventory_path: str) -> LeaseManager:
        data = inventory.load_file(inventory_path)
        return cls(store, inventory.devices(inventory_path), Policy.from_file_data(data, inventory_path))

    # --- inventory -> device rows ------------------------------------------------------------
    def sync(self) -> None:
        """Make the device rows match the inventory; removed devices are disabled, never deleted."""
        if self._synced:
            return
        wanted = {(d.kind, d.ident): d for d in self.devices}
        with self.store.session() as session:
            rows = {(r.kind, r.ident): (r.enabled, r.model) for r in session.scalars(select(DeviceSlot))}
        if {k for k, v in rows.items() if v[0]} != set(wanted) or any(
                rows[k][1] != d.model for k, d in wanted.items() if k in rows):
            def work(s: Session) -> None:
                existing = {(r.kind, r.ident): r for r in s.scalars(select(DeviceSlot))}
                for key, row in existing.items():
                    row.enabled = key in wanted
                    if key in wanted:
                        row.model = wanted[key].model
                for key, dev in wanted.items():
                    if key not in existing:
                        s.add(DeviceSlot(kind=dev.kind, ident=dev.ident, model=dev.model, enabled=True))
            self.store.write(work)
        self._synced = True

    # --- acquire -----------------------------------------------------------------------------
    def acquire(self, holder: str, requests: list[Request], *, course: str | None = None,
                kernel_id: str | None = None, wait: float = 0.0, ttl: float | None = None,
                poll: float = 0.1) -> dict[str, Any]:
        """Grant the first request (then fallbacks) possible; with ``wait``, queue fairly for it."""
        self.sync()
        ttl = ttl or self.policy.heartbeat_s
        give_up = time.monotonic() + wait
        queued: int | None = None
        while True:
            granted = self.store.write(lambda s, q=queued: self._attempt(  # type: ignore[misc]
                s, holder, requests, course, kernel_id, ttl, q, wait > 0))
            if granted["state"] == "live" or time.monotonic() >= give_up:
                break
            queued = granted["lease"]
            time.sleep(poll)
            poll = min(poll * 1.5, 1.0)
        if granted["state"] == "live":
            return granted
        self.release(granted["lease"], reason="gave up waiting in the queue")
        position = granted.get("queue_position") or 1
        message = policy.busy_message(granted["kind"], self._total(granted["kind"]), position, waited=wait)
        raise DevicesBusy(message, position)

    def _total(self, kind: str) -> int:
        return sum(d.kind == kind for d in self.devices)

    def _attempt(self, s: Session, holder: str, requests: list[Request], course: str | None,
                 kernel_id: str | None, ttl: float, queued_id: int | None, may_queue: bool) -> dict[str, Any]:
        if self.store.kind == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(holder.encode())})
        self._reclaim(s)
        now = utcnow()
        mine = s.get(Lease, queued_id) if queued_id else None
        if mine is not None and mine.state != "queued":  # reclaimed while we slept: start over
            mine = None
        quota = self.policy.quota_for(course)
        refusals: list[policy.LeaseRefused] = []
        busy: tuple[Request, int] | None = None
        for req in requests:
            total = self._total(req.kind)
            if total < req.count:
                refusals.append(NoSuchDevices(policy.none_message(req.kind, total, req.count)))
                continue
            over = self._quota_problem(s, holder, course, quota, req, now)
            if over:
                refusals.append(QuotaExceeded(over))
                continue
            ahead, demand = self._ahead(s, req.kind, holder, mine, now)
            free = s.scalar(select(func.count()).select_from(DeviceSlot).where(
                DeviceSlot.kind == req.kind, DeviceSlot.enabled, DeviceSlot.lease_id.is_(None))) or 0
            if free - demand >= req.count:
                slots = self._lock_free(s, req)
                if len(slots) == req.count:
                    return self._grant(s, mine, slots, holder, req, requests, course, kernel_id, ttl, quota)
            if busy is None:
                busy = (req, ahead + 1)
        if busy is None:
            raise refusals[0] if len(refusals) == 1 else type(refusals[0])(
                " ".join(r.message for r in refusals))
        req, position = busy
        if not may_queue:
            raise DevicesBusy(policy.busy_message(req.kind, self._total(req.kind), position), position)
        now = utcnow()
        if mine is None:
            mine = Lease(holder=holder, course=course, kernel_id=kernel_id, kind=req.kind, count=req.count,
                         request=[str(r) for r in requests], devices=[], state="queued", requested=now,
                         deadline=now, ttl_s=ttl, reason="", backend="local")
            s.add(mine)
        mine.kind, mine.count, mine.deadline = req.kind, req.count, now + timedelta(seconds=ttl)
        s.flush()
        return lease_dict(mine, position)

    def _lock_free(self, s: Session, req: Request) -> list[DeviceSlot]:
        query = (select(DeviceSlot).where(DeviceSlot.kind == req.kind, DeviceSlot.enabled,
                                          DeviceSlot.lease_id.is_(None))
                 .order_by(DeviceSlot.id).limit(req.count))
        if self.store.kind == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list(s.scalars(query))

    def _grant(self, s: Session, mine: Lease | None, slots: list[DeviceSlot], holder: str, req: Request,
               requests: list[Request], course: str | None, kernel_id: str | None, ttl: float,
               quota: policy.Quota) -> dict[str, Any]:
        now = utcnow()  # after the slot locks: later than the commit that freed them
        max_end = now + timedelta(hours=quota.max_session_hours) if quota.max_session_hours else None
        deadline = now + timedelta(seconds=ttl)
        if mine is None:
            mine = Lease(holder=holder, course=course, kernel_id=kernel_id,
                         request=[str(r) for r in requests], requested=now, ttl_s=ttl,
                         reason="", backend="local")
            s.add(mine)
        ordered = sorted(slots, key=lambda d: (len(d.ident), d.ident))
        mine.kind, mine.count, mine.state, mine.started = req.kind, req.count, "live", now
        mine.devices = [{"kind": d.kind, "id": d.ident} for d in ordered]
        mine.deadline = min(deadline, max_end) if max_end else deadline
        mine.max_end, mine.last_activity = max_end, now
        s.flush()
        for slot in slots:
            slot.lease_id = mine.id
        return lease_dict(mine)

    def _quota_problem(self, s: Session, holder: str, course: str | None, quota: policy.Quota,
                       req: Request, now: datetime) -> str | None:
        if quota.concurrent_devices is not None:
            live = list(s.scalars(select(Lease).where(Lease.holder == holder, Lease.state == "live")))
            held = sum(r.count for r in live)
            if held + req.count > quota.concurrent_devices:
                return policy.concurrent_message(holder, course, quota, held, [r.id for r in live], req.count)
        if quota.device_hours is not None and req.kind in quota.metered:
            start, _ = policy.period_bounds(quota.period, now)
            used = self._used_seconds(s, holder, course, quota.metered, start, now)
            if used >= quota.device_hours * 3600:
                return policy.hours_message(holder, course, quota, used, now)
        return None

    def _used_seconds(self, s: Session, holder: str, course: str | None, kinds: tuple[str, ...],
                      start: datetime | None, now: datetime) -> float:
        query = select(Lease).where(Lease.holder == holder, Lease.kind.in_(kinds), Lease.started.is_not(None))
        if course:
            query = query.where(Lease.course == course)
        if start is not None:
            query = query.where((Lease.ended.is_(None)) | (Lease.ended > start))
        return sum(_seconds(r, now, start) for r in s.scalars(query))

    def _ahead(self, s: Session, kind: str, holder: str, mine: Lease | None,
               now: datetime) -> tuple[int, int]:
        """Queued requests that go before this one: (how many, how many devices they want)."""
        others = [r for r in s.scalars(select(Lease).where(Lease.state == "queued", Lease.kind == kind))
                  if mine is None or r.id != mine.id]
        if not others:
            return 0, 0
        decayed = self.decayed_usage(s, {r.holder for r in others} | {holder}, now)
        key = (decayed.get(holder, 0.0), mine.requested if mine else now)
        ahead = [r for r in others if (decayed.get(r.holder, 0.0), r.requested) < key]
        return len(ahead), sum(r.count for r in ahead)

    def decayed_usage(self, s: Session, holders: set[str], now: datetime) -> dict[str, float]:
        """Recent device-seconds per holder, halved every ``half_life_hours`` (Slurm's fair-share idea)."""
        half = self.policy.half_life_hours * 3600
        since = now - timedelta(seconds=half * 6)
        rows = s.scalars(select(Lease).where(Lease.holder.in_(holders), Lease.started.is_not(None),
                                             (Lease.ended.is_(None)) | (Lease.ended > since)))
        usage: dict[str, float] = {}
        for r in rows:
            age = (now - (r.ended or now)).total_seconds()
            usage[r.holder] = usage.get(r.holder, 0.0) + _seconds(r, now) * 0.5 ** (age / half)
        return usage

    # --- renew, release, reclaim -------------------------------------------------------------
    def renew(self, lease_id: int, activity: datetime | None = None) -> dict[str, Any]:
        """Heartbeat: push the deadline out (never past the session-length limit)."""
        def work(s: Session) -> dict[str, Any]:
            self._reclaim(s)
            row = s.get(Lease, lease_id)
            if row is None:
                raise LeaseNotFound(f"no lease {lease_id}; `workbench sessions list --all` shows them")
            if row.state in OPEN:
                now = utcnow()
                deadline = now + timedelta(seconds=row.ttl_s)
                row.deadline = min(deadline, row.max_end) if row.max_end else deadline
                if activity is not None:
                    row.last_activity = activity
            return lease_dict(row)
        return self.store.write(work)

    def release(self, lease_id: int, reason: str = "released") -> dict[str, Any]:
        """End a lease and free its devices; releasing an ended lease changes nothing."""
        def work(s: Session) -> dict[str, Any]:
            row = s.get(Lease, lease_id)
            if row is None:
                raise LeaseNotFound(f"no lease {lease_id}; `workbench sessions list --all` shows them")
            if row.state in OPEN:
                self._end(s, [row], "ended", reason)
            return lease_dict(row)
        return self.store.write(work)

    def sweep(self, idle: dict[int, datetime] | None = None) -> list[dict[str, Any]]:
        """Reclaim expired leases, and leases idle past their course's limit; returns what was reclaimed."""
        def work(s: Session) -> list[dict[str, Any]]:
            done = self._reclaim(s)
            now = utcnow()
            if idle:
                for row in s.scalars(select(Lease).where(Lease.id.in_(list(idle)), Lease.state == "live")):
                    limit = self.policy.quota_for(row.course).idle_minutes
                    if limit is not None and now - idle[row.id] >= timedelta(minutes=limit):
                        self._end(s, [row], "reclaimed", policy.idle_reason(limit))
                        done.append(row)
            return [lease_dict(r) for r in done]
        return self.store.write(work)

    def _reclaim(self, s: Session) -> list[Lease]:
        now = utcnow()
        query = select(Lease).where(Lease.state.in_(OPEN), Lease.deadline < now)
        if self.store.kind == "postgresql":
            query = query.with_for_update(skip_locked=True)
        expired = list(s.scalars(query))
        for row in expired:
            length = row.max_end is not None and row.deadline >= row.max_end
            reason = (policy.length_reason((row.max_end - row.started).total_seconds() / 3600)
                      if length and row.max_end and row.started else policy.heartbeat_reason(row.ttl_s))
            self._end(s, [row], "reclaimed" if row.state == "live" else "ended", reason, at=row.deadline)
        return expired

    def _end(self, s: Session, rows: list[Lease], state: str, reason: str,
             at: datetime | None = None) -> None:
        now = utcnow()
        for row in rows:
            row.ended = min(at, now) if at and row.started else now
            if row.started and row.ended < row.started:
                row.ended = row.started
            row.state, row.reason = state, reason
        ids = [r.id for r in rows]
        s.execute(update(DeviceSlot).where(DeviceSlot.lease_id.in_(ids)).values(lease_id=None))

    # --- reading -----------------------------------------------------------------------------
    def get(self, lease_id: int) -> dict[str, Any]:
        with self.store.session() as s:
            row = s.get(Lease, lease_id)
            if row is None:
                raise LeaseNotFound(f"no lease {lease_id}; `workbench sessions list --all` shows them")
            return lease_dict(row)

    def list_leases(self, *, all: bool = False, holder: str | None = None) -> list[dict[str, Any]]:
        self.store.write(self._reclaim)
        with self.store.session() as s:
            query = select(Lease).order_by(Lease.id)
            if not all:
                query = query.where(Lease.state.in_(OPEN))
            if holder:
                query = query.where(Lease.holder == holder)
            rows = list(s.scalars(query))
            positions = self._positions(s, [r for r in rows if r.state == "queued"])
            return [lease_dict(r, positions.get(r.id)) for r in rows]

    def _positions(self, s: Session, queued: list[Lease]) -> dict[int, int]:
        return {r.id: self._ahead(s, r.kind, r.holder, r, utcnow())[0] + 1 for r in queued}

    def held(self) -> dict[tuple[str, str], int]:
        """(kind, id) → lease id for every held device."""
        with self.store.session() as s:
            rows = s.execute(select(DeviceSlot.kind, DeviceSlot.ident, DeviceSlot.lease_id)
                             .where(DeviceSlot.lease_id.is_not(None)))
            return {(k, i): lease for k, i, lease in rows if lease is not None}

    def usage(self, holder: str | None = None) -> list[dict[str, Any]]:
        """Device-seconds per holder and kind, from the lease rows (live ones count up to now)."""
        now = utcnow()
        with self.store.session() as s:
            query = select(Lease).where(Lease.started.is_not(None))
            if holder:
                query = query.where(Lease.holder == holder)
            totals: dict[tuple[str, str], list[float]] = {}
            for row in s.scalars(query):
                entry = totals.setdefault((row.holder, row.kind), [0.0, 0])
                entry[0] += _seconds(row, now)
                entry[1] += 1
        return [{"holder": h, "kind": k, "device_seconds": round(v[0], 6), "leases": int(v[1])}
                for (h, k), v in sorted(totals.items())]


def _seconds(row: Lease, now: datetime, since: datetime | None = None) -> float:
    """Device-seconds of one lease row, optionally only the part after ``since``."""
    if row.started is None:
        return 0.0
    start = max(row.started, since) if since else row.started
    end = row.ended or now
    return max(0.0, (end - start).total_seconds()) * row.count
