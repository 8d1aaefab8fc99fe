"""The server's sweep on a real jupyter_server: a busy kernel keeps its lease, an idle one is reclaimed,
shut down through the kernel manager, and its device endpoint says why."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import BlockingKernelClient

from tests.fixtures.jupyter_server import Server

pytestmark = pytest.mark.integration

IDLE_MIN = 0.05  # 3 s


def api(server: Server, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    req = urllib.request.Request(f"{server.url}/api/{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", f"token {server.token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, None


@pytest.fixture
def cpu_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> str:
    """The installed "Python 3 (CPU)" kernel spec (the provisioner leases a CPU slot), 3 s idle limit."""
    inv = tmp_path / "inventory.yaml"
    inv.write_text("discover: false\ndevices:\n  - {kind: cpu, slots: 2}\n"
                   f"policy:\n  default: {{idle_minutes: {IDLE_MIN}}}\n")
    monkeypatch.setenv("WORKBENCH_INVENTORY", str(inv))
    return "workbench-cpu"


def test_idle_kernel_is_reclaimed_and_told_busy_one_is_not(
        start_server: Callable[..., Server], cpu_kernel: str) -> None:
    server = start_server("--Workbench.sweep_interval_s=0.5")
    status, kernel = api(server, "POST", "kernels", {"name": cpu_kernel})
    assert status == 201, kernel
    kid = kernel["id"]
    client = BlockingKernelClient(connection_file=str(
        Path(os.environ["JUPYTER_RUNTIME_DIR"]) / f"kernel-{kid}.json"))
    client.load_connection_file()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        started = time.monotonic()
        reply = client.execute_interactive("import time; time.sleep(5)", timeout=60)  # busy > the idle limit
        assert reply["content"]["status"] == "ok"
        assert time.monotonic() - started >= 5
    finally:
        client.stop_channels()
    status, device = server.request("GET", f"kernels/{kid}/device")
    assert status == 200 and device["state"] == "live", device

    deadline = time.monotonic() + 30
    while api(server, "GET", f"kernels/{kid}")[0] == 200:  # idle now: the sweep shuts it down
        assert time.monotonic() < deadline, "idle kernel was not reclaimed"
        time.sleep(0.3)
    status, device = server.request("GET", f"kernels/{kid}/device")
    assert status == 200 and device["state"] == "reclaimed", device
    assert device["reason"].startswith(f"released after {IDLE_MIN:g} min without running a cell")
    assert "restart the kernel" in device["reason"]
    status, sessions = server.request("GET", "sessions")
    assert sessions["sessions"] == []  # the CPU slot is free again


def test_jupyter_server_culling_frees_the_device(start_server: Callable[..., Server], cpu_kernel: str) -> None:
    """jupyter_server's own idle culler shuts the kernel down; the provisioner's cleanup releases the lease."""
    server = start_server("--Workbench.sweep_interval_s=0", "--MappingKernelManager.cull_idle_timeout=2",
                          "--MappingKernelManager.cull_interval=1")
    status, kernel = api(server, "POST", "kernels", {"name": cpu_kernel})
    assert status == 201, kernel
    status, sessions = server.request("GET", "sessions")
    assert [s["kernel_id"] for s in sessions["sessions"]] == [kernel["id"]]
    deadline = time.monotonic() + 45
    while server.request("GET", "sessions")[1]["sessions"]:
        assert time.monotonic() < deadline, "the culled kernel's lease was not released"
        time.sleep(0.5)
    assert api(server, "GET", f"kernels/{kernel['id']}")[0] == 404
    status, every = server.request("GET", "sessions?all=1")
    (ended,) = every["sessions"]
    assert ended["state"] == "ended" and ended["kernel_id"] == kernel["id"]
