"""``GET devices``, ``GET sessions`` and ``POST sessions/{id}/release``: device leases over REST.

Students see their own leases; instructors see everyone's (the Devices panel). Releasing someone
else's lease needs the instructor role.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from workbench.devices.leases import LeaseManager
from workbench.server.base import WorkbenchHandler
from workbench.server.openapi import ERRORS, NOT_FOUND, param
from workbench.store.models import utcnow


def time_left_s(lease: dict[str, Any]) -> float | None:
    """Seconds of session left as a person means it; None when nothing limits the session.

    A kernel's lease deadline is only its heartbeat (renewed every few seconds), so it is not
    shown: the session-length limit (``max_end``) is. A lease without a kernel (CLI, scripts)
    really ends at its deadline unless renewed.
    """
    if lease["state"] != "live":
        return 0.0
    end = lease.get("max_end") or (None if lease.get("kernel_id") else lease.get("deadline"))
    return None if end is None else max(0.0, (end - utcnow()).total_seconds())


def lease_json(lease: dict[str, Any]) -> dict[str, Any]:
    data = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in lease.items()}
    data["time_left_s"] = time_left_s(lease)
    return data


class LeaseHandler(WorkbenchHandler):
    @property
    def leases(self) -> LeaseManager:
        return LeaseManager.from_settings(self.store, self.workbench.effective_inventory)


class DevicesHandler(LeaseHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        manager = self.leases
        manager.sync()
        held = manager.held()
        devices = [{"kind": d.kind, "id": d.ident, "model": d.model, "health": d.health,
                    "lease": held.get((d.kind, d.ident))} for d in manager.devices]
        body: dict[str, Any] = {"devices": devices}
        if self.role == "instructor":
            body["usage"] = manager.usage()
        self.send(body)


class SessionsHandler(LeaseHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        everyone = self.role == "instructor" and self.get_argument("mine", "") == ""
        listed = self.leases.list_leases(all=bool(self.get_argument("all", "")),
                                         holder=None if everyone else self.username)
        self.send({"sessions": [lease_json(x) for x in listed]})


class ReleaseHandler(LeaseHandler):
    @web.authenticated
    @authorized
    def post(self, lease_id: str) -> None:
        if not lease_id.isdigit():
            raise web.HTTPError(404, f"no lease '{lease_id}'; lease ids are numbers (GET sessions lists yours)")
        manager = self.leases
        lease = manager.get(int(lease_id))
        if lease["holder"] != self.username:
            self.require_instructor()
        self.send(lease_json(manager.release(int(lease_id), reason=f"released by {self.username}")))


ROUTES = [("devices", DevicesHandler), ("sessions", SessionsHandler),
          (r"sessions/(?P<lease_id>[^/]+)/release", ReleaseHandler)]
_OBJ = {"200": {"description": "JSON object",
                "content": {"application/json": {"schema": {"type": "object"}}}}}
PATHS = {
    "/devices": {"get": {"summary": "Device inventory, which lease holds each, usage for instructors",
                         "responses": {**_OBJ, **ERRORS}}},
    "/sessions": {"get": {"summary": "Own live and queued leases (all users' for instructors; ?all=1 "
                                     "includes ended ones)", "responses": {**_OBJ, **ERRORS}}},
    "/sessions/{lease_id}/release": {"post": {
        "summary": "Release a lease (idempotent); another user's needs the instructor role",
        "parameters": [param("lease_id")], "responses": {**_OBJ, **ERRORS, **NOT_FOUND}}},
}
