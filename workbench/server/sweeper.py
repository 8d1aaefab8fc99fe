"""The server's periodic sweep: record kernel activity on their leases, reclaim idle ones, tell the user.

The provisioner's own heartbeat keeps a lease alive while its process lives; only the server knows
whether anyone is *using* the kernel (jupyter_server's ``last_activity`` / ``execution_state`` from
the kernel's IOPub). So every ``Workbench.sweep_interval_s`` the sweep writes that activity into
the lease rows, asks ``LeaseManager.sweep`` to reclaim leases idle past their course's
``idle_minutes`` (and any past their deadline), lets the backend reconcile (cancel Slurm jobs of
reclaimed leases), and shuts reclaimed kernels down through the kernel manager, so the notebook
shows the kernel as gone and ``GET kernels/{id}/device`` answers ``reclaimed`` with the reason.
A busy kernel (a long training cell prints nothing for an hour) counts as active.

Under JupyterHub with Slurm-spawned servers two more things happen here: the workbench service
keeps server jobs and their leases in step (``workbench.service.server_jobs.reconcile``), and a
server inside a job registers the job and renews its lease with its kernels' latest activity
(``ServerJobBackend.heartbeat``). The first sweep runs as the server starts, so a restarted
service reconciles at once and a new server's job is registered before anyone opens a kernel.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from tornado.ioloop import IOLoop, PeriodicCallback

from workbench.config import Workbench
from workbench.devices import backends
from workbench.devices.backends.server_job import ServerJobBackend
from workbench.devices.lease_sql import OPEN
from workbench.devices.leases import LeaseManager, lease_dict
from workbench.service import server_jobs
from workbench.store import Store
from workbench.store.leases_models import Lease


def lease_of_kernel(store: Store, kernel_id: str) -> dict[str, Any] | None:
    """The newest lease a kernel held, also after the kernel is gone (how the reclaim reason is found)."""
    with store.session() as s:
        row = s.scalars(select(Lease).where(Lease.kernel_id == kernel_id).order_by(Lease.id.desc())).first()
        return lease_dict(row) if row is not None else None


class Sweeper:
    """One periodic task per server; every failure is logged and retried on the next tick."""

    def __init__(self, kernel_manager: Any, store: Store | None, settings: Workbench, log: Any) -> None:
        self.kernels = kernel_manager
        self.store = store  # None on a hub client: the service holds the lease rows
        self.settings = settings
        self.log = log
        self._callback: PeriodicCallback | None = None
        self._running = False
        self.reclaimed: dict[str, dict[str, Any]] = {}  # kernel id -> its reclaimed lease (a hub client's memory)

    def start(self) -> None:
        if self.settings.sweep_interval_s > 0 and self._callback is None:
            self._callback = PeriodicCallback(self.tick, self.settings.sweep_interval_s * 1000)
            self._callback.start()
            IOLoop.current().add_callback(self.tick)

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    def activity(self) -> dict[int, tuple[str, datetime]]:
        """lease id → (kernel id, last activity) for this server's kernels that hold a lease."""
        now = datetime.now(timezone.utc)
        found: dict[int, tuple[str, datetime]] = {}
        for kernel_id in list(self.kernels.list_kernel_ids()):
            try:
                kernel = self.kernels.get_kernel(kernel_id)
            except KeyError:
                continue
            lease = getattr(getattr(kernel, "provisioner", None), "lease", None)
            if not lease:
                continue
            busy = getattr(kernel, "execution_state", "") in ("busy", "starting")
            last = getattr(kernel, "last_activity", None) or now
            moment = now if busy else last
            previous = found.get(int(lease["lease"]))  # kernels of one server job share its lease
            if previous is None or previous[1] < moment:
                found[int(lease["lease"])] = (kernel_id, moment)
        return found

    async def tick(self) -> list[dict[str, Any]]:
        """One sweep; returns the leases it reclaimed."""
        if self._running:  # a slow store must not pile sweeps up
            return []
        self._running = True
        try:
            return await self._sweep()
        except Exception as exc:
            self.log.warning("workbench: sweep failed, retrying next tick: %s", exc)
            return []
        finally:
            self._running = False

    async def _sweep(self) -> list[dict[str, Any]]:
        live = self.activity()
        if self.store is None:
            reclaimed = await self._renew_at_service(live)
        else:
            manager = LeaseManager.from_settings(self.store, self.settings.effective_inventory)
            for lease_id, (_, moment) in live.items():
                await asyncio.to_thread(manager.renew, lease_id, moment)
            reclaimed = await asyncio.to_thread(manager.sweep, {k: v[1] for k, v in live.items()})
            backend = backends.create(manager, self.settings)
            lines = await asyncio.to_thread(backend.reap)
            if self.settings.hub_service:
                lines += await asyncio.to_thread(server_jobs.reconcile, manager)
            for line in lines:
                self.log.info("workbench: %s", line)
        for lease in reclaimed:
            kernel = live.get(lease["lease"])
            if kernel is None:
                continue
            self.reclaimed[kernel[0]] = lease
            self.log.info("workbench: lease %s of kernel %s %s: %s; shutting the kernel down",
                          lease["lease"], kernel[0], lease["state"], lease["reason"])
            try:
                await self.kernels.shutdown_kernel(kernel[0], now=True)
            except Exception as exc:  # already gone: nothing to tell
                self.log.warning("workbench: shutting down kernel %s failed: %s", kernel[0], exc)
        return reclaimed

    async def _renew_at_service(self, live: dict[int, tuple[str, datetime]]) -> list[dict[str, Any]]:
        """A hub client renews each kernel's lease with its activity; the service answers "reclaimed"
        for a lease idle past its limit or past its deadline, and the reclaim itself is the service's."""
        backend = backends.for_server(self.settings)
        if isinstance(backend, ServerJobBackend):  # one lease, the server job's, for all its kernels
            latest = max((moment for _, moment in live.values()), default=None)
            answer = await asyncio.to_thread(backend.heartbeat, latest)
            return [answer] if answer["state"] not in OPEN else []
        answers = [await asyncio.to_thread(backend.renew, lease_id, moment) for lease_id, (_, moment) in live.items()]
        return [lease for lease in answers if lease["state"] not in OPEN]
