"""REST: devices, own sessions and release, through a real jupyter_server with the extension."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager, Request
from workbench.store import Store

pytestmark = pytest.mark.integration
pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def jp_server_config(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    inv = tmp_path / "inv.yaml"
    inv.write_text("discover: false\ndevices:\n  - {kind: npu, ids: [0, 1]}\n")
    monkeypatch.setenv("WORKBENCH_INVENTORY", str(inv))
    return {"ServerApp": {"jpserver_extensions": {"workbench.server": True}}}


async def test_devices_sessions_release(jp_fetch, db_url: str) -> None:  # type: ignore[no-untyped-def]
    manager = LeaseManager(Store(db_url), [Device("npu", "0"), Device("npu", "1")])
    mine = manager.acquire("alice", [Request("npu", 1)])  # the server's user is an instructor: sees all
    devices = json.loads((await jp_fetch("workbench", "api", "v1", "devices")).body)
    npus = [(d["id"], d["lease"]) for d in devices["devices"] if d["kind"] == "npu"]
    assert npus == [("0", mine["lease"]), ("1", None)]
    assert devices["usage"][0]["holder"] == "alice"
    sessions = json.loads((await jp_fetch("workbench", "api", "v1", "sessions")).body)["sessions"]
    assert [s["lease"] for s in sessions] == [mine["lease"]]
    released = await jp_fetch("workbench", "api", "v1", "sessions", str(mine["lease"]), "release",
                              method="POST", body="")
    assert json.loads(released.body)["state"] == "ended"
    assert manager.held() == {}
