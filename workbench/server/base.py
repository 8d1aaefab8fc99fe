"""The base of every workbench handler: authentication, roles, JSON errors.

Authentication and authorization go through jupyter_server's own machinery (``@web.authenticated``
and ``@authorized`` against the ``workbench`` resource), so a request without a token gets 403 and
a JupyterHub deployment's authorizer applies unchanged. Roles are ours, on top (``roles.py``), and
every handler checks rows against them: a student's request only ever reaches that student's rows.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from workbench.config import Workbench
from workbench.devices.policy import LeaseRefused
from workbench.errors import CourseError, NotFoundError, WorkbenchError
from workbench.server.roles import EVERY_COURSE, Identity, instructed_courses
from workbench.store import Store

API_PREFIX = "workbench/api/v1"


class WorkbenchHandler(APIHandler):
    auth_resource = "workbench"

    @property
    def workbench(self) -> Workbench:
        return self.settings["workbench_settings"]

    @property
    def store(self) -> Store:
        return self.settings["workbench_store"]

    @property
    def username(self) -> str:
        """Whose request this is. A token-only request to a personal server carries no identity
        (jupyter_server invents a random "Anonymous <moon>" user per request), so it is the
        server's owner; under JupyterHub the user is the hub's."""
        user = self.current_user
        anonymous = user.name.startswith("Anonymous ") and re.fullmatch(r"[0-9a-f]{32}", user.username)
        if anonymous and not self.workbench.hub_service:
            return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
        return str(user.username)

    @property
    def identity(self) -> Identity:
        """The user and, when the hub vouched for them, their hub groups."""
        hub_user = getattr(self.current_user, "hub_user", None) or {}
        return Identity(self.username, frozenset(hub_user.get("groups") or ()))

    def _instructed(self) -> frozenset[str]:
        if not hasattr(self, "_instructed_cache"):
            self._instructed_cache = instructed_courses(self.workbench, self.store, self.identity)
        return self._instructed_cache

    def instructs(self, course: str | None = None) -> bool:
        """Whether the user instructs ``course`` (any course at all when None)."""
        courses = self._instructed()
        return EVERY_COURSE in courses or (course in courses if course is not None else bool(courses))

    @property
    def role(self) -> str:
        return "instructor" if self.instructs() else "student"

    def require_instructor(self, course: str | None = None) -> None:
        if not self.instructs(course):
            what = f"course '{course}'" if course is not None else "any course"
            raise web.HTTPError(
                403, f"user '{self.username}' is not an instructor of {what}; this needs the instructor "
                "role (an admin adds you to the hub group 'instructors:<course>', or to the course's "
                "roles.instructors in course.yaml)"
            )

    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"{}")
        except json.JSONDecodeError as exc:
            raise web.HTTPError(400, f"request body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise web.HTTPError(400, "request body must be a JSON object")
        return body

    def send(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        payload: dict[str, Any] = {}
        if isinstance(exc, LeaseRefused):  # a busy pool or a full quota: the request was fine
            status_code, payload = 409, exc.as_dict()
            message = exc.message
        elif isinstance(exc, WorkbenchError):  # the service's own status when it relayed one
            status_code = getattr(exc, "status", 0) or (404 if isinstance(exc, NotFoundError) else 400)
            message = exc.message
        elif isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        else:
            message = self._reason
        self.set_status(status_code)
        self.set_header("Content-Type", "application/json")
        payload["error"] = message
        if isinstance(exc, CourseError):
            payload["problems"] = [str(p) for p in exc.problems]
        self.finish(json.dumps(payload))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, WorkbenchError):
            self.log.warning("workbench: %s", value.message)
        else:
            super().log_exception(typ, value, tb)
