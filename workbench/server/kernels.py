"""``GET kernels/{id}/device``: what the status bar shows for the active kernel (and, for an event's
kernel, its team and the device-hours the team has left)."""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from workbench.devices.leases import LeaseManager
from workbench.devices.quota import team_standing
from workbench.server.base import WorkbenchHandler
from workbench.server.openapi import ERRORS, NOT_FOUND, ok, param
from workbench.server.sessions import lease_json
from workbench.server.sweeper import lease_of_kernel
from workbench.service.client import ServiceClient


class KernelDeviceHandler(WorkbenchHandler):
    def ended_lease(self, kernel_id: str) -> dict[str, Any] | None:
        """The lease a kernel held once it is gone: from the store, or (a hub client) the sweeper's memory."""
        if self.workbench.effective_service_url:
            return self.settings["workbench_sweeper"].reclaimed.get(kernel_id)
        return lease_of_kernel(self.store, kernel_id)

    async def lease_row(self, lease_id: int) -> dict[str, Any]:
        if self.workbench.effective_service_url:
            client = ServiceClient(self.workbench.effective_service_url)
            return dict(await asyncio.to_thread(client.get_json, f"sessions/{lease_id}"))
        lease = LeaseManager(self.store, []).get(lease_id)
        return {**lease_json(lease), **(team_standing(self.store, lease["holder"], lease["course"]) or {})}

    @web.authenticated
    @authorized
    async def get(self, kernel_id: str) -> None:
        if kernel_id not in self.kernel_manager:
            ended = self.ended_lease(kernel_id)  # reclaimed (idle, deadline): say why
            if ended is None or ended["state"] != "reclaimed":
                raise web.HTTPError(404, f"no running kernel '{kernel_id}'; start or restart it")
            ids = ",".join(d["id"] for d in ended["devices"])
            self.send({"kernel_id": kernel_id, "device": f"{ended['kind'].upper()} {ids}".strip(),
                       "lease": ended["lease"], "state": "reclaimed", "reason": ended["reason"],
                       "time_left_s": 0.0, "queue_position": None})
            return
        lease = getattr(self.kernel_manager.get_kernel(kernel_id).provisioner, "lease", None)
        if lease is None:
            self.send({"kernel_id": kernel_id, "device": "CPU", "lease": None, "time_left_s": None,
                       "queue_position": None})
            return
        row = await self.lease_row(lease["lease"])
        ids = ",".join(d["id"] for d in row["devices"])
        self.send({"kernel_id": kernel_id, "device": f"{row['kind'].upper()} {ids}".strip(),
                   "lease": row["lease"], "state": row["state"], "reason": row["reason"],
                   "time_left_s": row["time_left_s"], "queue_position": row.get("queue_position"),
                   "team": row.get("team"), "team_hours_left": row.get("team_hours_left")})


ROUTES = [(r"kernels/(?P<kernel_id>[^/]+)/device", KernelDeviceHandler)]
PATHS = {"/kernels/{kernel_id}/device": {"get": {
    "summary": "Device, lease, time left and queue position of a running kernel (state "
               "'reclaimed' with the reason once the workbench shut it down)",
    "parameters": [param("kernel_id")],
    "responses": {"200": ok("device", "KernelDevice"), **ERRORS, **NOT_FOUND}}}}
