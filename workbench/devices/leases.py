"""Leases: devices granted by one atomic store transaction, renewed by heartbeat, reclaimed by deadline.

``acquire`` runs inside ``Store.write``: on SQLite that is ``BEGIN IMMEDIATE`` (one writer at a
time, so the decision sees every other grant); on PostgreSQL free device rows are taken with
``SELECT ... FOR UPDATE SKIP LOCKED`` and a per-holder advisory lock serialises that holder's quota
check. Every transaction first reclaims leases whose heartbeat deadline has passed, so a dead
kernel's devices come back on the next touch even if no sweep runs. The decisions run the
prebuilt Core statements of ``lease_sql`` (one index probe each), not ORM objects.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from workbench.devices import fair_share, inventory, policy, team_holders
from workbench.devices import lease_sql as sql
from workbench.devices.lease_sql import OPEN
from workbench.devices.policy import DevicesBusy, LeaseNotFound, NoSuchDevices, Policy, QuotaExceeded
from workbench.devices.usage import HolderUsage, device_seconds
from workbench.store import Store
from workbench.store.leases_models import DeviceSlot, Lease
from workbench.store.models import utcnow


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


def lease_dict(lease: Lease | Mapping[str, Any], position: int | None = None) -> dict[str, Any]:
    """The lease (an ORM row, or its columns as a mapping) as the CLI and REST API show it."""
    row = sql.lease_values(lease)
    data = {"lease": row["id"], "holder": row["holder"], "course": row["course"], "kernel_id": row["kernel_id"],
            "kind": row["kind"], "devices": row["devices"], "state": row["state"], "deadline": row["deadline"],
            "started": row["started"], "ended": row["ended"], "reason": row["reason"] or None,
            "backend": row["backend"], "backend_ref": row["backend_ref"], "max_end": row["max_end"]}
    if row["state"] == "queued":
        data["queue_position"] = position
    return data


class LeaseManager:
    """Every lease operation of one store, under one inventory and policy."""

    def __init__(self, store: Store, devices: list[inventory.Device], rules: Policy | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.devices = devices
        self._totals = Counter(d.kind for d in devices)  # asked on every decision
        self.policy = rules or Policy()
        self.clock = clock  # "now" of every decision; a simulator passes its own (bench/center_sim.py)
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
        changed = {k for k, v in rows.items() if v[0]} != set(wanted) or any(
            rows[k][1] != d.model for k, d in wanted.items() if k in rows)

        def work(s: Session) -> None:  # one transaction: the device rows if changed, the fair-share rows
            if changed:
                existing = {(r.kind, r.ident): r for r in s.scalars(select(DeviceSlot))}
                for key, row in existing.items():
                    row.enabled = key in wanted
                    if key in wanted:
                        row.model = wanted[key].model
                for key, dev in wanted.items():
                    if key not in existing:
                        s.add(DeviceSlot(kind=dev.kind, ident=dev.ident, model=dev.model, enabled=True))
            fair_share.rebuild(s.connection(), self._half_life_s, self.clock())
        self.store.write(work)
        self._synced = True

    @property
    def _half_life_s(self) -> float:
        return self.policy.half_life_hours * 3600

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
            granted = self.store.write_core(lambda c, q=queued: self._attempt(  # type: ignore[misc]
                c, holder, requests, course, kernel_id, ttl, q, wait > 0))
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

    def try_acquire(self, holder: str, requests: list[Request], *, course: str | None = None,
                    kernel_id: str | None = None, ttl: float | None = None, queued: int | None = None
                    ) -> dict[str, Any]:
        """One decision that never sleeps: a live lease, or a queued row to pass back as ``queued`` on
        the next try (``renew`` keeps it, ``release`` gives up its place). ``acquire`` is this in a
        sleep loop; a caller with its own event loop (a simulator) cannot block in that loop."""
        self.sync()
        ttl = ttl or self.policy.heartbeat_s
        return self.store.write_core(lambda c: self._attempt(c, holder, requests, course, kernel_id, ttl, queued, True))

    def _total(self, kind: str) -> int:
        return self._totals[kind]

    def _holder_and_quota(self, conn: Connection, holder: str, course: str | None) -> tuple[str, policy.Quota]:
        """Who holds the lease and under which quota: an event's kernel leases as its user's team,
        under the event's team quota (``team_holders``); any other as itself, under its course's."""
        return team_holders.resolve(conn, holder, course) or (holder, self.policy.quota_for(course))

    def _attempt(self, conn: Connection, holder: str, requests: list[Request], course: str | None,
                 kernel_id: str | None, ttl: float, queued_id: int | None, may_queue: bool) -> dict[str, Any]:
        pg = self.store.kind == "postgresql"
        holder, quota = self._holder_and_quota(conn, holder, course)
        now = self.clock()
        sql.reclaim(conn, now, pg, lock=zlib.crc32(holder.encode()))  # PostgreSQL: the holder's lock first
        found = sql.LEASE_BY_ID.run(conn, {"lid": queued_id}) if queued_id else []
        mine = found[0] if found and found[0]["state"] == "queued" else None  # else reclaimed while we slept
        usage = HolderUsage(conn, holder, course, quota, now)  # read once, whatever the fallbacks
        refusals: list[policy.LeaseRefused] = []
        busy: Request | None = None
        for req in requests:
            total = self._total(req.kind)
            if total < req.count:
                refusals.append(NoSuchDevices(policy.none_message(req.kind, total, req.count)))
                continue
            over = usage.problem(req)
            if over:
                refusals.append(QuotaExceeded(over))
                continue
            # PostgreSQL, one device, no fallback left: taken and granted in one statement (``take_and_grant``)
            last = req is requests[-1] and pg and mine is None and req.count == 1
            live = self._live(req, quota, ttl, []) if last else None
            fused = live and self._new_row(live, holder, requests, course, kernel_id, ttl, live["started"], "live")
            slots = self._free(conn, req, holder, mine, now, pg, fused)
            if fused and slots and slots[0].get("lease") is not None:  # taken and granted in that one statement
                fused["devices"] = [{"kind": req.kind, "id": slots[0]["ident"]}]
                return lease_dict({**fused, "id": slots[0]["lease"]})
            if len(slots) == req.count:
                return self._grant(conn, mine, slots, holder, req, requests, course, kernel_id, ttl, quota)
            busy = busy or req
        if busy is None:
            raise refusals[0] if len(refusals) == 1 else type(refusals[0])(
                " ".join(r.message for r in refusals))
        req, position = busy, fair_share.ahead(conn, busy.kind, holder, mine, now)[0] + 1
        if not may_queue:
            raise DevicesBusy(policy.busy_message(req.kind, self._total(req.kind), position), position)
        now = self.clock()
        values = {"kind": req.kind, "count": req.count, "deadline": now + timedelta(seconds=ttl)}
        return lease_dict(self._save(conn, mine, values, holder, requests, course, kernel_id, ttl, now,
                                     state="queued"), position)

    def _free(self, conn: Connection, req: Request, holder: str, mine: Mapping[str, Any] | None, now: datetime,
              pg: bool, fused: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Free devices ``req`` may take (locked on PostgreSQL, skipping rows another decision holds);
        fewer than it asks for means busy. With nobody else queued for the kind, the first free rows,
        in one statement — which with ``fused`` (a new live lease row) also writes that lease when it
        took them (``lease``: its id); else only if enough are free beyond what the requests ahead of it
        in fair-share order want — the order is computed only then: with too few free, a request is
        busy wherever it stands."""
        where = {"mine": mine["id"] if mine else 0}
        rows = (sql.take_and_grant(req.kind).run(conn, {
            **fused, **sql.usage_params(holder, req.count, fused["started"], self._half_life_s), **where})
            if fused else sql.take_or_probe(req.kind, req.count, pg).run(conn, where))
        if rows[0]["id"] is not None:
            return rows
        probe = rows[0]  # none taken: too few free, or others queued
        free = int(probe["free"])
        if not probe["queued"] or free < req.count or (
                free - fair_share.ahead(conn, req.kind, holder, mine, now)[1] < req.count):
            return []
        return sql.free_rows(req.kind, req.count, pg).run(conn, where)

    def _save(self, conn: Connection, mine: Mapping[str, Any] | None, values: dict[str, Any], holder: str,
              requests: list[Request], course: str | None, kernel_id: str | None, ttl: float, now: datetime,
              state: str) -> dict[str, Any]:
        """Update the caller's queued row with ``values``, or insert a new lease row; returns its columns."""
        if mine is not None:
            conn.execute(sql.UPDATE_LEASE, {"lid": mine["id"], **values})
            return {**mine, **values}
        row = self._new_row(values, holder, requests, course, kernel_id, ttl, now, state)
        [key] = sql.INSERT_LEASE.run(conn, row)
        return {**key, **row}

    @staticmethod
    def _new_row(values: dict[str, Any], holder: str, requests: list[Request], course: str | None,
                 kernel_id: str | None, ttl: float, now: datetime, state: str) -> dict[str, Any]:
        """A new lease row's columns but its id: ``values`` over the defaults."""
        return {"holder": holder, "course": course, "kernel_id": kernel_id, "kind": values["kind"],
                "count": values["count"], "request": [str(r) for r in requests], "devices": [], "state": state,
                "requested": now, "started": None, "deadline": now, "max_end": None, "ended": None,
                "last_activity": None, "ttl_s": ttl, "reason": "", "backend": "local", "backend_ref": None,
                **values}

    def _grant(self, conn: Connection, mine: Mapping[str, Any] | None, slots: Sequence[Any], holder: str,
               req: Request, requests: list[Request], course: str | None, kernel_id: str | None, ttl: float,
               quota: policy.Quota) -> dict[str, Any]:
        ordered = sorted(slots, key=lambda d: (len(d["ident"]), d["ident"]))  # after the slot locks (_live)
        values = self._live(req, quota, ttl, [{"kind": req.kind, "id": d["ident"]} for d in ordered])
        now = values["started"]
        if mine is None and self.store.kind == "postgresql":  # one statement: row, devices, usage
            row = self._new_row(values, holder, requests, course, kernel_id, ttl, now, state="live")
            use = sql.usage_params(holder, req.count, now, self._half_life_s)
            [key] = sql.GRANT_NEW_PG.run(conn, {**row, **use, "slot": slots[0]["id"]})
            if len(slots) > 1:
                sql.TAKE_SLOT.run(conn, [{"lid": key["id"], "slot": d["id"]} for d in slots[1:]])
            return lease_dict({**key, **row})
        row = self._save(conn, mine, values, holder, requests, course, kernel_id, ttl, now, state="live")
        sql.TAKE_SLOT.run(conn, [{"lid": row["id"], "slot": d["id"]} for d in slots])
        sql.start_usage(conn, holder, req.count, now, self._half_life_s)
        return lease_dict(row)

    def _live(self, req: Request, quota: policy.Quota, ttl: float, devices: list[dict[str, str]]) -> dict[str, Any]:
        """A live lease's columns from now: read after the devices were locked, now is later than the
        commit that freed them — or, read before (``take_and_grant``), checked against their ``freed``."""
        now = self.clock()
        max_end = now + timedelta(hours=quota.max_session_hours) if quota.max_session_hours else None
        deadline = now + timedelta(seconds=ttl)
        return {"kind": req.kind, "count": req.count, "state": "live", "started": now, "devices": devices,
                "deadline": min(deadline, max_end) if max_end else deadline, "max_end": max_end, "last_activity": now}

    def decayed_usage(self, s: Session | Connection, holders: set[str], now: datetime) -> dict[str, float]:
        """Recent device-seconds per holder, halved every ``half_life_hours``: the fair-share key
        (``fair_share``); a holder that never held a device is left out (its key is 0)."""
        return fair_share.decayed(s.connection() if isinstance(s, Session) else s, holders, now)

    # --- backends that place devices themselves (Slurm, later Kubernetes) ----------------------
    def admit(self, holder: str, req: Request, requests: list[Request], *, backend: str,
              course: str | None = None, kernel_id: str | None = None, ttl: float | None = None,
              wait: float = 0.0) -> dict[str, Any]:
        """Quota checks and a queued row; the backend's scheduler then decides placement (see ``placed``)."""
        ttl = ttl or self.policy.heartbeat_s

        def work(s: Session) -> dict[str, Any]:
            lessee, quota = self._holder_and_quota(s.connection(), holder, course)
            if self.store.kind == "postgresql":
                s.execute(sql.ADVISORY_LOCK, {"k": zlib.crc32(lessee.encode())})
            self._reclaim(s.connection())
            now = self.clock()
            over = HolderUsage(s.connection(), lessee, course, quota, now).problem(req)
            if over:
                raise QuotaExceeded(over)
            values = {"kind": req.kind, "count": req.count, "deadline": now + timedelta(seconds=ttl + wait),
                      "backend": backend}
            return lease_dict(self._save(s.connection(), None, values, lessee, requests, course, kernel_id,
                                         ttl, now, state="queued"))
        return self.store.write(work)

    def placed(self, lease_id: int, devices: list[dict[str, str]], ref: str) -> dict[str, Any]:
        """The backend granted the lease: live on ``devices``, tied to ``ref`` (e.g. the Slurm job id)."""
        def work(s: Session) -> dict[str, Any]:
            row = s.get(Lease, lease_id)
            if row is None or row.state != "queued":
                raise LeaseNotFound(f"lease {lease_id} is no longer waiting for placement; request again")
            now = self.clock()
            hours = self.policy.quota_for(row.course).max_session_hours
            row.max_end = now + timedelta(hours=hours) if hours else None
            deadline = now + timedelta(seconds=row.ttl_s)
            row.state, row.started, row.last_activity, row.devices, row.backend_ref = "live", now, now, devices, ref
            row.deadline = min(deadline, row.max_end) if row.max_end else deadline
            sql.start_usage(s.connection(), row.holder, row.count, now, self._half_life_s)
            return lease_dict(row)
        return self.store.write(work)

    # --- renew, release, reclaim -------------------------------------------------------------
    def renew(self, lease_id: int, activity: datetime | None = None) -> dict[str, Any]:
        """Heartbeat: push the deadline out (never past the session-length limit)."""
        def work(conn: Connection) -> dict[str, Any]:
            self._reclaim(conn)
            row = self._row(conn, lease_id)
            if row["state"] in OPEN:
                now = self.clock()
                deadline = now + timedelta(seconds=row["ttl_s"])
                row["deadline"] = min(deadline, row["max_end"]) if row["max_end"] else deadline
                if activity is None:
                    sql.RENEW.run(conn, {"lid": lease_id, "new_deadline": row["deadline"]})
                else:
                    row["last_activity"] = activity
                    sql.RENEW_ACTIVE.run(conn, {"lid": lease_id, "new_deadline": row["deadline"],
                                                "new_activity": activity})
            return lease_dict(row)
        return self.store.write_core(work)

    def release(self, lease_id: int, reason: str = "released") -> dict[str, Any]:
        """End a lease and free its devices; releasing an ended lease changes nothing."""
        def work(conn: Connection) -> dict[str, Any]:
            row = self._row(conn, lease_id)
            if row["state"] in OPEN:
                [row] = sql.end(conn, [{**row, "state": "ended", "reason": reason}], self.clock())
            return lease_dict(row)
        return self.store.write_core(work)

    def sweep(self, idle: dict[int, datetime] | None = None) -> list[dict[str, Any]]:
        """Reclaim expired leases, and leases idle past their course's limit; returns what was reclaimed."""
        def work(conn: Connection) -> list[dict[str, Any]]:
            now = self.clock()
            done = sql.reclaim(conn, now, self.store.kind == "postgresql")
            if idle:
                rows = conn.execute(select(sql.LEASES).where(sql.L.id.in_(list(idle)), sql.L.state == "live"))
                for row in rows.mappings().all():
                    limit = self.policy.quota_for(row["course"]).idle_minutes
                    if limit is not None and now - idle[row["id"]] >= timedelta(minutes=limit):
                        change = {**row, "state": "reclaimed", "reason": policy.idle_reason(limit)}
                        done += sql.end(conn, [change], self.clock())
            return [lease_dict(r) for r in done]
        return self.store.write_core(work)

    def _reclaim(self, conn: Connection) -> None:
        """End the leases past their deadline."""
        sql.reclaim(conn, self.clock(), self.store.kind == "postgresql")

    def _row(self, conn: Connection, lease_id: int) -> dict[str, Any]:
        found = sql.LEASE_BY_ID.run(conn, {"lid": lease_id})
        if not found:
            raise LeaseNotFound(f"no lease {lease_id}; `workbench sessions list --all` shows them")
        return found[0]

    # --- reading -----------------------------------------------------------------------------
    def get(self, lease_id: int) -> dict[str, Any]:
        with self.store.session() as s:
            return lease_dict(self._row(s.connection(), lease_id))

    def list_leases(self, *, all: bool = False, holder: str | None = None) -> list[dict[str, Any]]:
        self.store.write_core(self._reclaim)
        with self.store.session() as s:
            query = select(sql.LEASES).order_by(sql.L.id)
            if not all:
                query = query.where(sql.L.state.in_(OPEN))
            if holder:
                query = query.where(sql.L.holder == holder)
            conn, now = s.connection(), self.clock()
            rows = [sql.lease_values(r) for r in conn.execute(query).mappings()]
            positions = {r["id"]: fair_share.ahead(conn, r["kind"], r["holder"], r, now)[0] + 1
                         for r in rows if r["state"] == "queued"}
            return [lease_dict(r, positions.get(r["id"])) for r in rows]

    def held(self) -> dict[tuple[str, str], int]:
        """(kind, id) → lease id for every held device."""
        with self.store.session() as s:
            rows = s.execute(select(DeviceSlot.kind, DeviceSlot.ident, DeviceSlot.lease_id)
                             .where(DeviceSlot.lease_id.is_not(None)))
            return {(k, i): lease for k, i, lease in rows if lease is not None}

    def usage(self, holder: str | None = None) -> list[dict[str, Any]]:
        """Device-seconds per holder and kind, from the lease rows (live ones count up to now)."""
        now = self.clock()
        with self.store.session() as s:
            query = select(Lease).where(Lease.started.is_not(None))
            if holder:
                query = query.where(Lease.holder == holder)
            totals: dict[tuple[str, str], list[float]] = {}
            for row in s.scalars(query):
                entry = totals.setdefault((row.holder, row.kind), [0.0, 0])
                entry[0] += device_seconds(row, now)
                entry[1] += 1
        return [{"holder": h, "kind": k, "device_seconds": round(v[0], 6), "leases": int(v[1])}
                for (h, k), v in sorted(totals.items())]
