"""The service backend: a single-user server under JupyterHub leases through the workbench service.

The service holds the store and the inventory; this server holds only its user's hub token. The
service decides which devices (its own backend places them) and answers with the lease, whose
devices this server's kernels then see (``device_env``). Heartbeats carry the kernel's last
activity, so idle reclaim is decided by the service, which owns the lease rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workbench.config import Workbench
from workbench.devices import inventory
from workbench.devices.backends import Backend
from workbench.devices.inventory import Device
from workbench.devices.leases import Request
from workbench.devices.policy import LeaseRefused
from workbench.errors import WorkbenchError
from workbench.service.client import ServiceClient, ServiceError, with_moments


def _lease(data: dict[str, Any]) -> dict[str, Any]:
    """The service's lease JSON with its moments as datetimes, as a store-backed lease has them."""
    return with_moments(data, ("deadline", "started", "ended", "max_end"))


class ServiceBackend(Backend):
    name = "service"

    def __init__(self, settings: Workbench) -> None:  # no LeaseManager: the store is the service's
        self.settings = settings
        self.client = ServiceClient(settings.effective_service_url)

    def acquire(self, holder: str, requests: list[Request], *, course: str | None = None,
                kernel_id: str | None = None, wait: float = 0.0, ttl: float | None = None) -> dict[str, Any]:
        """``holder`` is not sent: the service leases to whoever the token belongs to."""
        body = {"requests": [str(r) for r in requests], "course": course, "kernel_id": kernel_id, "ttl": ttl}
        try:
            lease = self.client.post_json("sessions", body)
        except ServiceError as exc:
            if exc.status == 409:
                raise LeaseRefused(exc.message) from None
            raise
        return _lease(lease)

    def renew(self, lease_id: int, activity: datetime | None = None) -> dict[str, Any]:
        body = {"activity": activity.isoformat()} if activity is not None else {}
        return _lease(self.client.post_json(f"sessions/{lease_id}/renew", body))

    def release(self, lease_id: int, reason: str = "released") -> dict[str, Any]:
        """The service records who released it (the token's user); ``reason`` stays local."""
        return _lease(self.client.post_json(f"sessions/{lease_id}/release"))

    def heartbeat_s(self, lease: dict[str, Any]) -> float:
        return float(lease["heartbeat_s"])

    def known_devices(self) -> list[Device]:
        """The service owns the inventory; the kernel runs here, on the same machine, so where its device
        files are comes from this server's own view (its inventory file if it may read one, else
        discovery), and from the kinds' default paths when neither answers."""
        try:
            return inventory.devices(self.settings.effective_inventory if self.settings else "")
        except WorkbenchError:
            return []
