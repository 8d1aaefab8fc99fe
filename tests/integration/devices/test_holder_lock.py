"""PostgreSQL: a holder's lease decisions take turns, and each one sees what the one before it granted.

The per-holder advisory lock is taken inside the statement that reads expired leases (one round trip
instead of two). Here one decision for ``alice`` grants her a device and then waits before it commits;
a second decision for ``alice`` on another connection must wait for it, and then — its quota read
being a later statement than the lock — see that lease and refuse her a second device under her
one-device quota. Without the lock both would read "nothing held" and both would grant.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy import Connection

from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager, Request
from workbench.devices.policy import Policy, Quota, QuotaExceeded
from workbench.store import Store

pytestmark = pytest.mark.integration
T = TypeVar("T")
DEVICES = [Device("npu", str(i), "Ascend910B") for i in range(4)]
RULES = Policy(default=Quota(concurrent_devices=1))


class CommitsWhenTold(Store):
    """A real store whose write transactions, once ``armed``, finish their work, say so, and commit
    only when told."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.armed, self.worked, self.commit = False, threading.Event(), threading.Event()

    def write_core(self, work: Callable[[Connection], T]) -> T:  # what lease decisions write through
        if not self.armed:
            return super().write_core(work)

        def then_wait(conn: Connection) -> T:
            result = work(conn)
            self.worked.set()
            assert self.commit.wait(30), "the test never let the first decision commit"
            return result
        return super().write_core(then_wait)


def test_a_holders_second_decision_waits_for_the_first_and_sees_its_grant(postgres_url: str) -> None:
    slow_store = CommitsWhenTold(postgres_url)
    slow_store.upgrade()
    slow, second = LeaseManager(slow_store, DEVICES, RULES), LeaseManager(Store(postgres_url), DEVICES, RULES)
    slow.sync()
    second.sync()
    slow_store.armed = True
    outcome: dict[str, Any] = {}

    def first_call() -> None:
        outcome["first"] = slow.try_acquire("alice", [Request("npu", 1)], kernel_id="k1")

    def second_call() -> None:
        try:
            outcome["second"] = second.try_acquire("alice", [Request("npu", 1)], kernel_id="k2")
        except QuotaExceeded as refused:
            outcome["second"] = refused

    one = threading.Thread(target=first_call)
    one.start()
    assert slow_store.worked.wait(30), "the first decision did not get to its commit"
    two = threading.Thread(target=second_call)
    two.start()
    two.join(1.0)
    assert two.is_alive(), f"alice's second decision did not wait for her first: {outcome.get('second')}"
    slow_store.commit.set()
    one.join(30)
    two.join(30)
    assert outcome["first"]["state"] == "live" and len(outcome["first"]["devices"]) == 1
    assert isinstance(outcome["second"], QuotaExceeded), outcome["second"]
    assert len(second.held()) == 1
