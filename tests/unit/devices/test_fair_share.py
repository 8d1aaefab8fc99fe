"""The fair-share bookkeeping equals the lease history it summarises, on SQLite and PostgreSQL.

Random sequences of requests (granted or queued), releases, heartbeats and missed deadlines run on
a simulated clock; after every step each holder's decayed usage (``LeaseManager.decayed_usage``,
read from the ``fair_share_usage`` rows) is compared with the sum recomputed here from the leases
the public listing shows, and every queued request's position with the order that sum gives.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager, Request
from workbench.devices.policy import Policy, Quota
from workbench.store import Store

START = datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc)
HOLDERS = [f"h{i}" for i in range(6)]
DEVICES = [Device("npu", str(i)) for i in range(3)] + [Device("cpu", str(i)) for i in range(2)]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    found = str(request.getfixturevalue("db_url" if request.param == "sqlite" else "postgres_url"))
    Store(found).upgrade()
    return found


def expected_usage(leases: list[dict[str, Any]], now: datetime, half_life_h: float) -> dict[str, float]:
    """Slurm-style decayed device-seconds per holder, straight from the lease rows."""
    usage: dict[str, float] = {}
    for lease in leases:
        if lease["started"] is None:
            continue
        count = len(lease["devices"])
        if lease["ended"] is None:
            used = (now - lease["started"]).total_seconds() * count
        else:
            age_h = (now - lease["ended"]).total_seconds() / 3600
            used = (lease["ended"] - lease["started"]).total_seconds() * count * 0.5 ** (age_h / half_life_h)
        usage[lease["holder"]] = usage.get(lease["holder"], 0.0) + used
    return usage


def check(m: LeaseManager, half_life_h: float) -> int:
    """Compare the kept usage and the queue positions with the history; returns how many were queued."""
    leases = m.list_leases(all=True)
    now = m.clock()
    want = expected_usage(leases, now, half_life_h)
    with m.store.session() as s:
        got = m.decayed_usage(s, set(HOLDERS), now)
    for holder in HOLDERS:
        assert got.get(holder, 0.0) == pytest.approx(want.get(holder, 0.0), rel=1e-9, abs=1e-6), holder
    queued = [x for x in leases if x["state"] == "queued"]
    for q in queued:  # the clock only moves forward here: a smaller lease id is an earlier request
        key = (want.get(q["holder"], 0.0), q["lease"])
        before = [o for o in queued if o["lease"] != q["lease"] and o["kind"] == q["kind"]
                  and (want.get(o["holder"], 0.0), o["lease"]) < key]
        assert q["queue_position"] == len(before) + 1, (q, before)
    return len(queued)


def run_sequence(m: LeaseManager, clock: Clock, rng: random.Random, steps: int, half_life_h: float) -> int:
    queued: dict[str, int] = {}  # holder -> its queued lease, passed back on its next try
    most_queued = 0
    for _ in range(steps):
        clock.now += timedelta(seconds=rng.uniform(0, 600))
        op = rng.random()
        holder = rng.choice(HOLDERS)
        if op < 0.5:
            spec = rng.choice([Request("npu", 1), Request("npu", 2), Request("cpu", 1)])
            lease = m.try_acquire(holder, [spec], ttl=rng.choice([900.0, 3600.0, 7200.0]),
                                  queued=queued.pop(holder, None))
            if lease["state"] == "queued":
                queued[holder] = lease["lease"]
        elif op < 0.7:
            open_ = [x for x in m.list_leases() if x["holder"] == holder]
            if open_:
                m.release(rng.choice(open_)["lease"])
        elif op < 0.9:
            open_ = m.list_leases()
            if open_:
                m.renew(rng.choice(open_)["lease"])
        else:
            m.sweep()  # missed deadlines end at the deadline, earlier than now: ends out of order
        most_queued = max(most_queued, check(m, half_life_h))
    return most_queued


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_usage_is_the_history(url: str, seed: int) -> None:
    clock = Clock()
    m = LeaseManager(Store(url), DEVICES, Policy(half_life_hours=3, default=Quota()), clock=clock)
    most_queued = run_sequence(m, clock, random.Random(seed), 120, 3)
    assert most_queued >= 2  # the queue order was compared with requests waiting
    assert any(x["state"] == "reclaimed" for x in m.list_leases(all=True))  # and deadlines were missed


def test_new_half_life_rebuilds(url: str) -> None:
    clock = Clock()
    first = LeaseManager(Store(url), DEVICES, Policy(half_life_hours=3, default=Quota()), clock=clock)
    run_sequence(first, clock, random.Random(9), 60, 3)
    later = LeaseManager(Store(url), DEVICES, Policy(half_life_hours=24, default=Quota()), clock=clock)
    later.sync()  # a restart under the new policy
    check(later, 24)
    run_sequence(later, clock, random.Random(10), 30, 24)  # and kept from there on


def test_migration_builds_the_rows_from_existing_leases(url: str) -> None:
    """A store with lease history from before migration 0011: the first manager builds the rows."""
    from alembic import command
    from alembic.config import Config

    from workbench.store.engine import MIGRATIONS

    clock = Clock()
    before = LeaseManager(Store(url), DEVICES, Policy(half_life_hours=3, default=Quota()), clock=clock)
    run_sequence(before, clock, random.Random(11), 40, 3)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with before.store.engine.begin() as conn:  # back to the schema before the usage rows
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010_event_team_quota")
    before.store.engine.dispose()
    store = Store(url)
    store.upgrade()
    after = LeaseManager(store, DEVICES, Policy(half_life_hours=3, default=Quota()), clock=clock)
    after.sync()
    check(after, 3)
    with store.session() as s:
        assert any(v > 0 for v in after.decayed_usage(s, set(HOLDERS), clock.now).values())  # history was kept
    run_sequence(after, clock, random.Random(12), 20, 3)
