"""Slurm-spawned single-user servers, on the service's side: a server's job recorded as a lease, and
the two kept in step.

Under ``WorkbenchSlurmSpawner`` (``slurm_spawner.py``) a student's server is a Slurm batch job that
holds its devices as GRES (``--gres=npu:1``). Two systems then know who holds which device, so one
of them is the truth: **the lease row**, because quotas, fair share, usage accounting and an
admin's release already live there and survive restarts. Slurm is the placement, and is made to
agree:

- *start*: the server registers the job it runs in (``POST sessions/adopt``, ``adopt`` here). The
  service reads the job with ``scontrol show job -d`` — never what the caller claims — and checks
  that its user is the caller and that it runs; the quota is checked as for any lease; the lease is
  recorded live with backend ``slurm``, ``backend_ref`` the job id, devices the job's GRES indices.
  A job the quota refuses gets an *ended* lease carrying the refusal, so the sweep below stops it
  and the student can read why (``GET sessions?all=1``).
- *job end* (the student stopped the server, time limit, ``scancel``, node failure): the sweep
  finds the job gone and ends the lease with the reason.
- *lease end* (released by its holder or an instructor, reclaimed for idleness, heartbeat or
  session length): the sweep asks the hub to stop the holder's server, and batchspawner then
  ``scancel``s the job as the user. The service's own account may not cancel another user's job
  (Slurm allows that to root and operators only), and going through the hub also keeps the hub's
  view right; if the job still runs a minute later the sweep tries ``scancel`` itself, which works
  where the service runs as a Slurm operator.
- *restarts*: the service sweeps once as it starts, so what changed while it was away (a job
  cancelled, a lease released with the CLI) is reconciled at once; while ``slurmctld`` does not
  answer nothing is changed, since an empty answer must not end every lease. A server whose
  registration failed because the service was away registers again on its own next sweep.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from workbench.devices.backends.slurm import JOB_PREFIX, TIMEOUT_S, SlurmError, parse_job
from workbench.devices.lease_sql import OPEN
from workbench.devices.leases import LeaseManager, Request, lease_dict
from workbench.devices.policy import QuotaExceeded
from workbench.errors import WorkbenchError
from workbench.store.leases_models import Lease
from workbench.store.models import utcnow

BACKEND = "slurm"
ACCELERATORS = ("npu", "gpu")
# squeue states of a job that is over, or about to be (the job's devices are free, or nearly).
FINISHED = {"COMPLETING", "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
            "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", "SPECIAL_EXIT", "REVOKED"}
CANCEL_AFTER_S = 60.0  # a job the hub was asked to stop and that still runs then is cancelled directly


class JobError(WorkbenchError):
    """A registration the service refuses; ``status`` is the HTTP status the handler answers with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Job:
    """What Slurm says about one job: who runs it, its state, and the devices it holds."""

    job: str
    user: str
    state: str
    node: str
    kind: str
    devices: list[str] = field(default_factory=list)


