"""The slurm backend against a real one-node Slurm (npu:4, 2 CPUs): jobs, devices, refusals, release.

Every assertion is about what Slurm itself reports (``squeue``, ``scontrol``) or what a process
started inside the allocation sees, never about a mock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client import KernelManager

from tests.fixtures.slurm import SlurmCluster
from tests.integration.devices.test_provisioner import registered, run  # noqa: F401 - fixture
from workbench.config import Workbench
from workbench.devices import backends
from workbench.devices.backends.slurm import SlurmBackend
from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager, Request
from workbench.devices.policy import DevicesBusy, NoSuchDevices
from workbench.store import Store

pytestmark = pytest.mark.integration


@pytest.fixture
def slurm(slurm_cluster: SlurmCluster, db_url: str) -> Iterator[SlurmBackend]:
    Store(db_url).upgrade()
    manager = LeaseManager(Store(db_url), [])  # Slurm, not the local inventory, owns the devices
    backend = backends.create(manager, Workbench(backend="slurm"))
    assert isinstance(backend, SlurmBackend)
    yield backend
    subprocess.run(["scancel", "--user=root"], capture_output=True)
    deadline = time.monotonic() + 10
    while slurm_cluster.squeue() and time.monotonic() < deadline:
        time.sleep(0.2)


def test_lease_is_a_job_holding_npus_seen_inside_and_cancelled_on_release(
        slurm: SlurmBackend, slurm_cluster: SlurmCluster) -> None:
    lease = slurm.acquire("alice", [Request("npu", 2)])
    job = lease["backend_ref"]
    assert lease["state"] == "live" and lease["backend"] == "slurm"
    assert [d["id"] for d in lease["devices"]] == ["0", "1"]
    assert slurm_cluster.squeue() == [job]
    shown = subprocess.run(["scontrol", "show", "job", "-d", job], capture_output=True, text=True).stdout
    assert "GRES=npu:2(IDX:0-1)" in shown and "JobState=RUNNING" in shown

    argv = slurm.command(lease, [sys.executable, "-c", "import os; print(os.environ['ASCEND_RT_VISIBLE_DEVICES'], "
                                                       "os.environ['SLURM_JOB_ID'], os.environ['WORKBENCH_LEASE'])"])
    seen = subprocess.run(argv, env={**os.environ, **slurm.environment(lease)}, capture_output=True, text=True,
                          timeout=60)
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.split() == ["0,1", job, str(lease["lease"])]

    with pytest.raises(DevicesBusy) as busy:  # 2 of 4 NPUs held: 3 more cannot be placed
        slurm.acquire("bob", [Request("npu", 3)])
    assert "All 4 NPU(s) are busy; you are number 1 in the queue" in busy.value.message
    assert busy.value.queue_position == 1
    with pytest.raises(DevicesBusy, match=r"Waited 2 s in the fair-share queue"):
        slurm.acquire("bob", [Request("npu", 3)], wait=2)
    with pytest.raises(NoSuchDevices, match=r"only 4 NPU\(s\) and you asked for 5"):
        slurm.acquire("bob", [Request("npu", 5)])
    assert slurm_cluster.squeue() == [job]  # refused requests leave no job behind
    refused = [x for x in slurm.manager.list_leases(all=True) if x["holder"] == "bob"]
    assert len(refused) == 3 and all(x["state"] == "ended" and "not placed" in x["reason"] for x in refused)

    cpu = slurm.acquire("bob", [Request("npu", 3), Request("cpu", 1)])  # the fallback is placed
    assert cpu["kind"] == "cpu" and len(cpu["devices"]) == 1

    assert slurm.release(lease["lease"])["state"] == "ended"
    slurm.release(cpu["lease"])
    assert slurm_cluster.drained() == []


def test_reap_cancels_the_job_of_a_lease_reclaimed_by_deadline(
        slurm: SlurmBackend, slurm_cluster: SlurmCluster) -> None:
    lease = slurm.acquire("carol", [Request("npu", 1)], ttl=0.5)
    assert slurm_cluster.squeue() == [lease["backend_ref"]]
    time.sleep(1.0)  # no heartbeat: the row is reclaimed on the next touch, the job must follow
    assert slurm.manager.sweep()[0]["state"] == "reclaimed"
    assert slurm.reap() == [f"cancelled job {lease['backend_ref']} of reclaimed lease {lease['lease']}"]
    assert slurm_cluster.drained() == []


def test_kernel_runs_inside_the_allocation_interrupts_and_releases(
        registered: str, db_url: str, slurm_cluster: SlurmCluster, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "jupyter_workbench_config.json").write_text(json.dumps({"Workbench": {"backend": "slurm"}}))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config))
    km = KernelManager(kernel_name=registered)
    km.start_kernel()
    try:
        lease = km.provisioner.lease
        assert lease["backend"] == "slurm" and slurm_cluster.squeue() == [lease["backend_ref"]]
        assert run(km, "import os; print(os.environ['ASCEND_RT_VISIBLE_DEVICES'], os.environ['SLURM_JOB_ID'])"
                   ).split() == ["0", lease["backend_ref"]]
        client = km.client()
        client.start_channels()
        try:
            msg = client.execute("import time; time.sleep(30)")
            time.sleep(1.5)
            km.interrupt_kernel()  # through scancel --signal: srun alone would not forward it
            reply = client.get_shell_msg(timeout=15)
            assert reply["parent_header"]["msg_id"] == msg
            assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        finally:
            client.stop_channels()
        time.sleep(3)  # past the 2 s ttl: the heartbeat keeps the lease
        assert LeaseManager(Store(db_url), []).get(lease["lease"])["state"] == "live"
    finally:
        km.shutdown_kernel(now=True)
    assert LeaseManager(Store(db_url), [Device("npu", "0")]).get(lease["lease"])["state"] == "ended"
    assert slurm_cluster.drained() == []
