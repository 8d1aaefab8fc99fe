"""``GET kernels/{id}/device``: what the status bar shows for the active kernel."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from workbench.devices.leases import LeaseManager
from workbench.server.base import WorkbenchHandler
from workbench.server.openapi import ERRORS, NOT_FOUND, ok, param
from workbench.server.sessions import time_left_s
from workbench.server.sweeper import lease_of_kernel


class KernelDeviceHandler(WorkbenchHandler):
    @web.authenticated
    @authorized
    def get(self, kernel_id: str) -> None:
        if kernel_id not in self.kernel_manager:
            ended = lease_of_kernel(self.store, kernel_id)  # reclaimed (idle, deadline): say why
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
        row = LeaseManager(self.store, []).get(lease["lease"])
        ids = ",".join(d["id"] for d in row["devices"])
        self.send({"kernel_id": kernel_id, "device": f"{row['kind'].upper()} {ids}".strip(),
                   "lease": row["lease"], "state": row["state"], "reason": row["reason"],
                   "time_left_s": time_left_s(row),
                   "queue_position": row.get("queue_position")})


ROUTES = [(r"kernels/(?P<kernel_id>[^/]+)/device", KernelDeviceHandler)]
PATHS = {"/kernels/{kernel_id}/device": {"get": {
    "summary": "Device, lease, time left and queue position of a running kernel (state "
               "'reclaimed' with the reason once the workbench shut it down)",
    "parameters": [param("kernel_id")],
    "responses": {"200": ok("device", "KernelDevice"), **ERRORS, **NOT_FOUND}}}}
