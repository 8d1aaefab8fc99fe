"""``GET devices``, ``GET sessions`` and ``POST sessions/{id}/release``: device leases over REST.

Students see, renew and release their own leases; a course's instructors see and release its
leases (the Devices panel), instructors of every course all of them. ``POST sessions`` and
``renew`` are how a single-user server's kernel provisioner leases through the hub service;
``POST sessions/adopt`` is how a Slurm-spawned server registers the job it runs in
(``workbench.service.server_jobs``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from workbench.devices import team_holders
from workbench.devices.leases import LeaseManager, Request
from workbench.devices.quota import team_standing
from workbench.devices.session_info import session_info, team_lease_of
from workbench.server.base import WorkbenchHandler
from workbench.server.openapi import ERRORS, NOT_FOUND, param
from workbench.server.roles import EVERY_COURSE
from workbench.service import server_jobs
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

    def lease_id(self, text: str) -> int:
        if not text.isdigit():
            raise web.HTTPError(404, f"no lease '{text}'; lease ids are numbers (GET sessions lists yours)")
        return int(text)

    def may_see(self, lease: dict[str, Any]) -> bool:
        """Own leases and one's team's; a course's leases for its instructors; every lease for instructors
        of every course."""
        return (lease["holder"] == self.username or self.instructs(lease["course"] or EVERY_COURSE)
                or team_lease_of(self.store, self.username, lease["holder"]))

    def own_or_instructor(self, lease: dict[str, Any]) -> None:
        if not self.may_see(lease):
            raise web.HTTPError(403, f"lease {lease['lease']} is {lease['holder']}'s; you may see and release "
                                     "only your own (or, as an instructor, your course's)")


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
        if self.instructs(EVERY_COURSE):
            body["usage"] = manager.usage()
        self.send(body)


class SessionsHandler(LeaseHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        mine_only = not self.instructs() or self.get_argument("mine", "") != ""
        manager, every = self.leases, bool(self.get_argument("all", ""))
        if not mine_only:
            listed = manager.list_leases(all=every)
        else:  # one's own leases and one's teams'
            with self.store.session() as s:
                holders = [self.username, *team_holders.holders_of(s.connection(), self.username)]
            listed = [x for holder in holders for x in manager.list_leases(all=every, holder=holder)]
        self.send({"sessions": [lease_json(x) for x in listed if self.may_see(x)]})

    @web.authenticated
    @authorized
    def post(self) -> None:
        """Lease devices to the requesting user (a kernel provisioner under the hub asks this way)."""
        body = self.json_body()
        specs = body.get("requests")
        if not isinstance(specs, list) or not specs or not all(isinstance(x, str) for x in specs):
            raise web.HTTPError(400, 'send {"requests": ["npu:1", "cpu:1"], "course": ..., "kernel_id": ...}')
        ttl = body.get("ttl")
        manager = self.leases
        lease = manager.acquire(self.username, [Request.parse(x) for x in specs],
                                course=body.get("course") or None, kernel_id=body.get("kernel_id") or None,
                                ttl=float(ttl) if isinstance(ttl, (int, float)) and ttl > 0 else None)
        self.send({**lease_json(lease), "heartbeat_s": float(ttl or manager.policy.heartbeat_s)}, status=201)


class AdoptHandler(LeaseHandler):
    @web.authenticated
    @authorized
    def post(self) -> None:
        """A Slurm-spawned server registers its job, ``{"job": "<SLURM_JOB_ID>", "course": ...}``: the
        service reads the job from Slurm (its user must be the caller) and answers its lease."""
        body = self.json_body()
        job, course = body.get("job"), body.get("course")
        if not isinstance(job, (str, int)) or isinstance(job, bool) or not (course is None or isinstance(course, str)):
            raise web.HTTPError(400, 'send {"job": "<the server\'s $SLURM_JOB_ID>", "course": <id or null>}')
        manager = self.leases
        lease = server_jobs.adopt(manager, self.username, str(job), course=course or None)
        self.send({**lease_json(lease), "heartbeat_s": float(manager.policy.heartbeat_s)})


class SessionHandler(LeaseHandler):
    @web.authenticated
    @authorized
    def get(self, lease_id: str) -> None:
        lease = self.leases.get(self.lease_id(lease_id))
        self.own_or_instructor(lease)
        self.send({**lease_json(lease), **(team_standing(self.store, lease["holder"], lease["course"]) or {})})


class RenewHandler(LeaseHandler):
    @web.authenticated
    @authorized
    def post(self, lease_id: str) -> None:
        """Heartbeat from the holder's server, with the kernel's last activity: a lease idle past its
        course's limit is reclaimed here, and the answer says so (the server then stops the kernel)."""
        manager = self.leases
        lease = manager.get(self.lease_id(lease_id))
        if lease["holder"] != self.username:
            raise web.HTTPError(403, f"lease {lease['lease']} is {lease['holder']}'s; only its holder renews it")
        activity = self.json_body().get("activity")
        moment = datetime.fromisoformat(activity) if isinstance(activity, str) else None
        renewed = manager.renew(lease["lease"], activity=moment)
        if moment is not None:
            manager.sweep({lease["lease"]: moment})
            renewed = manager.get(lease["lease"])
        self.send(lease_json(renewed))


