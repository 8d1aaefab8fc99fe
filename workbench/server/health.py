"""``GET health``: is the workbench up, which store, which devices."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from workbench._version import __version__
from workbench.devices import inventory
from workbench.server.base import WorkbenchHandler
from workbench.server.openapi import ERRORS, ok


class HealthHandler(WorkbenchHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        self.send({
            "version": __version__,
            "store": self.store.kind,
            "devices": inventory.summary(),
        })


ROUTES = [("health", HealthHandler)]
PATHS = {"/health": {"get": {"summary": "Version, store kind and device inventory summary",
                             "responses": {"200": ok("health", "Health"), **ERRORS}}}}
