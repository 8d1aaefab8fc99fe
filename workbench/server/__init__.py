"""jupyter_server extension: the workbench REST API under ``/workbench/api/v1/``."""

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from workbench.server.app import WorkbenchServerApp

    return [{"module": "workbench.server", "app": WorkbenchServerApp}]
