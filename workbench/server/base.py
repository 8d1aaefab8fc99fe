"""The base of every workbench handler: authentication, roles, JSON errors.

Authentication and authorization go through jupyter_server's own machinery (``@web.authenticated``
and ``@authorized`` against the ``workbench`` resource), so a request without a token gets 403 and
a JupyterHub deployment's authorizer applies unchanged. Roles are ours, on top.
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
from workbench.errors import CourseError, NotFoundError, WorkbenchError
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
        if user.name.startswith("Anonymous ") and re.fullmatch(r"[0-9a-f]{32}", user.username):
            return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
        return str(user.username)

    @property
    def role(self) -> str:
        return self.workbench.role_of(self.username)

    def require_instructor(self) -> None:
        if self.role != "instructor":
            raise web.HTTPError(
                403, f"user '{self.username}' is a student; this needs the instructor role "
                "(an admin lists instructors in Workbench.instructors)"
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
        if isinstance(exc, WorkbenchError):
            status_code = 404 if isinstance(exc, NotFoundError) else 400
            message = exc.message
        elif isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        else:
            message = self._reason
        self.set_status(status_code)
        self.set_header("Content-Type", "application/json")
        payload: dict[str, Any] = {"error": message}
        if isinstance(exc, CourseError):
            payload["problems"] = [str(p) for p in exc.problems]
        self.finish(json.dumps(payload))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, WorkbenchError):
            self.log.warning("workbench: %s", value.message)
        else:
            super().log_exception(typ, value, tb)
