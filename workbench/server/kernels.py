"""``GET kernels/{id}/device``: what the status bar shows for the active kernel."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from workbench.server.base import WorkbenchHandler
from workbench.server.openapi import ERRORS, NOT_FOUND, ok, param


class KernelDeviceHandler(WorkbenchHandler):
    @web.authenticated
    @authorized
    def get(self, kernel_id: str) -> None:
        if kernel_id not in self.kernel_manager:
            raise web.HTTPError(404, f"no running kernel '{kernel_id}'; start or restart it")
        lease = getattr(self.kernel_manager.get_kernel(kernel_id).provisioner, "lease", None)
        if lease is None:
            self.send({"kernel_id": kernel_id, "device": "CPU", "lease": None, "time_left_s": None,
                       "queue_position": None})
            return
        from workbench.devices.leases import LeaseManager
        from workbench.store.models import utcnow

        row = LeaseManager(self.store, []).get(lease["lease"])
        ids = ",".join(d["id"] for d in row["devices"])
        self.send({"kernel_id": kernel_id, "device": f"{row['kind'].upper()} {ids}".strip(),
                   "lease": row["lease"], "state": row["state"], "reason": row["reason"],
                   "time_left_s": max(0.0, (row["deadline"] - utcnow()).total_seconds())
                   if row["state"] == "live" else 0.0,
                   "queue_position": row.get("queue_position")})


ROUTES = [(r"kernels/(?P<kernel_id>[^/]+)/device", KernelDeviceHandler)]
PATHS = {"/kernels/{kernel_id}/device": {"get": {
    "summary": "Device, lease, time left and queue position of a running kernel",
    "parameters": [param("kernel_id")],
    "responses": {"200": ok("device", "KernelDevice"), **ERRORS, **NOT_FOUND}}}}
