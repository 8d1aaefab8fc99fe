"""JupyterHub configuration of a workbench center (``make hub``, and the hub tests).

Everything that differs between centers comes from the environment ``bin/workbench-hub`` sets (see
docs/hub.md); what a deployment is lives in ``workbench.service.hub_config.configure``.
"""

import json
import os
from pathlib import Path

from workbench.service.hub_config import configure

c = get_config()  # noqa: F821 - JupyterHub's config loader provides it

configure(
    c,
    venv_bin=Path(os.environ["WB_HUB_VENV_BIN"]),
    state_dir=Path(os.environ["WB_HUB_STATE"]),
    port=int(os.environ["WB_HUB_PORT"]),
    service_port=int(os.environ["WB_HUB_SERVICE_PORT"]),
    service_user=os.environ["WB_HUB_SERVICE_USER"],
    service_env=json.loads(os.environ["WB_HUB_SERVICE_ENV"]),
    users=os.environ["WB_HUB_USERS"].split(),
    groups=json.loads(os.environ["WB_HUB_GROUPS"]),
    proxy_command=os.environ["WB_HUB_PROXY"],
    spawner=os.environ.get("WB_HUB_SPAWNER", "localprocess"),
    inventory=os.environ.get("WB_HUB_INVENTORY", ""),
    internal_ip=os.environ["WB_HUB_INTERNAL_IP"],
)
