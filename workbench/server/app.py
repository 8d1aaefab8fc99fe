"""The ExtensionApp: reads the shared configuration, opens the store, mounts the handlers.

Three places run it, with one set of handler modules:
- a personal server (``make lab``): holds the store, grades, and is its owner's;
- the hub's workbench service (``workbench-service``, ``Workbench.hub_service``): holds the store,
  the course sources and the grader, and serves every user with the identity the hub vouches for;
- a single-user server under the hub (``Workbench.service_url`` set): holds no store; it relays the
  API to the service with its user's token (``relay.py``) and runs only what needs the user's files
  and kernels itself.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.extension.application import ExtensionApp

from workbench.config import check_keys, load_settings
from workbench.server import (
    courses,
    event_files,
    event_submissions,
    events,
    grading_workers,
    health,
    kernels,
    me,
    openapi,
    relay,
    sessions,
    submissions,
)
from workbench.server.base import API_PREFIX
from workbench.server.event_scoring import EventScoring
from workbench.server.grading_queue import GradingQueue
from workbench.server.sweeper import Sweeper
from workbench.store import open_store

HANDLER_MODULES = (health, me, courses, kernels, sessions, submissions, grading_workers, events, event_submissions,
                   event_files, openapi)


def routes() -> list[tuple[str, Any]]:
    """Every (pattern relative to the base URL, handler) pair the API serves where the store is."""
    return [
        (f"/{API_PREFIX}/{pattern}", handler)
        for module in HANDLER_MODULES
        for pattern, handler in module.ROUTES
    ]


def client_routes() -> list[tuple[str, Any]]:
    """A hub client's routes: its own few first (tornado takes the first match), then the relay."""
    local = [*relay.ROUTES, *kernels.ROUTES, *event_files.CLIENT_ROUTES]
    return [*((f"/{API_PREFIX}/{pattern}", handler) for pattern, handler in local), relay.PROXY_ROUTE]


class WorkbenchServerApp(ExtensionApp):
    name = "workbench"
    load_other_extensions = True

    def initialize_settings(self) -> None:
        check_keys(self.config, "server configuration")
        workbench = load_settings(self.config)
        self.grading: GradingQueue | None = None
        self.scoring: EventScoring | None = None
        store = None
        if workbench.effective_service_url:
            self.log.info("workbench: a client of the workbench service at %s", workbench.effective_service_url)
        else:
            store = open_store(workbench.effective_db_url)
            self.grading = GradingQueue(store, self.log, workbench.effective_lab_python, workbench.grading_idle_s)
            self.scoring = EventScoring(store, self.log, workbench.effective_lab_python,
                                        workbench.effective_inventory)
            self.log.info("workbench: store %s (%s)%s", store.display_url, store.kind,
                          ", serving JupyterHub as its workbench service" if workbench.hub_service else "")
        assert self.serverapp is not None  # linked before initialize_settings runs
        self.sweeper = Sweeper(self.serverapp.kernel_manager, store, workbench, self.log)
        self.settings.update(
            workbench_settings=workbench,
            workbench_store=store,
            workbench_grading=self.grading,
            workbench_event_scoring=self.scoring,
            workbench_sweeper=self.sweeper,
            workbench_openapi=openapi.document(HANDLER_MODULES),
        )

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """The sweep needs the running event loop, which initialize_settings does not have yet; what a
        killed predecessor left queued is graded again now."""
        self.sweeper.start()
        if self.grading is not None:
            self.grading.resume()
        if self.scoring is not None:  # what a killed predecessor left running is re-queued once
            self.scoring.start()

    async def stop_extension(self) -> None:
        self.sweeper.stop()
        if self.grading is not None:  # let the submission being graded finish; the rest stays queued
            self.grading.close()
        if self.scoring is not None:
            self.scoring.close()

    def initialize_handlers(self) -> None:
        settings = load_settings(self.config)
        self.handlers.extend(client_routes() if settings.effective_service_url else routes())
