"""A PostgreSQL grant of one device takes it and writes its lease in one statement, with the start
time read from the clock *before* the statement knows which device it gets (``lease_sql.take_and_grant``).
These tests pin what that must not change: the reply is what the store holds, and a device whose last
lease ended after that clock reading is not granted from a time before its release.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager, Request
from workbench.devices.policy import Policy, Quota
from workbench.store import Store

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def _manager(url: str, clock: Callable[[], datetime]) -> LeaseManager:
    store = Store(url)
    store.upgrade()
    rules = Policy(default=Quota(device_hours=None, concurrent_devices=1, max_session_hours=4))
    manager = LeaseManager(store, [Device("npu", "0"), Device("cpu", "0")], rules, clock=clock)
    manager.sync()
    return manager


def test_the_reply_is_the_stored_lease(postgres_url: str) -> None:
    manager = _manager(postgres_url, lambda: T0)
    granted = manager.acquire("alice", [Request("npu", 1)], course="c1", kernel_id="k1")
    fallback = manager.acquire("bob", [Request("npu", 1), Request("cpu", 1)])  # npu busy: the cpu, same way

    assert granted == manager.get(granted["lease"])
    assert fallback == manager.get(fallback["lease"])
    assert granted["devices"] == [{"kind": "npu", "id": "0"}] and fallback["devices"] == [{"kind": "cpu", "id": "0"}]
    assert granted["max_end"] == T0 + timedelta(hours=4) and granted["started"] == T0
    assert manager.held() == {("npu", "0"): granted["lease"], ("cpu", "0"): fallback["lease"]}
    assert {u["holder"] for u in manager.usage()} == {"alice", "bob"}


def test_a_device_released_after_the_clock_reading_starts_its_next_lease_after_that_release(
        postgres_url: str) -> None:
    times = [T0]
    manager = _manager(postgres_url, lambda: times.pop(0) if len(times) > 1 else times[0])
    first = manager.acquire("alice", [Request("npu", 1)])
    times[:] = [T0 + timedelta(seconds=20)]
    ended = manager.release(first["lease"])  # freed at T0 + 20 s
    # bob's decision read the clock at T0 + 15 s, before that release committed (as a concurrent
    # decision may), and reads it again only once it holds the device
    times[:] = [T0 + timedelta(seconds=15)] * 2 + [T0 + timedelta(seconds=25)]
    second = manager.acquire("bob", [Request("npu", 1)])

    assert second["devices"] == [{"kind": "npu", "id": "0"}]
    assert second["started"] == T0 + timedelta(seconds=25) >= ended["ended"]
    assert manager.get(second["lease"]) == second
    assert manager.held() == {("npu", "0"): second["lease"]}


@pytest.mark.parametrize("count", [1, 2])
def test_releases_record_when_the_devices_were_freed(postgres_url: str, count: int) -> None:
    """The ``freed`` time the one-statement grant compares with is the ended time of the lease."""
    store = Store(postgres_url)
    store.upgrade()
    manager = LeaseManager(store, [Device("npu", str(i)) for i in range(2)], Policy(), clock=lambda: T0)
    lease = manager.acquire("alice", [Request("npu", count)])
    ended = manager.release(lease["lease"])
    with store.engine.connect() as conn:
        freed = conn.exec_driver_sql("SELECT freed FROM device_slots WHERE freed IS NOT NULL").scalars().all()
    assert freed == [ended["ended"]] * count
