"""200 acquire/release calls from several processes on 8 devices, on SQLite and on PostgreSQL.

Checked from the lease rows afterwards: never more than 8 devices held at once, no device in two
overlapping leases, every device free at the end, and usage equal to the sum of the durations the
workers themselves saw.
"""

from __future__ import annotations

import itertools
import multiprocessing
import random
import time
from datetime import datetime

import pytest

from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager, Request
from workbench.store import Store

pytestmark = pytest.mark.integration
DEVICES = [Device("npu", str(i), "Ascend910B") for i in range(8)]
WORKERS, CALLS = 5, 40  # 200 acquire/release pairs


def _worker(url: str, number: int, out: multiprocessing.Queue) -> None:
    manager = LeaseManager(Store(url), DEVICES)
    rng = random.Random(number)
    seen = []
    for _ in range(CALLS):
        want = rng.choice((1, 2, 3))
        lease = manager.acquire(f"team{number}", [Request("npu", want)], wait=120, poll=0.01)
        time.sleep(rng.random() * 0.005)
        ended = manager.release(lease["lease"])
        seen.append((lease["lease"], [d["id"] for d in lease["devices"]], ended["started"].isoformat(),
                     ended["ended"].isoformat(), want))
    out.put((number, seen))


def _hammer(url: str) -> None:
    Store(url).upgrade()
    LeaseManager(Store(url), DEVICES).sync()
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, n, out)) for n in range(WORKERS)]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=170) for _ in procs)
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    rows = [r for n in range(WORKERS) for r in results[n]]
    assert len(rows) == WORKERS * CALLS

    events = []  # (time, +devices / -devices): releases sort before grants at the same instant
    per_device: dict[str, list[tuple[datetime, datetime]]] = {}
    for _lease, ids, started, ended, want in rows:
        s, e = datetime.fromisoformat(started), datetime.fromisoformat(ended)
        assert len(ids) == want
        events += [(s, 1, want), (e, 0, -want)]
        for i in ids:
            per_device.setdefault(i, []).append((s, e))
    held = peak = 0
    for _, _, delta in sorted(events):
        held += delta
        peak = max(peak, held)
    assert 0 < peak <= 8
    for spans in per_device.values():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start, "a device was in two live leases at once"

    manager = LeaseManager(Store(url), DEVICES)
    assert manager.held() == {}
    assert manager.list_leases() == []
    usage = {u["holder"]: u["device_seconds"] for u in manager.usage()}
    for n in range(WORKERS):
        mine = sum((datetime.fromisoformat(e) - datetime.fromisoformat(s)).total_seconds() * w
                   for _, _, s, e, w in results[n])
        assert usage[f"team{n}"] == pytest.approx(mine, abs=1e-5)


def test_200_calls_on_sqlite(db_url: str) -> None:
    _hammer(db_url)


def test_200_calls_on_postgresql(postgres_url: str) -> None:
    _hammer(postgres_url)
