"""Slurm-spawned servers on a real JupyterHub and the real one-node Slurm (npu:4): a student's server
is a Slurm job holding the GRES of the profile they chose, the workbench service holds the lease of
that job, and each side follows the other — job end ends the lease, a lease ended at the service
(released, or reclaimed by its sweep when the server is idle) stops the job, and restarts of the
service or of slurmctld leave the two consistent.

Root only (the hub starts servers as students' accounts, slurmd runs as root); without root or the
Slurm binaries the fixtures skip, saying why.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import pytest

from tests.fixtures.hub import IDLE_COURSE, SERVICE_USER, SLURM_A, SLURM_B, SLURM_IDLE, Center, hub_call
from tests.fixtures.slurm import SlurmCluster
from workbench.devices.backends.slurm import parse_job
from workbench.service.hub_config import LOOPBACK

pytestmark = pytest.mark.integration
T = TypeVar("T")


def _until(check: Callable[[], T | None], what: str, center: Center, timeout: float = 90) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except OSError:  # the service is restarting
            found = None
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"{what} did not happen in {timeout:.0f} s:\n{center.log()[-3000:]}")


def _jobs(user: str) -> dict[str, str]:
    """The user's jobs in Slurm's queue: id → state."""
    out = subprocess.run(["squeue", "-h", "-u", user, "-o", "%i %T"], capture_output=True, text=True).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def _lease(center: Center, user: str, job: str) -> dict[str, Any] | None:
    """The lease the service holds for ``job`` (live or ended), as its holder reads it at the service."""
    status, body = center.api(user, "GET", "sessions?all=1", direct=True)
    assert status == 200, body
    return next((s for s in body["sessions"] if s["backend_ref"] == job), None)


@pytest.fixture
def servers(slurm_center: Center) -> Iterator[Callable[[str, str], tuple[str, dict[str, Any]]]]:
    """Start a user's server with a profile; returns its job id and the job's lease at the service."""
    started: list[str] = []

    def start(user: str, profile: str) -> tuple[str, dict[str, Any]]:
        slurm_center.start_server(user, {"profile": profile})
        started.append(user)
        # the newest running job: a stopped server's job may linger a moment after the hub let it go
        job = max((j for j, state in _jobs(user).items() if state == "RUNNING"), key=int)
        lease = _until(lambda: _lease(slurm_center, user, job), f"the lease of {user}'s job {job}", slurm_center)
        return job, lease

    yield start
    for user in started:
        slurm_center.stop_server(user)


def test_a_students_server_is_a_job_holding_its_lease(
        slurm_center: Center, slurm_cluster: SlurmCluster, servers: Any) -> None:
    job, lease = servers(SLURM_A, "npu-1")
    shown = subprocess.run(["scontrol", "show", "job", "-d", job], capture_output=True, text=True).stdout
    assert f"UserId={SLURM_A}(" in shown and f"JobName=wb-server-{SLURM_A}" in shown and "JobState=RUNNING" in shown
    indices = parse_job(shown)["gres"]["npu"]
    assert len(indices) == 1
    assert lease["state"] == "live" and lease["backend"] == "slurm" and lease["holder"] == SLURM_A
    assert lease["kind"] == "npu" and [d["id"] for d in lease["devices"]] == indices and lease["kernel_id"] is None

    kernels = f"{slurm_center.url}/user/{SLURM_A}/api/kernels"
    status, kernel = hub_call("POST", kernels, {"name": "workbench-npu"}, slurm_center.tokens[SLURM_A])
    assert status == 201, kernel
    environ = _environ(SLURM_A, kernel["id"])
    assert environ["ASCEND_RT_VISIBLE_DEVICES"] == ",".join(indices)
    assert environ["WORKBENCH_LEASE"] == str(lease["lease"]) and environ["SLURM_JOB_ID"] == job
    assert hub_call("DELETE", f"{kernels}/{kernel['id']}", None, slurm_center.tokens[SLURM_A])[0] == 204
    time.sleep(3)  # a sweep later: the kernel's end released nothing, the job still holds its NPU
    assert _lease(slurm_center, SLURM_A, job)["state"] == "live" and _jobs(SLURM_A).get(job) == "RUNNING"

    # another student cannot take the job's lease, at the service or by naming the job
    status, body = slurm_center.api(SLURM_B, "POST", "sessions/adopt", {"job": job}, direct=True)
    assert status == 403 and SLURM_A in body["error"], body
    status, body = slurm_center.api(SLURM_B, "POST", f"sessions/{lease['lease']}/release", {}, direct=True)
    assert status == 403, body


def test_servers_reach_the_hub_and_the_service_at_the_internal_address(slurm_center: Center, servers: Any) -> None:
    """As on a cluster, where a job's node cannot reach the hub machine's loopback: the server, in its
    job, calls the hub and the service at the hub machine's own address, and listens on every address
    of its node; the service does not listen on loopback, so the lease it holds was registered that way."""
    ip = slurm_center.internal_ip
    if ip == LOOPBACK:
        pytest.skip("this machine has no address but loopback (hostname -I)")
    job, lease = servers(SLURM_A, "cpu")
    assert lease["backend_ref"] == job and lease["state"] == "live", lease
    environ = _environ(SLURM_A, "batchspawner-singleuser")
    assert urlparse(environ["JUPYTERHUB_API_URL"]).hostname == ip
    assert urlparse(environ["WORKBENCH_SERVICE_URL"]).hostname == ip
    assert urlparse(environ["JUPYTERHUB_SERVICE_URL"]).hostname == "0.0.0.0"
    with pytest.raises(OSError):
        socket.create_connection((LOOPBACK, urlparse(slurm_center.service_url).port or 0), timeout=5).close()
    status, body = hub_call("GET", f"{slurm_center.url}/user/{SLURM_A}/api/status", None, slurm_center.tokens[SLURM_A])
    assert status == 200, body  # the hub's proxy reaches the server in its job


def test_only_a_profile_reaches_the_batch_script(slurm_center: Center, servers: Any) -> None:
    for options in ({"profile": "npu-99"}, {"profile": "cpu", "options": "--uid=0"}, {"cmd": "touch /tmp/x"}):
        status, body = slurm_center.hub("POST", f"users/{SLURM_B}/server", options)
        assert status == 400, (options, status, body)
    assert _jobs(SLURM_B) == {}
    servers(SLURM_B, "cpu")
    # the server's own token (in its environment) may report the port and nothing else: batchspawner's
    # handler would copy any key onto the spawner, e.g. the command the hub runs as root at stop
    token = _environ(SLURM_B, "batchspawner-singleuser")["JUPYTERHUB_API_TOKEN"]
    marker = Path(f"/tmp/wb-pwned-{os.getpid()}")
    status, body = hub_call("POST", f"{slurm_center.url}/hub/api/batchspawner",
                         {"exec_prefix": f"touch {marker}; "}, token)
    assert status == 400, body
    slurm_center.stop_server(SLURM_B)
    assert not marker.exists()


def test_job_end_ends_the_lease(slurm_center: Center, servers: Any) -> None:
    job, lease = servers(SLURM_A, "npu-2")
    assert len(lease["devices"]) == 2
    subprocess.run(["scancel", job], check=True)  # an admin, a node failure, the time limit
    ended = _until(lambda: (x := _lease(slurm_center, SLURM_A, job)) and x["state"] != "live" and x,
                   "the lease's end after scancel", slurm_center, timeout=30)
    assert ended["state"] == "ended" and f"Slurm job {job} ended" in ended["reason"], ended
    _until(lambda: not (slurm_center.hub("GET", f"users/{SLURM_A}")[1].get("servers") or {}),
           "the hub noticing the server is gone", slurm_center, timeout=90)


def test_a_lease_ended_at_the_service_stops_the_job(slurm_center: Center, servers: Any) -> None:
    job, lease = servers(SLURM_B, "npu-1")
    status, released = slurm_center.api(SLURM_B, "POST", f"sessions/{lease['lease']}/release", {}, direct=True)
    assert status == 200 and released["state"] == "ended", released
    _until(lambda: job not in _jobs(SLURM_B) or _jobs(SLURM_B)[job] != "RUNNING", "the job's end", slurm_center,
           timeout=60)
    _until(lambda: not (slurm_center.hub("GET", f"users/{SLURM_B}")[1].get("servers") or {}),
           "the hub stopping the server", slurm_center, timeout=60)
    assert _lease(slurm_center, SLURM_B, job)["reason"] == f"released by {SLURM_B}"


def test_an_idle_server_is_reclaimed_by_the_sweep_and_its_job_stopped(slurm_center: Center, servers: Any) -> None:
    """No cell run for the course's idle limit: the service's sweep reclaims the job's lease, as it would
    an idle kernel's, and the job ends with it, so the NPU goes back to the pool."""
    job, lease = servers(SLURM_IDLE, "npu-1")
    assert lease["course"] == IDLE_COURSE and lease["kind"] == "npu", lease
    reclaimed = _until(lambda: (x := _lease(slurm_center, SLURM_IDLE, job)) and x["state"] != "live" and x,
                       "the idle server's lease being reclaimed", slurm_center, timeout=60)
    assert reclaimed["state"] == "reclaimed" and "without running a cell" in reclaimed["reason"], reclaimed
    _until(lambda: job not in _jobs(SLURM_IDLE) or _jobs(SLURM_IDLE)[job] != "RUNNING", "the idle job's end",
           slurm_center, timeout=90)
    _until(lambda: not (slurm_center.hub("GET", f"users/{SLURM_IDLE}")[1].get("servers") or {}),
           "the hub noticing the idle server is gone", slurm_center, timeout=60)


