"""``workbench-service``: the command JupyterHub runs as the managed service ``workbench``.

It starts ``jupyterhub-singleuser`` in service mode (the hub sets ``JUPYTERHUB_SERVICE_NAME``,
``JUPYTERHUB_SERVICE_URL``, ``JUPYTERHUB_API_TOKEN``), loading only the workbench extension, with an
authorizer that opens nothing but the workbench API, no terminals, and an empty root directory
of its own. The store URL, inventory and data directory come from the service's environment
(``WORKBENCH_DB_URL``…), which the hub's configuration gives to this process alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from workbench.config import load_settings
from workbench.errors import ConfigError

EXTENSIONS = {"workbench.server": True, "jupyterlab": False, "jupyter_lsp": False, "notebook_shim": False,
              "jupyter_server_terminals": False, "nbclassic": False, "notebook": False}


def server_args(root: Path) -> list[str]:
    return [
        "--ServerApp.authorizer_class=workbench.service.authorizer.WorkbenchOnlyAuthorizer",
        "--ServerApp.terminals_enabled=False",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.jpserver_extensions={EXTENSIONS!r}",
        "--Workbench.hub_service=True",
    ]


def main(argv: list[str] | None = None) -> None:
    if not os.environ.get("JUPYTERHUB_SERVICE_NAME"):
        sys.exit("workbench-service: JupyterHub starts this as a managed service (c.JupyterHub.services, see "
                 "docs/hub.md); JUPYTERHUB_SERVICE_NAME is not set, so it was not started by a hub")
    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.exit(f"workbench-service: {exc.message}")
    root = Path(settings.data_dir) / "service-root"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    from jupyterhub.singleuser.extension import main as singleuser

    singleuser(argv=[*server_args(root), *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
