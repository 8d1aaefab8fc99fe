"""A real ipykernel started through the workbench provisioner: its devices, restart and kill -9."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client import KernelManager

from tests.conftest import REPO
from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager
from workbench.store import Store

pytestmark = pytest.mark.integration
TTL = 2.0


@pytest.fixture
def registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[str]:
    """The entry point as an installed wheel would declare it, and an NPU kernel spec with a short ttl."""
    site = tmp_path / "site"
    dist = site / "aicc_workbench_test-0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: aicc-workbench-test\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(
        "[jupyter_client.kernel_provisioners]\n"
        "workbench-provisioner = workbench.devices.provisioner:WorkbenchProvisioner\n")
    monkeypatch.syspath_prepend(str(site))
    spec = json.loads((REPO / "workbench/devices/kernelspecs/workbench-npu/kernel.json").read_text())
    spec["argv"][0] = sys.executable
    spec["metadata"]["kernel_provisioner"]["config"]["ttl"] = TTL
    kdir = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "wbtest-npu"
    kdir.mkdir(parents=True, exist_ok=True)
    (kdir / "kernel.json").write_text(json.dumps(spec))
    inv = tmp_path / "inventory.yaml"
    inv.write_text("discover: false\ndevices:\n  - {kind: npu, ids: [0, 1, 2]}\n  - {kind: cpu, slots: 2}\n")
    monkeypatch.setenv("WORKBENCH_INVENTORY", str(inv))
    monkeypatch.setenv("WORKBENCH_HOLDER", "alice")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    Store(db_url).upgrade()
    yield "wbtest-npu"


def run(km: KernelManager, code: str) -> str:
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        out: list[str] = []
        reply = client.execute_interactive(code, timeout=60,
                                           output_hook=lambda m: out.append(m["content"].get("text", "")))
        assert reply["content"]["status"] == "ok", reply["content"]
        return "".join(out).strip()
    finally:
        client.stop_channels()


def leases(db_url: str) -> dict[int, dict]:
    manager = LeaseManager(Store(db_url), [Device("npu", str(i)) for i in range(3)])
    return {x["lease"]: x for x in manager.list_leases(all=True)}


ENV = "import os; print(os.environ['ASCEND_RT_VISIBLE_DEVICES'], os.environ['WORKBENCH_LEASE'], " \
      "repr(os.environ['CUDA_VISIBLE_DEVICES']))"


def test_kernel_sees_its_device_keeps_it_on_restart_and_releases_on_shutdown(
        registered: str, db_url: str) -> None:
    first, second = KernelManager(kernel_name=registered), KernelManager(kernel_name=registered)
    first.start_kernel()
    second.start_kernel()
    try:
        assert run(first, ENV).split() == ["0", str(first.provisioner.lease["lease"]), "''"]
        assert run(second, ENV).split()[0] == "1"  # a different NPU, alone in its view
        seen = run(first, "import workbench; s = workbench.session(); i = s.info(); "
                          "print(s.kind, s.devices, i['state'], 0 < i['time_left_s'] <= 2, s.use('torch'))")
        assert seen == "npu ['0'] live True cpu"  # no torch_npu here: torch falls back to the CPU
        lease_id = first.provisioner.lease["lease"]
        first.restart_kernel(now=True)
        assert run(first, ENV).split()[:2] == ["0", str(lease_id)]
        time.sleep(TTL * 1.5)  # the heartbeat keeps a live kernel's lease past its ttl
        assert leases(db_url)[lease_id]["state"] == "live"
        assert leases(db_url)[lease_id]["holder"] == "alice"
    finally:
        first.shutdown_kernel(now=True)
    assert leases(db_url)[lease_id]["state"] == "ended"
    assert leases(db_url)[lease_id]["reason"] == "kernel shut down"

    victim = second.provisioner.lease["lease"]
    os.kill(second.provisioner.pid, signal.SIGKILL)
    killed = time.monotonic()
    while leases(db_url)[victim]["state"] == "live":
        assert time.monotonic() - killed < TTL + 3, "lease of a killed kernel outlived its deadline"
        time.sleep(0.2)
    row = leases(db_url)[victim]
    assert row["state"] == "reclaimed" and "no heartbeat" in row["reason"]
    second.cleanup_resources()
