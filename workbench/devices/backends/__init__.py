"""Where a kernel's devices come from: one small interface, one module per engine.

The lease row stays the single truth (quotas, usage, heartbeats are the store's, whatever the
backend); a backend only decides *placement* — which devices, inside what — and how a kernel
command is started there. ``local`` hands out this machine's inventory through the store;
``slurm`` turns each lease into a Slurm allocation; ``service`` (a single-user server under
JupyterHub, ``Workbench.service_url`` set) asks the workbench service, which owns the store and
places with its own backend (``for_server``). A Kubernetes backend is one more module that
implements the same five methods and one more name in ``BACKENDS``.

On this machine (local and service leases) ``command`` also isolates the kernel: only its leased
device files exist inside it (``isolation.py``, ``Workbench.isolate_devices``); a Slurm kernel is
confined by its allocation's device cgroup instead.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, ClassVar

from workbench.config import Workbench
from workbench.devices import isolation
from workbench.devices.inventory import Device
from workbench.devices.isolation import VISIBLE
from workbench.devices.leases import LeaseManager, Request
from workbench.errors import ConfigError

ENV_LEASE = "WORKBENCH_LEASE"
ENV_DEVICE_IDS = "WORKBENCH_DEVICE_IDS"  # the leased ids themselves (an isolated kernel's variable counts from 0)
BACKENDS = {"local": "workbench.devices.backends.local:LocalBackend",
            "slurm": "workbench.devices.backends.slurm:SlurmBackend"}


def device_env(lease: dict[str, Any]) -> dict[str, str]:
    """What the kernel process must see for this lease (CPU leases hide every accelerator)."""
    ids = ",".join(d["id"] for d in sorted(lease["devices"], key=lambda d: int(d["id"])))
    env = {ENV_LEASE: str(lease["lease"]), "WORKBENCH_DEVICE_KIND": lease["kind"], ENV_DEVICE_IDS: ids}
    for kind, variable in VISIBLE.items():
        env[variable] = ids if lease["kind"] == kind else ""
    return env


class Backend(ABC):
    """Placement for leases: acquire, wrap the kernel command, signal it, release, reap leftovers."""

    name: ClassVar[str]

    def __init__(self, manager: LeaseManager, settings: Workbench | None = None) -> None:
        self.manager = manager
        self.settings = settings

    @abstractmethod
    def acquire(self, holder: str, requests: list[Request], *, course: str | None = None,
                kernel_id: str | None = None, wait: float = 0.0, ttl: float | None = None) -> dict[str, Any]:
        """A live lease for the first request (then fallbacks) that can be placed; raises ``LeaseRefused``."""

    def environment(self, lease: dict[str, Any]) -> dict[str, str]:
        """Variables the kernel needs to see only its devices (counted from 0 when it is isolated)."""
        env = device_env(lease)
        if self.isolated(lease):
            env.update(isolation.environment(lease, self.known_devices()))
        return env

    def command(self, lease: dict[str, Any], argv: list[str]) -> list[str]:
        """The kernel command, wrapped so that it runs inside the placement: here, a namespace holding
        only the leased device files (none for a CPU lease; unchanged with isolation off)."""
        if not self.isolated(lease):
            return argv
        strict = self.settings is not None and self.settings.isolate_devices is True
        return isolation.wrap(lease, argv, self.known_devices(), strict=strict)

    def known_devices(self) -> list[Device]:
        """This machine's inventory: where each device file is (``path:`` / ``control:``)."""
        return list(self.manager.devices)

    def isolated(self, lease: dict[str, Any]) -> bool:
        """Whether ``lease``'s kernel runs isolated (``Workbench.isolate_devices``; raises when required
        and impossible)."""
        setting = self.settings.isolate_devices if self.settings is not None else None
        return isolation.applies(lease, setting, self.known_devices())

    def signal(self, lease: dict[str, Any], signum: int) -> bool:
        """Deliver ``signum`` to the kernel inside the placement; False means "signal the process yourself"."""
        return False

    def renew(self, lease_id: int, activity: datetime | None = None) -> dict[str, Any]:
        """Heartbeat, with the kernel's last activity when known; the answer says if it was reclaimed."""
        return self.manager.renew(lease_id, activity=activity)

    def heartbeat_s(self, lease: dict[str, Any]) -> float:
        """Seconds between heartbeats that keep ``lease`` alive."""
        return float(self.manager.policy.heartbeat_s)

    @abstractmethod
    def release(self, lease_id: int, reason: str = "released") -> dict[str, Any]:
        """End the lease and give its placement back (idempotent)."""

    def reap(self) -> list[str]:
        """Reconcile placements with lease rows (e.g. cancel jobs of reclaimed leases); returns what was done."""
        return []


def create(manager: LeaseManager, settings: Workbench) -> Backend:
    """The backend ``Workbench.backend`` names."""
    target = BACKENDS.get(settings.backend)
    if target is None:
        raise ConfigError(f"Workbench.backend = {settings.backend!r} is unknown; use one of {', '.join(BACKENDS)}")
    module, _, cls = target.partition(":")
    backend: Backend = getattr(importlib.import_module(module), cls)(manager, settings)
    return backend


def for_server(settings: Workbench) -> Backend:
    """The backend of a kernel provisioner or sweeper: the hub service's when this server is its
    client (no store here), else the configured one on the configured store."""
    if settings.effective_service_url:
        from workbench.devices.backends.server_job import ServerJobBackend, server_job
        from workbench.devices.backends.service import ServiceBackend

        job = server_job()  # a Slurm-spawned server: its kernels run on the job's lease
        return ServerJobBackend(settings, job) if job else ServiceBackend(settings)
    from workbench.store import open_store

    return create(LeaseManager.from_settings(open_store(settings.effective_db_url), settings.effective_inventory),
                  settings)
