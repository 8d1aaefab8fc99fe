"""The store outlives a PostgreSQL restart: its pooled connections die with the server, and the next
lease decision (a write, which skips the checkout ping) and the next read both go through.

A real server of the test's own is restarted with ``pg_ctl restart``; nothing is mocked.
"""

from __future__ import annotations

from sqlalchemy import func, select

from tests.fixtures.postgres import PostgresServer
from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager, Request
from workbench.store import Store
from workbench.store.leases_models import Lease


def _manager(server: PostgresServer) -> LeaseManager:
    import psycopg

    with psycopg.connect(server.url.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE restart")
    store = Store(server.url + "/restart")
    store.upgrade()
    return LeaseManager(store, [Device("npu", str(i)) for i in range(4)])


def _backends(store: Store) -> set[int]:
    """The server processes behind the store's pooled connections (checked out one after another)."""
    with store.engine.connect() as conn:
        return {conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()}


def test_a_decision_after_a_restart_is_made_once_on_a_fresh_connection(own_postgres: PostgresServer) -> None:
    manager = _manager(own_postgres)
    first = manager.acquire("alice", [Request("npu", 1)])  # the pool now holds a connection to the server
    before = _backends(manager.store)
    own_postgres.restart()

    second = manager.acquire("bob", [Request("npu", 1)])  # a write: its first statement meets the dead one

    assert second["state"] == "live" and second["devices"] != first["devices"]
    assert _backends(manager.store).isdisjoint(before)
    with manager.store.session() as s:  # granted once, not twice, and alice's lease was not lost
        assert s.scalar(select(func.count()).select_from(Lease)) == 2
    assert manager.get(first["lease"])["state"] == "live"


def test_a_read_after_a_restart_gets_a_fresh_connection(own_postgres: PostgresServer) -> None:
    manager = _manager(own_postgres)
    lease = manager.acquire("alice", [Request("npu", 1)])
    own_postgres.restart()

    assert manager.get(lease["lease"])["state"] == "live"  # a read: the checkout ping replaces the dead one
    assert manager.renew(lease["lease"])["state"] == "live"
    assert manager.release(lease["lease"])["state"] == "ended"