def test_restarts_of_the_service_and_of_slurmctld_keep_jobs_and_leases_consistent(
        slurm_center: Center, slurm_cluster: SlurmCluster, servers: Any) -> None:
    job_a, _ = servers(SLURM_A, "npu-1")
    job_b, lease_b = servers(SLURM_B, "cpu")
    slurm_cluster.stop_controller()
    try:
        time.sleep(5)  # two sweeps of the service and of each server without a controller: nothing ends
        for user, job in ((SLURM_A, job_a), (SLURM_B, job_b)):
            assert _lease(slurm_center, user, job)["state"] == "live"
    finally:
        slurm_cluster.start_controller()
    assert _jobs(SLURM_A).get(job_a) == "RUNNING" and _jobs(SLURM_B).get(job_b) == "RUNNING"

    # the service dies; meanwhile A's job ends and an admin releases B's lease with the CLI
    service = _service_pid(slurm_center)
    os.kill(service, 9)
    subprocess.run(["scancel", job_a], check=True)
    env = {**os.environ, "WORKBENCH_DB_URL": slurm_center.db_url}
    subprocess.run([str(Path(sys.executable).parent / "workbench"), "sessions", "release", str(lease_b["lease"])],
                   check=True, env=env, capture_output=True)
    _until(lambda: _service_pid(slurm_center, wait=False) not in (None, service), "the service's restart",
           slurm_center, timeout=120)
    ended = _until(lambda: (x := _lease(slurm_center, SLURM_A, job_a)) and x["state"] != "live" and x,
                   "A's lease ending after the restart", slurm_center, timeout=60)
    assert f"Slurm job {job_a} ended" in ended["reason"]
    _until(lambda: job_b not in _jobs(SLURM_B) or _jobs(SLURM_B)[job_b] != "RUNNING",
           "B's job stopping after the restart", slurm_center, timeout=60)


def _service_pid(center: Center, wait: bool = True) -> int | None:
    """This center's workbench service (the other center's runs under the same account)."""
    deadline = time.monotonic() + (60 if wait else 0)
    while True:
        for pid in subprocess.run(["pgrep", "-u", SERVICE_USER, "-f", "workbench-service"], capture_output=True,
                                  text=True).stdout.split():
            try:
                if str(center.base).encode() in Path(f"/proc/{pid}/environ").read_bytes():
                    return int(pid)
            except OSError:
                continue
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.5)


def _environ(user: str, marker: str) -> dict[str, str]:
    """The environment of ``user``'s process whose command line contains ``marker``."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ps = subprocess.run(["ps", "-ww", "-u", user, "-o", "pid=,args="], capture_output=True, text=True).stdout
        for line in ps.splitlines():
            if marker in line:
                raw = Path(f"/proc/{line.split()[0]}/environ").read_bytes().split(b"\0")
                return dict(item.decode().partition("=")[::2] for item in raw if b"=" in item)
        time.sleep(0.5)
    pytest.fail(f"no process of {user} running {marker}")
