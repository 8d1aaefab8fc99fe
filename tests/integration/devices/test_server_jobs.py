"""The service's side of Slurm-spawned servers against the real one-node Slurm (npu:4): a job's lease is
what Slurm says the job holds, and the sweep keeps jobs and leases in step in both directions.

The jobs here are root's ``sbatch`` jobs standing in for servers (the hub test,
tests/integration/hub/test_slurm_spawner.py, runs real servers as students' jobs); the hub is a
recording stand-in, so each test can see which server the service asked it to stop.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.fixtures.slurm import SlurmCluster
from workbench.devices.backends.slurm import parse_job
from workbench.devices.leases import LeaseManager
from workbench.devices.policy import Policy, Quota, QuotaExceeded
from workbench.service import server_jobs
from workbench.service.server_jobs import JobError
from workbench.store import Store

pytestmark = pytest.mark.integration


class Hub:
    """Records the servers the service asks it to stop (a real hub would scancel them as the user)."""

    def __init__(self) -> None:
        self.stopped: list[str] = []

    def __call__(self, user: str) -> str:
        self.stopped.append(user)
        return "the hub answered 202"


@pytest.fixture
def manager(slurm_cluster: SlurmCluster, db_url: str) -> Iterator[LeaseManager]:
    Store(db_url).upgrade()
    yield LeaseManager(Store(db_url), [])
    subprocess.run(["scancel", "--user=root"], capture_output=True)
    slurm_cluster.drained()


def _job(gres: str = "npu:1") -> str:
    """A running job as a server would be (name and all), held by root; one CPU of the node's two."""
    request = [f"--gres={gres}"] if gres else []
    out = subprocess.run(["sbatch", "--parsable", *request, "--job-name=wb-server-root", "--output=/dev/null",
                          "--wrap", "sleep 600"], capture_output=True, text=True, check=True).stdout.strip()
    job = out.split(";")[0]
    deadline = time.monotonic() + 30
    while "JobState=RUNNING" not in (shown := _show(job)):
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)
    return job


def _show(job: str) -> str:
    return subprocess.run(["scontrol", "show", "job", "-d", job], capture_output=True, text=True).stdout


def test_a_running_job_becomes_its_users_lease_once(manager: LeaseManager) -> None:
    job = _job("npu:2")
    indices = parse_job(_show(job))["gres"]["npu"]
    lease = server_jobs.adopt(manager, "root", job)
    assert lease["state"] == "live" and lease["backend"] == "slurm" and lease["backend_ref"] == job
    assert lease["kind"] == "npu" and [d["id"] for d in lease["devices"]] == indices and len(indices) == 2
    assert server_jobs.adopt(manager, "root", job)["lease"] == lease["lease"]  # asking again: the same lease
    cpu_job = _job(gres="")
    with pytest.raises(JobError, match="runs as root, not as alice") as other:
        server_jobs.adopt(manager, "alice", cpu_job)
    assert other.value.status == 403
    with pytest.raises(JobError, match="is root's, not yours"):
        server_jobs.adopt(manager, "alice", job)
    for bad, status in (("12; rm -rf /", 400), ("999999", 404)):
        with pytest.raises(JobError) as refused:
            server_jobs.adopt(manager, "root", bad)
        assert refused.value.status == status
    cpu = server_jobs.adopt(manager, "root", cpu_job)  # no GRES: a CPU lease on the job's CPU
    assert cpu["kind"] == "cpu" and [d["id"] for d in cpu["devices"]] == parse_job(_show(cpu_job))["cpus"]


def test_job_end_ends_the_lease_and_lease_end_stops_the_job(
        manager: LeaseManager, slurm_cluster: SlurmCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = Hub()
    gone, released = _job(), _job()
    first = server_jobs.adopt(manager, "root", gone)
    second = server_jobs.adopt(manager, "root", released)
    assert server_jobs.reconcile(manager, hub) == [] and hub.stopped == []  # in step: nothing to do

    subprocess.run(["scancel", gone], check=True)  # the job ends (the student stopped it, an admin, a time limit)
    deadline = time.monotonic() + 15
    while not (done := server_jobs.reconcile(manager, hub)) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert done[0].startswith(f"ended lease {first['lease']}: job {gone}"), done
    ended = manager.get(first["lease"])
    assert ended["state"] == "ended" and f"Slurm job {gone} ended" in ended["reason"]

    manager.release(second["lease"], reason="released by an instructor")  # the lease ends first
    assert server_jobs.reconcile(manager, hub)[0].startswith("asked the hub to stop root's server")
    assert hub.stopped == ["root"]
    assert server_jobs.reconcile(manager, hub)[0].startswith("waiting for job")  # the hub is given a minute
    monkeypatch.setattr(server_jobs, "CANCEL_AFTER_S", 0.0)  # ... after which the service cancels it itself
    assert server_jobs.reconcile(manager, hub)[0] == f"cancelled job {released} of ended lease {second['lease']}"
    assert slurm_cluster.drained() == []
    assert hub.stopped == ["root"]


def test_a_job_over_quota_gets_an_ended_lease_and_is_stopped(manager: LeaseManager) -> None:
    hub = Hub()
    manager = LeaseManager(manager.store, [], Policy(default=Quota(concurrent_devices=2)))
    server_jobs.adopt(manager, "root", _job("npu:2"))  # the quota: 2 devices at once
    over = _job("npu:1")
    with pytest.raises(QuotaExceeded, match=r"2 device\(s\) at once"):
        server_jobs.adopt(manager, "root", over)
    [refused] = [x for x in manager.list_leases(all=True) if x["backend_ref"] == over]
    assert refused["state"] == "ended" and refused["reason"].startswith("refused: ")
    with pytest.raises(JobError, match="ended: refused") as again:  # registering again does not get it in
        server_jobs.adopt(manager, "root", over)
    assert again.value.status == 409
    assert server_jobs.reconcile(manager, hub)[0].startswith("asked the hub to stop root's server")


def test_nothing_changes_while_the_controller_is_away(manager: LeaseManager, slurm_cluster: SlurmCluster) -> None:
    hub = Hub()
    job = _job()
    lease = server_jobs.adopt(manager, "root", job)
    slurm_cluster.stop_controller()
    try:
        assert server_jobs.reconcile(manager, hub) == []  # squeue fails: no answer is not "no jobs"
        assert manager.get(lease["lease"])["state"] == "live"
    finally:
        slurm_cluster.start_controller()
    assert server_jobs.reconcile(manager, hub) == [] and hub.stopped == []
    assert manager.get(lease["lease"])["state"] == "live" and job in slurm_cluster.squeue()
