"""A refused lease decision rolls its transaction back; on PostgreSQL that must not throw away the
statements the store's connection has prepared, or every decision after a refusal parses and plans
its statements again (docs/benchmarks.md: grant p50 1.15 -> 2.0 ms with one refusal in four).
"""

from __future__ import annotations

import pytest

from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager, Request
from workbench.devices.policy import Policy, Quota, QuotaExceeded
from workbench.store import Store


def _prepared(store: Store) -> set[str]:
    """The statements prepared on the store's one pooled connection (a decision runs on it, one at a time)."""
    with store.engine.connect() as conn:
        return set(conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements").scalars())


def test_a_quota_refusal_keeps_the_prepared_statements(postgres_url: str) -> None:
    store = Store(postgres_url)
    store.upgrade()
    rules = Policy(default=Quota(device_hours=None, concurrent_devices=1))
    manager = LeaseManager(store, [Device("npu", str(i)) for i in range(4)], rules)
    for n in range(8):  # past psycopg's prepare threshold (5 runs of a statement)
        manager.release(manager.acquire(f"warm{n}", [Request("npu", 1)])["lease"])
    held = manager.acquire("alice", [Request("npu", 1)])
    before = _prepared(store)
    assert len(before) >= 4

    with pytest.raises(QuotaExceeded):  # alice holds her one device: refused, rolled back
        manager.acquire("alice", [Request("npu", 1)])

    assert _prepared(store) >= before
    assert manager.get(held["lease"])["state"] == "live"
