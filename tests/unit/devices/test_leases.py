"""Leases and policy on a real SQLite store: each refusal comes with the sentence the user sees."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager, Request
from workbench.devices.policy import DevicesBusy, NoSuchDevices, Policy, Quota, QuotaExceeded
from workbench.store import Store
from workbench.store.leases_models import Lease
from workbench.store.models import utcnow

NPUS = [Device("npu", str(i), "Ascend910B") for i in range(4)]
CPUS = [Device("cpu", str(i), "CPU slot") for i in range(2)]


def manager(url: str, quota: Quota | None = None, **policy: float) -> LeaseManager:
    rules = Policy(default=quota or Quota(), **policy)  # type: ignore[arg-type]
    return LeaseManager(Store(url), NPUS + CPUS, rules)


@pytest.fixture
def store_url(db_url: str) -> str:
    Store(db_url).upgrade()
    return db_url


def test_grant_release_and_usage_survive_a_restart(store_url: str) -> None:
    first = manager(store_url)
    lease = first.acquire("alice", [Request("npu", 2)])
    assert lease["state"] == "live" and lease["devices"] == [{"kind": "npu", "id": "0"},
                                                             {"kind": "npu", "id": "1"}]
    time.sleep(0.05)
    ended = first.release(lease["lease"])
    assert first.release(lease["lease"]) == ended  # idempotent
    again = manager(store_url)  # a new process: everything comes from the rows
    usage = again.usage("alice")
    expected = 2 * (ended["ended"] - ended["started"]).total_seconds()
    assert usage == [{"holder": "alice", "kind": "npu", "device_seconds": round(expected, 6), "leases": 1}]
    assert again.held() == {}


def test_busy_gives_queue_position_and_queues_only_with_wait(store_url: str) -> None:
    m = manager(store_url)
    m.acquire("alice", [Request("npu", 4)])
    with pytest.raises(DevicesBusy) as busy:
        m.acquire("bob", [Request("npu", 1)])
    assert busy.value.queue_position == 1
    assert "All 4 NPU(s) are busy; you are number 1 in the queue" in busy.value.message
    assert "run on CPU" in busy.value.message
    assert [x["state"] for x in m.list_leases()] == ["live"]  # nothing queued without --wait
    with pytest.raises(DevicesBusy, match=r"Waited 0\.3 s in the fair-share queue") as waited:
        m.acquire("bob", [Request("npu", 1)], wait=0.3)
    assert waited.value.queue_position == 1
    assert [x["state"] for x in m.list_leases(all=True)] == ["live", "ended"]


def test_fallback_to_cpu(store_url: str) -> None:
    m = manager(store_url)
    m.acquire("alice", [Request("npu", 4)])
    lease = m.acquire("bob", [Request("npu", 1), Request("cpu", 1)])
    assert lease["kind"] == "cpu" and lease["devices"] == [{"kind": "cpu", "id": "0"}]


def test_quota_hours_exhausted_says_used_limit_reset_and_what_to_do(store_url: str) -> None:
    m = manager(store_url, Quota(device_hours=1, period="week"))
    lease = m.acquire("alice", [Request("npu", 1)])
    with m.store.session() as s:  # an hour and a bit of use, as if the lease had run that long
        s.execute(update(Lease).where(Lease.id == lease["lease"]).values(
            started=utcnow() - timedelta(minutes=65)))
    m.release(lease["lease"])
    with pytest.raises(QuotaExceeded) as refused:
        m.acquire("alice", [Request("npu", 1)])
    text = refused.value.message
    assert "Device-hour quota used up for 'alice': 1.08 of 1 NPU/GPU hours used this week" in text
    assert "it resets Mon" in text and "run on CPU" in text
    assert m.acquire("alice", [Request("npu", 1), Request("cpu", 1)])["kind"] == "cpu"


def test_concurrent_device_limit(store_url: str) -> None:
    m = manager(store_url, Quota(concurrent_devices=2))
    first = m.acquire("alice", [Request("npu", 2)])
    with pytest.raises(QuotaExceeded) as refused:
        m.acquire("alice", [Request("npu", 1)])
    assert (f"Limit of 2 device(s) at once for 'alice': 2 already held (lease {first['lease']}) "
            "and this asks for 1 more") in refused.value.message


def test_no_such_devices(store_url: str) -> None:
    with pytest.raises(NoSuchDevices, match="This workbench has no GPUs, so waiting will not help"):
        manager(store_url).acquire("alice", [Request("gpu", 1)])


def test_heartbeat_deadline_reclaims_and_renew_extends(store_url: str) -> None:
    m = manager(store_url)
    kept = m.acquire("alice", [Request("npu", 1)], ttl=0.5)
    dead = m.acquire("bob", [Request("npu", 1)], ttl=0.5)
    for _ in range(4):
        time.sleep(0.2)
        m.renew(kept["lease"])
    leases = {x["lease"]: x for x in m.list_leases(all=True)}
    assert leases[kept["lease"]]["state"] == "live"
    assert leases[dead["lease"]]["state"] == "reclaimed"
    assert "no heartbeat for 0.5 s" in leases[dead["lease"]]["reason"]
    assert leases[dead["lease"]]["ended"] == dead["deadline"]  # usage stops at the deadline
    assert list(m.held().values()) == [kept["lease"]]


def test_idle_reclaim_tells_why(store_url: str) -> None:
    m = manager(store_url, Quota(idle_minutes=30))
    lease = m.acquire("alice", [Request("npu", 1)])
    assert m.sweep({lease["lease"]: utcnow() - timedelta(minutes=10)}) == []
    [reclaimed] = m.sweep({lease["lease"]: utcnow() - timedelta(minutes=31)})
    assert reclaimed["state"] == "reclaimed"
    assert reclaimed["reason"].startswith("released after 30 min without running a cell")


def test_fair_share_order_prefers_less_recent_usage(store_url: str) -> None:
    m = manager(store_url)
    heavy = m.acquire("heavy", [Request("npu", 4)])
    with m.store.session() as s:
        s.execute(update(Lease).where(Lease.id == heavy["lease"]).values(
            started=utcnow() - timedelta(hours=5)))
    # heavy queues first (wait>0 keeps the row), light queues later but has used nothing
    def queue(holder: str) -> dict:
        return m.try_acquire(holder, [Request("npu", 1)], ttl=60)
    m_heavy_q, m_light_q = queue("heavy"), queue("light")
    positions = {x["holder"]: x.get("queue_position") for x in m.list_leases() if x["state"] == "queued"}
    assert positions == {"light": 1, "heavy": 2}
    assert m_heavy_q["queue_position"] == 1 and m_light_q["queue_position"] == 1
    m.release(heavy["lease"])
    m.acquire("x", [Request("npu", 3)])  # 3 free for x: 1 left over for the queue's head
    with pytest.raises(DevicesBusy, match="number 2 in the queue"):  # after light, before heavy
        m.acquire("heavy2", [Request("npu", 1)])

    def retry(holder: str, row: dict) -> dict:  # what a waiting acquire does on each poll
        return m.try_acquire(holder, [Request("npu", 1)], ttl=60, queued=row["lease"])
    assert retry("heavy", m_heavy_q)["state"] == "queued"  # earlier, but used more: waits
    assert retry("light", m_light_q)["state"] == "live"


def test_max_session_length(store_url: str) -> None:
    m = manager(store_url, Quota(max_session_hours=0.0003))  # about a second
    lease = m.acquire("alice", [Request("npu", 1)], ttl=60)
    time.sleep(1.3)
    [row] = [x for x in m.list_leases(all=True) if x["lease"] == lease["lease"]]
    assert row["state"] == "reclaimed" and "maximum session length of 0.0003 h" in row["reason"]


def test_cli_contract(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from workbench.cli import main
    from workbench.commands import context
    inv = tmp_path / "inv.yaml"
    inv.write_text("discover: false\ndevices:\n  - {kind: npu, ids: [0, 1]}\n  - {kind: cpu, slots: 1}\n")
    monkeypatch.setenv("WORKBENCH_INVENTORY", str(inv))
    context.settings.cache_clear()

    def run(*argv: str) -> tuple[int, dict]:
        code = main(list(argv))
        return code, json.loads(capsys.readouterr().out)

    code, got = run("sessions", "acquire", "--holder", "t1", "--request", "npu:2", "--json")
    assert code == 0 and got["devices"] == [{"kind": "npu", "id": "0"}, {"kind": "npu", "id": "1"}]
    assert set(got) >= {"lease", "holder", "devices", "deadline"}
    code, refused = run("sessions", "acquire", "--holder", "t2", "--request", "npu:1", "--json")
    assert code == 3 and refused["queue_position"] == 1 and "busy" in refused["error"]
    code, fell = run("sessions", "acquire", "--holder", "t2", "--request", "npu:1", "--fallback", "cpu:1",
                     "--json")
    assert code == 0 and fell["devices"] == [{"kind": "cpu", "id": "0"}]
    code, listed = run("sessions", "list", "--json")
    assert [(s["lease"], s["state"]) for s in listed["sessions"]] == [(got["lease"], "live"),
                                                                      (fell["lease"], "live")]
    assert run("sessions", "release", str(got["lease"]), "--json")[1]["state"] == "ended"
    assert run("sessions", "release", str(got["lease"]), "--json")[1]["state"] == "ended"
    code, usage = run("usage", "--holder", "t1", "--json")
    assert [(u["holder"], u["kind"]) for u in usage["usage"]] == [("t1", "npu")]
    code, devices = run("devices", "list", "--json")
    assert [(d["kind"], d["id"], d["lease"]) for d in devices["devices"]] == [
        ("npu", "0", None), ("npu", "1", None), ("cpu", "0", fell["lease"])]
    code, everything = run("sessions", "list", "--all", "--json")
    assert {s["state"] for s in everything["sessions"]} == {"live", "ended"}
