"""REST: devices, own sessions and release, through a real jupyter_server with the extension."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager, Request
from workbench.store import Store, open_store

pytestmark = pytest.mark.integration
NPUS = [Device("npu", "0"), Device("npu", "1")]


@pytest.fixture(autouse=True)
def two_npus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin inventory every server in this module reads: NPUs 0 and 1, nothing discovered."""
    inv = tmp_path / "inv.yaml"
    inv.write_text("discover: false\ndevices:\n  - {kind: npu, ids: [0, 1]}\n")
    monkeypatch.setenv("WORKBENCH_INVENTORY", str(inv))


def test_devices_sessions_release(
    start_server: Callable[..., Any], db_url: str
) -> None:
    server = start_server()
    manager = LeaseManager(Store(db_url), NPUS)
    mine = manager.acquire("alice", [Request("npu", 1)])  # the server's user is an instructor: sees all
    status, devices = server.request("GET", "devices")
    assert status == 200
    npus = [(d["id"], d["lease"]) for d in devices["devices"] if d["kind"] == "npu"]
    assert npus == [("0", mine["lease"]), ("1", None)]
    assert devices["usage"][0]["holder"] == "alice"
    sessions = server.request("GET", "sessions")[1]["sessions"]
    assert [s["lease"] for s in sessions] == [mine["lease"]]
    status, released = server.request("POST", f"sessions/{mine['lease']}/release", body={})
    assert status == 200 and released["state"] == "ended"
    assert manager.held() == {}


def test_server_restart_keeps_leases_and_usage(
    start_server: Callable[..., Any], db_url: str
) -> None:
    """Leases and usage live in the store, not in the server: a restart loses neither."""
    manager = LeaseManager(open_store(db_url), NPUS)
    held = manager.acquire("bob", [Request("npu", 1)])
    first = start_server()
    before = {s["lease"]: s["state"] for s in first.request("GET", "sessions")[1]["sessions"]}
    usage_before = first.request("GET", "devices")[1]["usage"]
    first.process.terminate()
    assert first.process.wait(timeout=30) is not None

    second = start_server()
    after = {s["lease"]: s["state"] for s in second.request("GET", "sessions")[1]["sessions"]}
    assert before == after == {held["lease"]: "live"}
    usage_after = second.request("GET", "devices")[1]["usage"]
    assert [u["holder"] for u in usage_after] == [u["holder"] for u in usage_before] == ["bob"]
    assert usage_after[0]["device_seconds"] >= usage_before[0]["device_seconds"]
