"""The server's sweep on a real jupyter_server: a busy kernel keeps its lease, an idle one is reclaimed,
shut down through the kernel manager, and its device endpoint says why."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import BlockingKernelClient

from tests.conftest import REPO
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
    """A CPU kernel spec through the provisioner (entry point as a wheel declares it) and a 3 s idle limit."""
    site = tmp_path / "site"
    dist = site / "aicc_workbench_sweep-0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: aicc-workbench-sweep\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(
        "[jupyter_client.kernel_provisioners]\n"
        "workbench-provisioner = workbench.devices.provisioner:WorkbenchProvisioner\n")
    monkeypatch.setenv("PYTHONPATH", f"{site}{os.pathsep}{REPO}")
    spec = json.loads((REPO / "workbench/devices/kernelspecs/workbench-cpu/kernel.json").read_text())
    spec["argv"][0] = sys.executable
    kdir = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "wbsweep-cpu"
    kdir.mkdir(parents=True, exist_ok=True)
    (kdir / "kernel.json").write_text(json.dumps(spec))
    inv = tmp_path / "inventory.yaml"
    inv.write_text("discover: false\ndevices:\n  - {kind: cpu, slots: 2}\n"
                   f"policy:\n  default: {{idle_minutes: {IDLE_MIN}}}\n")
    monkeypatch.setenv("WORKBENCH_INVENTORY", str(inv))
    return "wbsweep-cpu"


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