class ReleaseHandler(LeaseHandler):
    @web.authenticated
    @authorized
    def post(self, lease_id: str) -> None:
        manager = self.leases
        lease = manager.get(self.lease_id(lease_id))
        self.own_or_instructor(lease)
        self.send(lease_json(manager.release(lease["lease"], reason=f"released by {self.username}")))


class DeviceSessionHandler(LeaseHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        """What ``workbench.session().info()`` shows in a kernel under the hub: the kernel asks with its
        user's token, so it learns its own lease and quota and never holds a store URL."""
        lease = self.get_argument("lease", None)
        devices = [d for d in self.get_argument("devices", "").split(",") if d]
        self.send(session_info(self.store, self.workbench.effective_inventory, self.username,
                               self.lease_id(lease) if lease else None, self.get_argument("kind", "cpu"), devices))


ROUTES = [("devices", DevicesHandler), ("sessions", SessionsHandler), ("sessions/adopt", AdoptHandler),
          (r"sessions/(?P<lease_id>[^/]+)", SessionHandler),
          (r"sessions/(?P<lease_id>[^/]+)/renew", RenewHandler),
          (r"sessions/(?P<lease_id>[^/]+)/release", ReleaseHandler),
          ("me/device-session", DeviceSessionHandler)]
_OBJ = {"200": {"description": "JSON object",
                "content": {"application/json": {"schema": {"type": "object"}}}}}
PATHS = {
    "/devices": {"get": {"summary": "Device inventory, which lease holds each, usage for instructors",
                         "responses": {**_OBJ, **ERRORS}}},
    "/sessions": {"get": {"summary": "Own live and queued leases (a course's for its instructors; ?all=1 "
                                     "includes ended ones, ?mine=1 only your own)", "responses": {**_OBJ, **ERRORS}},
                  "post": {"summary": "Lease devices to yourself: {requests: ['npu:1', 'cpu:1'], course, kernel_id, "
                                      "ttl}; the first request that can be granted wins",
                           "responses": {"201": _OBJ["200"], **ERRORS}}},
    "/sessions/adopt": {"post": {
        "summary": "A Slurm-spawned server registers the job it runs in, {job: SLURM_JOB_ID, course}: the "
                   "service reads the job from Slurm (its user must be you) and answers its lease "
                   "(backend slurm, backend_ref the job id, devices the job's GRES indices); asking again "
                   "answers the same lease", "responses": {**_OBJ, **ERRORS, **NOT_FOUND}}},
    "/sessions/{lease_id}": {"get": {"summary": "One lease (own, or your course's as an instructor)",
                                     "parameters": [param("lease_id")], "responses": {**_OBJ, **ERRORS, **NOT_FOUND}}},
    "/sessions/{lease_id}/renew": {"post": {
        "summary": "Heartbeat by the holder, {activity: ISO time}; a lease idle past its limit comes back reclaimed",
        "parameters": [param("lease_id")], "responses": {**_OBJ, **ERRORS, **NOT_FOUND}}},
    "/me/device-session": {"get": {
        "summary": "Your lease's state and your quota, as workbench.session().info() shows them "
                   "(?lease=ID&kind=npu&devices=0)", "responses": {**_OBJ, **ERRORS, **NOT_FOUND}}},
    "/sessions/{lease_id}/release": {"post": {
        "summary": "Release a lease (idempotent); another user's needs the instructor role for its course",
        "parameters": [param("lease_id")], "responses": {**_OBJ, **ERRORS, **NOT_FOUND}}},
}
