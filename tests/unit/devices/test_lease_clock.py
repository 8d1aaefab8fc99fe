"""LeaseManager's injected clock and its non-sleeping decision, ``try_acquire`` (what bench/center_sim drives).

Every "now" of a decision — grant time, heartbeat deadline, reclaim, quota period — comes from the
clock the manager was given, so a simulator can run a week in seconds; the default is the wall clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager, Request
from workbench.devices.policy import Policy, Quota, QuotaExceeded
from workbench.store import Store
from workbench.store.models import utcnow

MONDAY = datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = MONDAY

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clocked(db_url: str) -> tuple[LeaseManager, Clock]:
    Store(db_url).upgrade()
    clock = Clock()
    rules = Policy(heartbeat_s=60, default=Quota(device_hours=2, period="week"))
    return LeaseManager(Store(db_url), [Device("npu", str(i)) for i in range(2)], rules, clock=clock), clock


def test_default_clock_is_the_wall_clock(db_url: str) -> None:
    Store(db_url).upgrade()
    manager = LeaseManager(Store(db_url), [Device("npu", "0")])
    before = utcnow()
    lease = manager.acquire("alice", [Request("npu", 1)])
    assert before <= lease["started"] <= utcnow()


def test_grant_deadline_and_reclaim_follow_the_injected_clock(clocked: tuple[LeaseManager, Clock]) -> None:
    manager, clock = clocked
    lease = manager.acquire("alice", [Request("npu", 1)])
    assert lease["started"] == MONDAY and lease["deadline"] == MONDAY + timedelta(seconds=60)
    clock.now += timedelta(seconds=59)
    assert manager.sweep() == []
    clock.now += timedelta(seconds=2)
    [reclaimed] = manager.sweep()
    assert reclaimed["state"] == "reclaimed" and reclaimed["ended"] == MONDAY + timedelta(seconds=60)


def test_quota_period_is_the_simulated_week(clocked: tuple[LeaseManager, Clock]) -> None:
    manager, clock = clocked
    lease = manager.acquire("alice", [Request("npu", 1)], ttl=3 * 3600)
    clock.now += timedelta(hours=2, minutes=1)
    manager.release(lease["lease"])
    with pytest.raises(QuotaExceeded, match=r"2\.02 of 2 NPU/GPU hours used this week"):
        manager.acquire("alice", [Request("npu", 1)])
    clock.now += timedelta(days=7)  # next Monday: a new period
    assert manager.acquire("alice", [Request("npu", 1)])["state"] == "live"


def test_try_acquire_queues_without_sleeping_and_grants_on_a_later_try(clocked: tuple[LeaseManager, Clock]) -> None:
    manager, clock = clocked
    held = manager.acquire("alice", [Request("npu", 2)])
    queued = manager.try_acquire("bob", [Request("npu", 1)])
    assert queued["state"] == "queued" and queued["queue_position"] == 1
    clock.now += timedelta(seconds=50)
    assert manager.renew(queued["lease"])["deadline"] == clock.now + timedelta(seconds=60)  # keeps its place
    assert manager.try_acquire("bob", [Request("npu", 1)], queued=queued["lease"])["state"] == "queued"
    clock.now += timedelta(seconds=50)
    manager.release(held["lease"])
    granted = manager.try_acquire("bob", [Request("npu", 1)], queued=queued["lease"])
    assert granted["lease"] == queued["lease"] and granted["state"] == "live"
    assert granted["started"] == clock.now
