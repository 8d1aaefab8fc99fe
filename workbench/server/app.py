"""The ExtensionApp: reads the shared configuration, opens the store, mounts the handlers."""

from __future__ import annotations

from typing import Any

from jupyter_server.extension.application import ExtensionApp

from workbench.config import check_keys, load_settings
from workbench.server import courses, health, kernels, me, openapi, sessions, submissions
from workbench.server.base import API_PREFIX
from workbench.server.sweeper import Sweeper
from workbench.store import open_store

HANDLER_MODULES = (health, me, courses, kernels, sessions, submissions, openapi)


def routes() -> list[tuple[str, Any]]:
    """Every (pattern relative to the base URL, handler) pair the API serves."""
    return [
        (f"/{API_PREFIX}/{pattern}", handler)
        for module in HANDLER_MODULES
        for pattern, handler in module.ROUTES
    ]


class WorkbenchServerApp(ExtensionApp):
    name = "workbench"
    load_other_extensions = True

    def initialize_settings(self) -> None:
        check_keys(self.config, "server configuration")
        workbench = load_settings(self.config)
        store = open_store(workbench.effective_db_url)
        self.log.info("workbench: store %s (%s)", store.display_url, store.kind)
        self.settings.update(
            workbench_settings=workbench,
            workbench_store=store,
            workbench_openapi=openapi.document(HANDLER_MODULES),
        )
        assert self.serverapp is not None  # linked before initialize_settings runs
        self.sweeper = Sweeper(self.serverapp.kernel_manager, store, workbench, self.log)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """The sweep needs the running event loop, which initialize_settings does not have yet."""
        self.sweeper.start()

    async def stop_extension(self) -> None:
        self.sweeper.stop()
        grading = self.serverapp.web_app.settings.get("workbench_grading_executor") if self.serverapp else None
        if grading is not None:  # let the submission being graded finish; drop the queue
            grading.shutdown(wait=True, cancel_futures=True)

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes())
