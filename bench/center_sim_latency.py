"""Lease decision latency at center size: 10,000 live sessions, on SQLite and on PostgreSQL.

The store is filled through ``LeaseManager.acquire`` itself: 10,000 holders in 50 courses each
ask for ``npu:1`` with ``cpu:1`` as fallback, so 1,000 get an NPU and 9,000 a CPU slot (inventory:
1,000 NPUs and 10,500 CPU slots), all live, under the center's quota (10 NPU-hours a week, one
device at once). Then, alternating call by call so machine load falls on every case alike, with
the real clock:

- **npu granted**: one NPU is kept free; a new holder's ``npu:1`` takes it;
- **npu busy -> cpu granted**: while that NPU is held, another new holder asks ``npu:1`` then
  ``cpu:1``: the decision reads the quota, finds every NPU busy and grants a CPU slot;
- **release** of both;
- **renew**: a heartbeat of a random live lease (10,000 kernels renewing every ``heartbeat_s / 3``
  is the bulk of the store's writes: 500 a second at the default 60 s);
- then, with every NPU held and 100, then 500 holders queued for one, the **npu busy -> cpu**
  case again: a request that may queue compares its fair-share key with every queued request's.

PostgreSQL is a throwaway cluster (``workbench.service.postgres_cluster``: ``initdb`` + ``pg_ctl``
in a temporary directory, as the ``postgres`` user via ``runuser`` when run as root, which
PostgreSQL refuses), on loopback TCP, with ``synchronous_commit=off`` — the counterpart of SQLite's WAL with
``synchronous=NORMAL`` that the store uses: a crash may lose the last commits, never consistency.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text

from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager, Request
from workbench.devices.policy import Policy, Quota
from workbench.service.postgres_cluster import throwaway_cluster
from workbench.store import Store

LIVE, NPUS, CPUS, COURSES = 10_000, 1_000, 10_500, 50


@contextmanager
def throwaway_postgres(synchronous_commit: str = "off") -> Iterator[str]:
    """A ``postgresql+psycopg://`` URL of a fresh server and database, removed afterwards; ``on`` waits
    for each commit's WAL flush (PostgreSQL's default; ~0.15 ms more per write commit on this disk).
    Raises PostgresUnavailable, saying what to install, when PostgreSQL cannot run here."""
    settings = {"synchronous_commit": synchronous_commit, "shared_buffers": "256MB", "max_connections": "50"}
    with throwaway_cluster(settings, prefix="wb-bench-pg-") as cluster:
        import psycopg

        with psycopg.connect(cluster.url("postgres").replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        yield cluster.url("bench")


def center_policy(heartbeat_s: float = 60.0) -> Policy:
    """The simulated center's policy: students 10 NPU-hours a week, one device at a time, 4 h sessions,
    30 idle minutes; hackathon teams no hour limit, four devices, 12 h sessions."""
    student = Quota(device_hours=10, period="week", concurrent_devices=1, max_session_hours=4, idle_minutes=30)
    hackathon = Quota(device_hours=None, period="week", concurrent_devices=4, max_session_hours=12,
                      idle_minutes=30)
    return Policy(heartbeat_s=heartbeat_s, half_life_hours=168, default=student, courses={"hackathon": hackathon})


class Statements:
    """Statements the store's connections send to the database, counted at the driver — evidence that
    does not depend on how busy the shared machine is. SQLite: its trace callback, BEGIN/COMMIT left out;
    PostgreSQL: psycopg cursor executions (each a round trip; psycopg's own BEGIN and the COMMIT are
    not counted, so both backends count the same statements; the pool's pre-ping is)."""

    def __init__(self, store: Store) -> None:
        self.n = 0
        event.listen(store.engine, "connect", self._attach)

    def _trace(self, statement: str) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            self.n += 1

    def _attach(self, dbapi_conn: Any, _record: Any) -> None:
        if hasattr(dbapi_conn, "set_trace_callback"):
            dbapi_conn.set_trace_callback(self._trace)
            return
        import psycopg

        counter = self

        class Counting(psycopg.Cursor):
            def execute(self, *args: Any, **kwargs: Any) -> Any:
                counter.n += 1
                return super().execute(*args, **kwargs)

            def executemany(self, *args: Any, **kwargs: Any) -> Any:
                counter.n += 1
                return super().executemany(*args, **kwargs)

        dbapi_conn.cursor_factory = Counting


def fill(url: str, live: int = LIVE) -> tuple[LeaseManager, list[int], float, Statements]:
    """A migrated store with ``live`` live sessions; returns the manager, their lease ids, the fill time
    and the store's statement counter."""
    store = Store(url)
    statements = Statements(store)
    store.upgrade()
    devices = [Device("npu", str(i), "Ascend910B") for i in range(NPUS)] + [Device("cpu", str(i))
                                                                             for i in range(CPUS)]
    manager = LeaseManager(store, devices, center_policy())
    started = time.perf_counter()
    ids = [manager.acquire(f"s{n:05d}", [Request("npu", 1), Request("cpu", 1)], course=f"course{n % COURSES:02d}",
                           ttl=3600)["lease"] for n in range(live)]
    elapsed = time.perf_counter() - started
    if store.kind == "postgresql":  # planner statistics, as autovacuum gathers them after such a fill
        with store.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    return manager, ids, elapsed, statements


def measure(url: str, ops: int, live: int = LIVE, queues: tuple[int, ...] = (100, 500)) -> dict[str, Any]:
    """Fill, then time ``ops`` rounds of the cases with ``live`` sessions held; p50/p99 in ms per case."""
    manager, ids, fill_s, statements = fill(url, live + 1)
    npus = min(NPUS, live + 1)
    manager.release(ids[npus - 1], reason="kept free for the npu grant case")  # 1 NPU free, `live` held
    others = ids[npus:] or ids[: npus - 1]
    times: dict[str, list[float]] = {"acquire: npu granted": [], "acquire: npu busy -> cpu granted": [],
                                     "release": [], "renew (heartbeat)": []}
    rng, clock = random.Random(7), time.perf_counter
    counted: dict[str, list[int]] = {name: [] for name in times}
    fallback, npu = [Request("npu", 1), Request("cpu", 1)], [Request("npu", 1)]
    for n in range(ops):
        course = f"course{n % COURSES:02d}"
        s0, t0 = statements.n, clock()
        lease = manager.acquire(f"bench{n:05d}", npu, course=course, ttl=3600)  # takes the free NPU
        s1, t1 = statements.n, clock()
        busy = manager.acquire(f"bench{n:05d}b", fallback, course=course, ttl=3600)  # every NPU held now
        s2, t2 = statements.n, clock()
        manager.release(busy["lease"])
        t3 = clock()
        manager.release(lease["lease"])
        s4, t4 = statements.n, clock()
        manager.renew(rng.choice(others))
        s5, t5 = statements.n, clock()
        for name, used in zip(counted, (s1 - s0, s2 - s1, (s4 - s2) / 2, s5 - s4), strict=True):
            counted[name].append(int(used))
        assert lease["kind"] == "npu" and busy["kind"] == "cpu", (lease, busy)
        times["acquire: npu granted"].append(t1 - t0)
        times["acquire: npu busy -> cpu granted"].append(t2 - t1)
        times["release"] += [t3 - t2, t4 - t3]
        times["renew (heartbeat)"].append(t5 - t4)
    held = len(manager.held())
    assert held == live, held
    manager.acquire("blocker", npu, ttl=3600)  # every NPU held from here on
    queued = 0
    for depth in queues:  # the decision orders the queue by fair share: its cost grows with the queue
        for n in range(queued, depth):
            assert manager.try_acquire(f"queued{n:05d}", npu, course=f"course{n % COURSES:02d}",
                                       ttl=3600)["state"] == "queued"
        queued = depth
        name = f"acquire: npu busy -> cpu granted, {depth} queued for an NPU"
        times[name], counted[name] = [], []
        for n in range(max(10, ops // 4)):
            s0, t0 = statements.n, clock()
            lease = manager.acquire(f"late{depth}-{n:05d}", fallback, course=f"course{n % COURSES:02d}", ttl=3600)
            times[name].append(clock() - t0)
            counted[name].append(statements.n - s0)
            assert lease["kind"] == "cpu", lease
            manager.release(lease["lease"])
    return {"fill_s": fill_s, "live": held, "ops": ops, "cases": {
        name: {"p50_ms": statistics.median(v) * 1e3, "p99_ms": _percentile(v, 0.99) * 1e3,
               "statements": statistics.median(counted[name])} for name, v in times.items()}}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
