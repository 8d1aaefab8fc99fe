"""The Slurm backend: every lease is a Slurm allocation, and the kernel runs inside it through ``srun``.

``salloc --no-shell`` holds the allocation without a shell (the job id is the lease's
``backend_ref``); the kernel is started as ``srun --jobid=<id> --overlap``, so Slurm's accounting,
limits and node choice apply, and ``scancel`` on release gives everything back. Slurm has no NPU
GRES plugin: a plugin-less ``Name=npu File=/dev/davinci[0-7]`` GRES only counts devices, and Slurm
exports no variable for it, so the indices are read from ``scontrol show job -d`` (``GRES=npu:2
(IDX:0-1)``) and exported as ``ASCEND_RT_VISIBLE_DEVICES`` by us — which is why gres.conf must list
the device files in logical-id order. Interrupts go through ``scancel --signal`` because ``srun``
itself answers a single SIGINT with a status line instead of forwarding it.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from typing import Any

from sqlalchemy import select

from workbench.devices import policy
from workbench.devices.backends import Backend
from workbench.devices.leases import OPEN, Request
from workbench.devices.policy import DevicesBusy, LeaseRefused, NoSuchDevices, QuotaExceeded
from workbench.errors import WorkbenchError
from workbench.store.leases_models import Lease

JOB_PREFIX = "wb-lease-"
TIMEOUT_S = 30
_GRES = re.compile(r"(?P<name>[A-Za-z]\w*)(?::[\w.-]+)?:(?P<count>\d+)\(IDX:(?P<idx>[^)]*)\)")


class SlurmError(WorkbenchError):
    """Slurm itself failed (controller down, bad partition, ...), not a busy or over-quota refusal."""


def expand_ids(text: str) -> list[str]:
    """``0-1,3`` → ``['0', '1', '3']`` (Slurm's index ranges)."""
    ids: list[str] = []
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        ids.extend(str(i) for i in range(int(low), int(high or low) + 1))
    return ids


def parse_job(text: str) -> dict[str, Any]:
    """The fields of ``scontrol show job -d`` we use: state, nodes, CPU ids and GRES indices per name."""
    fields = dict(re.findall(r"(\w+)=(\S*)", text))
    gres: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "CPU_IDs=" in line and "GRES=" in line:
            for match in _GRES.finditer(line.split("GRES=", 1)[1]):
                gres.setdefault(match["name"], []).extend(expand_ids(match["idx"]))
    return {"state": fields.get("JobState", ""), "nodes": fields.get("NodeList", ""),
            "cpus": expand_ids(fields.get("CPU_IDs", "")), "gres": gres}


class SlurmBackend(Backend):
    """Leases as Slurm allocations; quotas and usage still come from the store's lease rows."""

    name = "slurm"

    # --- running Slurm's commands ------------------------------------------------------------
    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        if shutil.which(argv[0]) is None:
            raise SlurmError(f"`{argv[0]}` is not on PATH; install the Slurm client tools (slurm-client) "
                             "or set Workbench.backend = 'local'")
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as exc:
            raise SlurmError(f"`{' '.join(argv[:2])}` did not answer in {TIMEOUT_S} s; is slurmctld up "
                             "(`scontrol ping`)?") from exc
        if check and done.returncode != 0:
            raise SlurmError(f"`{' '.join(argv)}` failed: {done.stderr.strip() or done.stdout.strip()}; "
                             "check `sinfo` and the Workbench.slurm_* settings")
        return done

    def _partition(self) -> list[str]:
        part = self.settings.slurm_partition if self.settings else ""
        return [f"--partition={part}"] if part else []

    def total(self, kind: str) -> int:
        """Devices of ``kind`` in the partition (CPUs for ``cpu``), for the refusal sentences."""
        if kind == "cpu":
            out = self._run(["sinfo", "-h", "-N", *self._partition(), "-o", "%N %c"]).stdout
            return sum(int(line.split()[1]) for line in dict.fromkeys(out.splitlines()) if line.strip())
        out = self._run(["sinfo", "-h", "-N", *self._partition(), "-o", "%N %G"]).stdout
        total = 0
        for line in dict.fromkeys(out.splitlines()):  # a node in two partitions is listed twice
            for match in re.finditer(rf"\b{kind}(?::[\w.-]+)?:(\d+)", line):
                total += int(match.group(1))
        return total

    def _pending(self) -> int:
        out = self._run(["squeue", "-h", "-t", "PD", *self._partition(), "-o", "%i"], check=False).stdout
        return len(out.split())

    # --- the Backend interface ---------------------------------------------------------------
    def acquire(self, holder: str, requests: list[Request], *, course: str | None = None,
                kernel_id: str | None = None, wait: float = 0.0, ttl: float | None = None) -> dict[str, Any]:
        refusals: list[LeaseRefused] = []
        for req in requests:
            try:
                row = self.manager.admit(holder, req, requests, backend=self.name, course=course,
                                         kernel_id=kernel_id, ttl=ttl, wait=wait)
            except QuotaExceeded as over:
                refusals.append(over)
                continue
            try:
                job = self._allocate(row["lease"], req, course, wait)
            except BaseException as exc:
                reason = exc.message if isinstance(exc, WorkbenchError) else "allocation interrupted"
                self.manager.release(row["lease"], reason=f"not placed: {reason}")
                if isinstance(exc, LeaseRefused):
                    refusals.append(exc)
                    continue
                raise
            try:
                return self.manager.placed(row["lease"], self._devices(job, req.kind), job)
            except BaseException:
                self._run(["scancel", job], check=False)
                raise
        busy = [r for r in refusals if isinstance(r, DevicesBusy)]
        if busy:
            raise busy[0]
        if len(refusals) == 1:
            raise refusals[0]
        raise type(refusals[0])(" ".join(r.message for r in refusals))

    def _allocate(self, lease_id: int, req: Request, course: str | None, wait: float) -> str:
        """``salloc --no-shell``; a refusal becomes the same sentence the local backend would say."""
        argv = ["salloc", "--no-shell", f"--immediate={max(1, math.ceil(wait))}" if wait else "--immediate",
                f"--job-name={JOB_PREFIX}{lease_id}", "--ntasks=1", *self._partition()]
        argv += [f"--cpus-per-task={req.count}"] if req.kind == "cpu" else ["--cpus-per-task=1",
                                                                          f"--gres={req.kind}:{req.count}"]
        hours = self.manager.policy.quota_for(course).max_session_hours
        if hours:
            argv.append(f"--time={max(1, math.ceil(hours * 60))}")
        argv += list(self.settings.slurm_args) if self.settings else []
        done = self._run(argv, check=False)
        granted = re.search(r"Granted job allocation (\d+)", done.stderr + done.stdout)
        if done.returncode == 0 and granted:
            return granted.group(1)
        error = done.stderr.strip()
        if "node configuration is not available" in error:
            raise NoSuchDevices(policy.none_message(req.kind, self.total(req.kind), req.count))
        if any(s in error for s in ("busy", "timed out", "temporarily unavailable", "Immediate execution")):
            position = self._pending() + 1
            raise DevicesBusy(policy.busy_message(req.kind, self.total(req.kind), position, waited=wait or None),
                              position)
        raise SlurmError(f"Slurm refused the allocation for lease {lease_id}: {error}; check `sinfo` and "
                         "the Workbench.slurm_partition / slurm_args settings")

    def _devices(self, job: str, kind: str) -> list[dict[str, str]]:
        shown = parse_job(self._run(["scontrol", "show", "job", "-d", job]).stdout)
        ids = shown["cpus"] if kind == "cpu" else shown["gres"].get(kind, [])
        return [{"kind": kind, "id": i, "node": shown["nodes"]} for i in ids]

    def command(self, lease: dict[str, Any], argv: list[str]) -> list[str]:
        """``srun`` into the allocation; the environment (visible devices included) goes along."""
        return ["srun", f"--jobid={lease['backend_ref']}", "--overlap", "--ntasks=1", "--nodes=1",
                "--export=ALL", "--kill-on-bad-exit=1", *argv]

    def signal(self, lease: dict[str, Any], signum: int) -> bool:
        if not lease.get("backend_ref") or signum == 0:
            return False
        self._run(["scancel", f"--signal={signum}", str(lease["backend_ref"])], check=False)
        return True

    def release(self, lease_id: int, reason: str = "released") -> dict[str, Any]:
        ended = self.manager.release(lease_id, reason)
        if ended.get("backend_ref"):
            self._run(["scancel", str(ended["backend_ref"])], check=False)
        return ended

    def reap(self) -> list[str]:
        """Cancel jobs whose lease ended (reclaimed by deadline); end live leases whose job is gone.

        A live lease's job is looked up by its id, not its name: a Slurm-spawned server's job
        (``workbench.service.server_jobs``) is a live ``slurm`` lease too, under the hub's job name.
        The live leases are read before the queue is listed, so one placed meanwhile is not ended."""
        with self.manager.store.session() as s:
            live = {r.id: r.backend_ref for r in s.scalars(select(Lease).where(
                Lease.backend == self.name, Lease.state == "live"))}
        listed = self._run(["squeue", "-h", "-o", "%i %j"], check=False)
        if listed.returncode != 0:  # controller away: an empty list must not end every live lease
            return []
        names = {job: name for job, _, name in (line.strip().partition(" ") for line in listed.stdout.splitlines())
                 if job}
        jobs = {int(name[len(JOB_PREFIX):]): job for job, name in names.items()
                if name.startswith(JOB_PREFIX) and name[len(JOB_PREFIX):].isdigit()}
        done: list[str] = []
        with self.manager.store.session() as s:
            rows = {r.id: r.state for r in s.scalars(select(Lease).where(
                Lease.backend == self.name, Lease.id.in_(list(jobs))))}
        for lease_id, job in jobs.items():
            state = rows.get(lease_id, "missing")
            if state not in OPEN:
                self._run(["scancel", job], check=False)
                done.append(f"cancelled job {job} of {state} lease {lease_id}")
        for lease_id, ref in live.items():
            if ref and ref not in names:
                self.manager.release(lease_id, reason=f"Slurm job {ref} ended (time limit, or cancelled by an "
                                                      "admin); restart the kernel for a new session")
                done.append(f"ended lease {lease_id}: job {ref} is gone")
        return done
