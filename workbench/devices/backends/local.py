"""The local backend: this machine's devices, granted by the store's atomic transaction."""

from __future__ import annotations

from typing import Any

from workbench.devices.backends import Backend
from workbench.devices.leases import Request


class LocalBackend(Backend):
    """Placement is the lease itself: device rows in the store, the kernel a plain local process."""

    name = "local"

    def acquire(self, holder: str, requests: list[Request], *, course: str | None = None,
                kernel_id: str | None = None, wait: float = 0.0, ttl: float | None = None) -> dict[str, Any]:
        return self.manager.acquire(holder, requests, course=course, kernel_id=kernel_id, wait=wait, ttl=ttl)

    def release(self, lease_id: int, reason: str = "released") -> dict[str, Any]:
        return self.manager.release(lease_id, reason)
