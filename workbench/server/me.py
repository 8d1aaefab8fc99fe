"""``GET me``: who the server thinks you are, your role, and the courses you instruct (``*``: all)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from workbench.server.base import WorkbenchHandler
from workbench.server.openapi import ERRORS, ok


class MeHandler(WorkbenchHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        courses = sorted(self._instructed())
        self.send({"user": self.username, "role": self.role, "instructs": courses})


ROUTES = [("me", MeHandler)]
PATHS = {"/me": {"get": {"summary": "The current user and role",
                         "responses": {"200": ok("user", "Me"), **ERRORS}}}}
