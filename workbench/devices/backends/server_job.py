"""Kernels of a Slurm-spawned single-user server run on their server's job, not on leases of their own.

Under ``WorkbenchSlurmSpawner`` (``workbench/service/slurm_spawner.py``) the server itself is a Slurm
batch job holding its devices as GRES, and its kernels are processes inside that job. So the server
registers its job with the workbench service once (``POST sessions/adopt``: the service reads the job
from Slurm and records a lease for it, backend ``slurm``, ``backend_ref`` the job id), and each
kernel takes a *view* of that lease instead of asking for an allocation of its own — Slurm would
not give a process inside the job more than the job holds anyway:

- a kernel spec asking for the job's kind, in a number the job holds, sees all the job's devices
  (kernels of one job share its device cgroup, so narrowing the variable would only pretend to
  separate them);
- a kernel asking for ``cpu`` sees no accelerator;
- anything else is refused with a sentence naming the job and what it holds.

A kernel's shutdown therefore releases nothing: the lease ends with the job, or the job with the
lease (``workbench/service/server_jobs.py`` keeps the two in step). The server's sweep renews the
lease with its kernels' latest activity, so an idle server is reclaimed like an idle kernel.
The kernel is not wrapped in the bubblewrap isolation of local kernels: on a cluster it is the
job's device cgroup (``ConstrainDevices=yes``) that keeps it to its devices (docs/devices.md).
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from typing import Any, ClassVar

from workbench.config import Workbench
from workbench.devices.backends import device_env
from workbench.devices.backends.service import ServiceBackend, _lease
from workbench.devices.inventory import Device
from workbench.devices.leases import Request
from workbench.devices.policy import LeaseRefused, NoSuchDevices
from workbench.service.client import ServiceError

ENV_SERVER_JOB = "WORKBENCH_SERVER_JOB"  # "slurm": set by the hub's configuration for Slurm-spawned servers
ENV_COURSE = "WORKBENCH_COURSE"  # the course whose quota a server's job counts against (optional)
VIEW = "kernel_view"


def server_job() -> str | None:
    """This server's Slurm job id, when the hub spawned it as a Slurm job (else None)."""
    if os.environ.get(ENV_SERVER_JOB) != "slurm":
        return None
    return os.environ.get("SLURM_JOB_ID") or None


def kernel_view(lease: dict[str, Any], requests: list[Request]) -> dict[str, Any]:
    """What a kernel asking ``requests`` (in order) sees of its server's job lease."""
    held = len(lease["devices"])
    for req in requests:
        if req.kind == "cpu":
            return {"kind": "cpu", "devices": []}
        if req.kind == lease["kind"] and req.count <= held:
            return {"kind": lease["kind"], "devices": lease["devices"]}
    holds = f"{held} {lease['kind'].upper()}(s)" if lease["kind"] != "cpu" else "no accelerator"
    asked = ", then ".join(str(r) for r in requests)
    raise NoSuchDevices(f"This server is Slurm job {lease['backend_ref']}, which holds {holds}; a kernel asking "
                        f"for {asked} cannot run in it. Stop your server (File → Hub Control Panel) and "
                        "start it with a profile that has those devices, or pick another kernel.")


class ServerJobBackend(ServiceBackend):
    """The service backend of a server inside a Slurm job: one lease, the job's, shared by its kernels."""

    name = "server-job"
    _leases: ClassVar[dict[str, dict[str, Any]]] = {}  # job id -> its lease, as last told by the service
    _activity: ClassVar[dict[str, datetime]] = {}  # job id -> its kernels' latest activity seen
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, settings: Workbench, job: str) -> None:
        super().__init__(settings)
        self.job = job

    def server_lease(self, refresh: bool = False) -> dict[str, Any]:
        """The job's lease, registered with the service on first use (the service answers the same
        lease to every registration of one job, so a repeat after a restart is harmless)."""
        with self._lock:
            lease = self._leases.get(self.job)
            if lease is None or refresh:
                body = {"job": self.job, "course": os.environ.get(ENV_COURSE) or None}
                try:
                    lease = _lease(self.client.post_json("sessions/adopt", body))
                except ServiceError as exc:
                    if exc.status == 409:
                        raise LeaseRefused(exc.message) from None
                    raise
                self._leases[self.job] = lease
            return lease

    def acquire(self, holder: str, requests: list[Request], *, course: str | None = None,
                kernel_id: str | None = None, wait: float = 0.0, ttl: float | None = None) -> dict[str, Any]:
        """No new allocation: the job's lease, seen as the kernel's requests allow."""
        lease = self.server_lease()
        if lease["state"] != "live":
            lease = self.server_lease(refresh=True)
        return {**lease, VIEW: kernel_view(lease, requests)}

    def environment(self, lease: dict[str, Any]) -> dict[str, str]:
        return device_env({**lease, **lease.get(VIEW, {})})

    def command(self, lease: dict[str, Any], argv: list[str]) -> list[str]:
        return argv  # already inside the job's allocation

    def isolated(self, lease: dict[str, Any]) -> bool:
        return False  # the job's device cgroup confines it (module docstring)

    def known_devices(self) -> list[Device]:
        return []

    def release(self, lease_id: int, reason: str = "released") -> dict[str, Any]:
        """A kernel ending leaves its server's job, and so the lease, as they are."""
        return self._leases.get(self.job) or {"lease": lease_id}

    def heartbeat(self, activity: datetime | None) -> dict[str, Any]:
        """The server's own renewal of its job lease, with its kernels' latest activity; before any
        kernel ran, the lease's start counts, so a server that never runs a cell is idle from then."""
        lease = self.server_lease()
        with self._lock:
            seen = [m for m in (activity, self._activity.get(self.job), lease.get("started")) if m is not None]
            moment = self._activity[self.job] = max(seen) if seen else datetime.now().astimezone()
        try:
            renewed = self.renew(int(lease["lease"]), activity=moment)
        except ServiceError as exc:
            if exc.status != 404:
                raise
            renewed = self.server_lease(refresh=True)  # the store lost it (a new store): register again
        with self._lock:
            self._leases[self.job] = {**lease, **renewed}
        return renewed
