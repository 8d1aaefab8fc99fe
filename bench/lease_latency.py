"""Lease decision latency with 1,000 live sessions on the embedded SQLite store (goal: p50 < 1 ms).

Fills a fresh store with 1,000 live leases (1,000 holders, one CPU slot each, out of 1,200
slots), then times single acquire and release calls — each one full ``BEGIN IMMEDIATE`` write
transaction, the decision included — with no quota and with a realistic quota (device-hours per
week and concurrent devices, which adds the holder's usage queries).

Peer: the *floor*, the same grant and release written by hand on the raw ``sqlite3`` module over
the same database file (same pragmas): ``BEGIN IMMEDIATE``; take the first free slot; insert the
lease row; point the slot at it; ``COMMIT`` — and ``BEGIN IMMEDIATE``; end the row; free the slot;
``COMMIT``. It has no reclaim, queue or quota and no SQLAlchemy, so workbench / floor is what the
decision's safety and the store layer cost on top of the writes themselves. The two alternate call
by call, so machine load falls on both alike. Prints a table and the ratios; run with
``.venv/bin/python bench/lease_latency.py [--ops N]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager, Request
from workbench.devices.policy import Policy, Quota
from workbench.store import Store

LIVE, SLOTS = 1000, 1200


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Floor:
    """The grant and release as hand-written SQL on one raw sqlite3 connection."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "busy_timeout=30000", "foreign_keys=ON", "synchronous=NORMAL"):
            self.db.execute(f"PRAGMA {pragma}")

    @staticmethod
    def _now() -> str:
        return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")

    def acquire(self, holder: str) -> int:
        db, now = self.db, self._now()
        db.execute("BEGIN IMMEDIATE")
        slot, ident = db.execute("SELECT id, ident FROM device_slots WHERE kind = 'cpu' AND lease_id IS NULL "
                                 "AND enabled = 1 ORDER BY id LIMIT 1").fetchone()
        lease = db.execute(
            "INSERT INTO leases (holder, kind, count, request, devices, state, requested, started, deadline, "
            "last_activity, ttl_s, reason, backend) VALUES (?, 'cpu', 1, '[\"cpu:1\"]', ?, 'live', ?, ?, ?, ?, "
            "3600, '', 'local')", (holder, f'[{{"kind": "cpu", "id": "{ident}"}}]', now, now, now, now)).lastrowid
        db.execute("UPDATE device_slots SET lease_id = ? WHERE id = ?", (lease, slot))
        db.execute("COMMIT")
        return int(lease or 0)

    def release(self, lease: int) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE leases SET state = 'ended', ended = ?, reason = 'released' WHERE id = ?",
                   (self._now(), lease))
        db.execute("UPDATE device_slots SET lease_id = NULL WHERE lease_id = ?", (lease,))
        db.execute("COMMIT")


def measure(path: Path, quota: Quota, ops: int) -> dict[str, dict[str, float]]:
    manager = LeaseManager(Store(f"sqlite:///{path}"), [Device("cpu", str(i)) for i in range(SLOTS)],
                           Policy(default=quota))
    manager.sync()
    for n in range(LIVE):
        manager.acquire(f"user{n}", [Request("cpu", 1)], ttl=3600)
    floor = Floor(path)
    times: dict[str, dict[str, list[float]]] = {"workbench": {"acquire": [], "release": []},
                                                "floor": {"acquire": [], "release": []}}
    clock = time.perf_counter
    for n in range(ops):
        t0 = clock()
        lease = manager.acquire(f"bench{n % 50}", [Request("cpu", 1)], ttl=3600)
        t1 = clock()
        manager.release(lease["lease"])
        t2 = clock()
        raw = floor.acquire(f"floor{n % 50}")
        t3 = clock()
        floor.release(raw)
        t4 = clock()
        times["workbench"]["acquire"].append(t1 - t0)
        times["workbench"]["release"].append(t2 - t1)
        times["floor"]["acquire"].append(t3 - t2)
        times["floor"]["release"].append(t4 - t3)
    assert len(manager.list_leases()) == LIVE
    result = {}
    for who, t in times.items():
        pair = sum(t["acquire"]) + sum(t["release"])
        result[who] = {"acquire_p50": statistics.median(t["acquire"]) * 1e3,
                       "acquire_p99": percentile(t["acquire"], 0.99) * 1e3,
                       "release_p50": statistics.median(t["release"]) * 1e3,
                       "release_p99": percentile(t["release"], 0.99) * 1e3, "pairs_per_s": ops / pair}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000, help="acquire+release pairs to time")
    args = parser.parse_args()
    cases = {"no quota": Quota(),
             "quota (20 h/week, 2 at once)": Quota(device_hours=20, period="week", concurrent_devices=2,
                                                   metered=("npu", "gpu", "cpu"))}
    load = os.getloadavg()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; SQLite store (WAL), "
          f"{LIVE} live sessions, {args.ops} ops; load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    print("| case | implementation | acquire p50 (ms) | acquire p99 (ms) | release p50 (ms) | release p99 (ms) "
          "| pairs/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    ratios = []
    for name, quota in cases.items():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.db"
            Store(f"sqlite:///{path}").upgrade()
            results = measure(path, quota, args.ops)
        for who, r in results.items():
            print(f"| {name} | {who} | {r['acquire_p50']:.3f} | {r['acquire_p99']:.3f} | {r['release_p50']:.3f} | "
                  f"{r['release_p99']:.3f} | {r['pairs_per_s']:.0f} |")
        ours, peer = results["workbench"], results["floor"]
        ratios.append(f"{name}: acquire p50 {ours['acquire_p50'] / peer['acquire_p50']:.2f}x, "
                      f"release p50 {ours['release_p50'] / peer['release_p50']:.2f}x")
    load = os.getloadavg()
    print(f"\nworkbench / floor (hand-written SQL, same database, alternating): {'; '.join(ratios)}")
    print(f"load average at end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
