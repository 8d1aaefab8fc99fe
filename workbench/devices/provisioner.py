"""The workbench kernel provisioner: a kernel starts on devices leased to its user, and gives them back.

Selected by a kernel spec's ``metadata.kernel_provisioner`` (``provisioner_name:
workbench-provisioner``) whose ``config`` is the device request, because jupyter_server's
``POST /api/kernels`` carries no per-launch parameters. ``pre_launch`` acquires the lease and
narrows the kernel's view (``ASCEND_RT_VISIBLE_DEVICES`` / ``CUDA_VISIBLE_DEVICES``: logical ids,
ascending, re-indexed from 0 inside the kernel); a thread renews the lease while the process
lives, so a ``kill -9`` of the kernel — or of the server — lets the deadline reclaim it. Placement
goes through the configured backend (``Workbench.backend``): local, or a Slurm allocation that the
kernel is ``srun`` into; under JupyterHub (``Workbench.service_url``) the workbench service leases.
On this machine the backend also isolates the kernel, so the variables are not all that keeps it to
its devices (``isolation.py``); a kernel that cannot be started so gives its lease back at once.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import signal
import threading
from typing import Any

from jupyter_client.provisioning import LocalProvisioner
from tornado import web
from traitlets import Float, List, Unicode

from workbench.config import load_settings
from workbench.devices import backends
from workbench.devices.backends import ENV_LEASE, VISIBLE, Backend, device_env
from workbench.devices.leases import Request
from workbench.errors import WorkbenchError

__all__ = ["ENV_LEASE", "VISIBLE", "WorkbenchProvisioner", "device_env", "holder_name"]


def holder_name() -> str:
    """The notebook's user: JupyterHub's name when spawned by a hub, else the account."""
    return os.environ.get("WORKBENCH_HOLDER") or os.environ.get("JUPYTERHUB_USER") or getpass.getuser()


class _KernelNotStarted(web.HTTPError):
    """Mixed into a refusal raised while a kernel starts (see ``shown``)."""


def shown(exc: WorkbenchError) -> WorkbenchError:
    """``exc`` as it was, and also a tornado ``HTTPError``: jupyter_server's kernel API then answers with
    its sentence (a quota, a busy pool, no team, isolation impossible), which JupyterLab shows when the
    kernel does not start, instead of "Unhandled error"; callers catching the workbench class still do."""
    both = type(type(exc).__name__, (type(exc), _KernelNotStarted), {})
    error: Any = Exception.__new__(both)
    error.__dict__.update(exc.__dict__)
    error.args, error.status_code, error.reason, error._log_message = (), 403, "Kernel not started", exc.message
    return error


class WorkbenchProvisioner(LocalProvisioner):
    """``LocalProvisioner`` plus a device lease that lives exactly as long as the kernel."""

    request = Unicode("cpu:1", config=True, help="device request, e.g. npu:1")
    fallback = List(Unicode(), config=True, help="requests tried in order when the first is refused")
    course = Unicode("", config=True, help="course or event whose quota applies")
    ttl = Float(0.0, config=True, help="heartbeat deadline in seconds (0: the policy's heartbeat_s)")

    lease: dict[str, Any] | None = None
    _stop: threading.Event | None = None

    def _backend(self) -> Backend:
        return backends.for_server(load_settings())

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        backend = await asyncio.to_thread(self._backend)
        if self.lease is None:  # a restart keeps the lease it has
            requests = [Request.parse(self.request), *(Request.parse(f) for f in self.fallback)]
            try:
                self.lease = await asyncio.to_thread(
                    backend.acquire, holder_name(), requests, course=self.course or None,
                    kernel_id=self.kernel_id, ttl=self.ttl or None)
            except WorkbenchError as exc:
                raise shown(exc) from exc
            self.log.info("workbench: kernel %s leased %s (%s)", self.kernel_id, self.lease["devices"],
                          backend.name)
        else:
            self.lease = {**self.lease, **await asyncio.to_thread(backend.renew, self.lease["lease"])}
        env = dict(kwargs.get("env") or os.environ)
        try:
            env.update(await asyncio.to_thread(backend.environment, self.lease))
        except WorkbenchError as exc:
            await self._give_back(backend, exc)
            raise shown(exc) from exc
        kwargs["env"] = env
        return await super().pre_launch(**kwargs)

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        if self.lease is not None:
            backend = await asyncio.to_thread(self._backend)
            try:
                cmd = await asyncio.to_thread(backend.command, self.lease, cmd)
            except WorkbenchError as exc:
                await self._give_back(backend, exc)
                raise shown(exc) from exc
        info = await super().launch_kernel(cmd, **kwargs)
        self._start_heartbeat()
        return info

    async def _give_back(self, backend: Backend, exc: WorkbenchError) -> None:
        """The kernel cannot start as its lease requires (e.g. isolation impossible): release the lease
        now rather than hold the device until the deadline reclaims it."""
        if self.lease is None:
            return
        if self._stop is not None:
            self._stop.set()
            self._stop = None
        lease_id, self.lease = self.lease["lease"], None
        self.log.error("workbench: kernel %s not started: %s", self.kernel_id, exc.message)
        await asyncio.to_thread(backend.release, lease_id, f"kernel not started: {exc.message}")

    async def send_signal(self, signum: int) -> None:
        """Signals reach the kernel inside its placement (``srun`` would not forward a lone SIGINT)."""
        if self.lease is not None and self.lease.get("backend", "local") != "local":
            backend = await asyncio.to_thread(self._backend)
            if await asyncio.to_thread(backend.signal, self.lease, signum):
                return
        await super().send_signal(signum)

    async def kill(self, restart: bool = False) -> None:
        if self.lease is not None and self.lease.get("backend", "local") != "local":
            backend = await asyncio.to_thread(self._backend)
            await asyncio.to_thread(backend.signal, self.lease, int(signal.SIGKILL))
        await super().kill(restart=restart)

    def _start_heartbeat(self) -> None:
        if self._stop is not None or self.lease is None:
            return
        stop = self._stop = threading.Event()
        backend = self._backend()
        lease_id, interval = self.lease["lease"], max(0.2, float(self.ttl or backend.heartbeat_s(self.lease)) / 3)

        def beat() -> None:
            while not stop.wait(interval):
                process = self.process
                if process is None or process.poll() is not None:
                    continue  # dead or between restarts: no renewal, the deadline decides
                try:
                    activity = getattr(self.parent, "last_activity", None)
                    state = backend.renew(lease_id, activity=activity)
                    if state["state"] not in ("live", "queued"):
                        self.log.warning("workbench: lease %s %s: %s", lease_id, state["state"],
                                         state["reason"])
                        return
                except Exception as exc:  # the store (or the service) may be briefly away; keep trying
                    self.log.warning("workbench: heartbeat of lease %s failed: %s", lease_id, exc)

        threading.Thread(target=beat, name=f"workbench-heartbeat-{lease_id}", daemon=True).start()

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        if restart or self.lease is None:
            return
        if self._stop is not None:
            self._stop.set()
            self._stop = None
        lease_id, self.lease = self.lease["lease"], None
        backend = await asyncio.to_thread(self._backend)
        await asyncio.to_thread(backend.release, lease_id, "kernel shut down")

    async def get_provisioner_info(self) -> dict[str, Any]:
        info = await super().get_provisioner_info()
        info["workbench_lease"] = self.lease
        return info

    async def load_provisioner_info(self, provisioner_info: dict) -> None:
        await super().load_provisioner_info(provisioner_info)
        self.lease = provisioner_info.get("workbench_lease")