def _slurm(argv: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except FileNotFoundError as exc:
        raise SlurmError(f"`{argv[0]}` is not on the workbench service's PATH; install the Slurm client "
                         "tools (slurm-client) where the service runs") from exc
    except subprocess.TimeoutExpired as exc:
        raise SlurmError(f"`{' '.join(argv[:2])}` did not answer in {TIMEOUT_S} s; is slurmctld up?") from exc


def job_facts(text: str, job: str) -> Job:
    """``scontrol show job -d`` output → a ``Job``; accelerators first, else the job's CPUs."""
    parsed = parse_job(text)
    user = re.search(r"\bUserId=([^(\s]+)", text)
    kind = next((k for k in ACCELERATORS if parsed["gres"].get(k)), "cpu")
    devices = parsed["gres"][kind] if kind != "cpu" else parsed["cpus"]
    return Job(job, user.group(1) if user else "", parsed["state"], parsed["nodes"], kind, devices)


def show_job(job: str) -> Job | None:
    """The job as Slurm sees it now; None when Slurm no longer knows it."""
    done = _slurm(["scontrol", "show", "job", "-d", job])
    if done.returncode != 0:
        if "Invalid job id" in done.stderr:
            return None
        raise SlurmError(f"`scontrol show job {job}` failed: {done.stderr.strip()}")
    return job_facts(done.stdout, job)


def _lease_of_job(manager: LeaseManager, job: str) -> dict[str, Any] | None:
    """The newest lease recorded for ``job`` (there is one, unless a registration raced another)."""
    with manager.store.session() as s:
        row = s.scalars(select(Lease).where(Lease.backend == BACKEND, Lease.backend_ref == job)
                        .order_by(Lease.id)).first()
        return lease_dict(row) if row is not None else None


def adopt(manager: LeaseManager, user: str, job_id: str, course: str | None = None) -> dict[str, Any]:
    """The lease of ``user``'s running job ``job_id``, recorded now or found (asking twice is harmless)."""
    if not job_id.isdigit():
        raise JobError(f"job {job_id!r} is not a Slurm job id; send the server's $SLURM_JOB_ID", 400)
    known = _lease_of_job(manager, job_id)
    if known is not None:
        if known["holder"] != user:
            raise JobError(f"Slurm job {job_id} is {known['holder']}'s, not yours", 403)
        if known["state"] in OPEN:
            return known
        raise JobError(f"the lease of Slurm job {job_id} ended: {known['reason']}; the job is being stopped, "
                       "start your server again from the hub", 409)
    try:
        found = show_job(job_id)
    except SlurmError as exc:
        raise JobError(exc.message, 503) from None
    if found is None:
        raise JobError(f"Slurm has no job {job_id}; a server registers the job it runs in", 404)
    if found.user != user:
        raise JobError(f"Slurm job {job_id} runs as {found.user or 'another user'}, not as {user}; a server "
                       "registers only its own job", 403)
    if found.state != "RUNNING":
        raise JobError(f"Slurm job {job_id} is {found.state}, not running; register it once it runs", 409)
    req = Request(found.kind, max(1, len(found.devices)))
    devices = [{"kind": found.kind, "id": i, "node": found.node} for i in found.devices]
    try:
        row = manager.admit(user, req, [req], backend=BACKEND, course=course)
    except QuotaExceeded as refused:
        _refused(manager, user, req, course, job_id, devices, refused.message)
        raise
    lease = manager.placed(row["lease"], devices, job_id)
    first = _lease_of_job(manager, job_id)
    if first is not None and first["lease"] != lease["lease"]:  # two registrations raced: keep the first
        manager.release(lease["lease"], reason=f"Slurm job {job_id} was registered twice; lease "
                                               f"{first['lease']} holds it")
        return first
    return lease


def _refused(manager: LeaseManager, user: str, req: Request, course: str | None, job: str,
             devices: list[dict[str, str]], reason: str) -> None:
    """An ended lease for a job the quota refuses: the sweep then stops the job, and the reason stays."""
    now = utcnow()
    manager.store.write(lambda s: s.add(Lease(
        holder=user, course=course, kernel_id=None, kind=req.kind, count=req.count, request=[str(req)],
        devices=devices, state="ended", requested=now, started=now, deadline=now, ended=now,
        last_activity=now, ttl_s=manager.policy.heartbeat_s, reason=f"refused: {reason}", backend=BACKEND,
        backend_ref=job)))


# --- reconciliation (the service's sweep) --------------------------------------------------------
_asked: dict[str, float] = {}  # job id -> when the hub was asked to stop its server (this process)


def reconcile(manager: LeaseManager, stop: Any = None) -> list[str]:
    """End live leases whose job is over; stop running jobs whose lease ended. Returns what was done.

    ``stop(user)`` asks the hub to stop a user's server (``stop_server`` by default)."""
    stop = stop or stop_server
    # Read the leases before listing the jobs: a lease recorded after the listing has a job the
    # listing may miss, and must not be ended for it.
    with manager.store.session() as s:
        live = [lease_dict(r) for r in s.scalars(select(Lease).where(
            Lease.backend == BACKEND, Lease.state == "live", Lease.backend_ref.is_not(None)))]
        anything = live or s.scalars(select(Lease.id).where(Lease.backend == BACKEND).limit(1)).first()
    if not anything:
        return []  # a center without Slurm leases never calls Slurm
    jobs = _queue()
    if jobs is None:
        return []
    done: list[str] = []
    for lease in live:
        job = str(lease["backend_ref"])
        state = jobs.get(job, {}).get("state")
        if state is not None and state not in FINISHED:
            continue
        how = state.lower() if state else "no longer in the queue"
        manager.release(lease["lease"], reason=f"Slurm job {job} ended ({how}); the server and its kernels "
                                               "are gone, start your server again for new devices")
        done.append(f"ended lease {lease['lease']}: job {job} {how}")
    running = {j: facts for j, facts in jobs.items() if facts["state"] not in FINISHED
               and not facts["name"].startswith(JOB_PREFIX)}
    if running:
        with manager.store.session() as s:
            ended = [lease_dict(r) for r in s.scalars(select(Lease).where(
                Lease.backend == BACKEND, Lease.state.not_in(OPEN), Lease.backend_ref.in_(list(running))))]
        for lease in ended:
            job = str(lease["backend_ref"])
            facts = running[job]
            if facts["user"] != lease["holder"] or not _same_job(facts["start"], lease["started"]):
                continue  # a job id Slurm has since given to another job
            done.append(_end_job(job, lease, stop))
    for job in [j for j in _asked if j not in running]:
        del _asked[job]
    return done


def _same_job(job_start: datetime | None, lease_started: datetime | None) -> bool:
    """A server registers its job after the job started; a job that started later reuses the id."""
    if job_start is None or lease_started is None:
        return True
    return job_start <= lease_started + timedelta(seconds=2)


def _end_job(job: str, lease: dict[str, Any], stop: Any) -> str:
    asked = _asked.get(job)
    if asked is None:
        _asked[job] = time.monotonic()
        answer = stop(lease["holder"])
        return f"asked the hub to stop {lease['holder']}'s server (job {job}, lease {lease['lease']} " \
               f"{lease['state']}): {answer}"
    if time.monotonic() - asked < CANCEL_AFTER_S:
        return f"waiting for job {job} of {lease['state']} lease {lease['lease']} to end"
    done = _slurm(["scancel", job])
    _asked[job] = time.monotonic()
    if done.returncode != 0:
        return f"job {job} of {lease['state']} lease {lease['lease']} still runs and `scancel` was refused " \
               f"({done.stderr.strip()}); make the service's account a Slurm operator, or cancel it"
    return f"cancelled job {job} of {lease['state']} lease {lease['lease']}"


def _queue() -> dict[str, dict[str, Any]] | None:
    """Every job Slurm lists: id → name, user, state, start time; None when the controller is away."""
    done = _slurm(["squeue", "-h", "-a", "-o", "%i|%j|%u|%T|%S"])
    if done.returncode != 0:
        return None
    jobs: dict[str, dict[str, Any]] = {}
    for line in done.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 5:
            job, name, user, state, start = parts
            jobs[job] = {"name": name, "user": user, "state": state, "start": _local_time(start)}
    return jobs


def _local_time(text: str) -> datetime | None:
    """squeue prints local times without a zone; the store keeps UTC."""
    try:
        return datetime.fromisoformat(text).astimezone(timezone.utc)
    except ValueError:
        return None  # N/A, Unknown


def stop_server(user: str) -> str:
    """Ask the hub to stop ``user``'s server (the service's token carries ``delete:servers``)."""
    api, token = os.environ.get("JUPYTERHUB_API_URL", ""), os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not api or not token:
        return "no hub to ask (JUPYTERHUB_API_URL is not set)"
    url = f"{api.rstrip('/')}/users/{urllib.parse.quote(user)}/server"
    request = urllib.request.Request(url, method="DELETE", headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return f"the hub answered {response.status}"
    except urllib.error.HTTPError as err:
        try:
            message = json.loads(err.read()).get("message", "")
        except (json.JSONDecodeError, AttributeError):
            message = ""
        return f"the hub answered {err.code} {message}".strip()
    except OSError as exc:
        return f"the hub cannot be reached ({exc})"
