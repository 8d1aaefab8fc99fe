"""The hub's side of a workbench deployment, in one function a ``jupyterhub_config.py`` calls.

What it sets, and why:
- real Unix accounts: PAM logs users in, ``LocalProcessSpawner`` starts each user's server as
  that user (the hub runs as root for that, as JupyterHub's own docs describe);
- the managed service ``workbench`` (``workbench-service``) runs as its own system account, and is
  the only process given the store URL, the inventory and the data directory;
- every user may reach the service (``access:services!service=workbench`` in the ``user`` role),
  and each server's API token carries that scope, so a server calls the service *as its user*;
- roles are hub groups: ``instructors`` (every course) and ``instructors:<course>``.

``spawner="slurm"`` makes each server a Slurm batch job instead (``slurm_spawner.py``): the student
picks a profile generated from the device inventory, the job holds its GRES, and the server
registers the job with the service, whose lease row stays the truth (``server_jobs.py``). For that
the service may stop servers (``delete:servers``: a lease that ends stops its job through the hub),
and both the service and the hub's Slurm commands get ``SLURM_CONF`` when the hub has it.

``internal_ip`` is where servers reach the hub's API and the service: loopback (the default) serves
servers on the hub's own machine; a cluster gives the hub machine's address on the compute nodes'
network, and then Slurm-spawned servers listen on every address of their node, so the hub can
reach them there. The proxy's API stays on loopback: only the hub talks to it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SERVICE = "workbench"
SPAWNERS = ("localprocess", "slurm")
ACCESS = f"access:services!service={SERVICE}"


LOOPBACK = "127.0.0.1"


def service_url(port: int, internal_ip: str = LOOPBACK) -> str:
    """Where users' servers reach the service directly (behind the hub's proxy path)."""
    return f"http://{internal_ip}:{port}/services/{SERVICE}/"


def configure(c: Any, *, venv_bin: Path, state_dir: Path, port: int, service_port: int,
              service_user: str, service_env: Mapping[str, str], users: Sequence[str],
              groups: Mapping[str, Sequence[str]], proxy_command: str, admin_users: Sequence[str] = (),
              spawner: str = "localprocess", inventory: str = "", internal_ip: str = LOOPBACK) -> None:
    """Fill the hub's config ``c`` for one center; ``groups`` maps hub group names to user names.
    ``spawner``: ``localprocess`` (servers on the hub's machine) or ``slurm`` (servers as Slurm jobs,
    with profiles from the ``inventory`` file); ``internal_ip``: the module docstring."""
    if spawner not in SPAWNERS:
        raise ValueError(f"spawner {spawner!r} is unknown; use one of {', '.join(SPAWNERS)}")
    slurm_env = {k: os.environ[k] for k in ("SLURM_CONF",) if spawner == "slurm" and k in os.environ}
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    c.JupyterHub.ip = LOOPBACK
    c.JupyterHub.port = port
    c.JupyterHub.hub_ip = internal_ip
    c.JupyterHub.hub_port = port + 1
    c.ConfigurableHTTPProxy.api_url = f"http://{LOOPBACK}:{port + 2}"
    c.ConfigurableHTTPProxy.command = [proxy_command]
    c.ConfigurableHTTPProxy.pid_file = str(state_dir / "proxy.pid")
    c.JupyterHub.db_url = f"sqlite:///{state_dir / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(state_dir / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(state_dir / "jupyterhub.pid")
    c.JupyterHub.authenticator_class = "pam"
    c.Authenticator.allowed_users = set(users)
    c.Authenticator.admin_users = set(admin_users)
    c.JupyterHub.spawner_class = "localprocess"
    c.Spawner.cmd = [str(venv_bin / "jupyterhub-singleuser")]
    c.Spawner.default_url = "/lab"
    c.Spawner.environment = {"WORKBENCH_SERVICE_URL": service_url(service_port, internal_ip), **slurm_env}
    c.Spawner.server_token_scopes = ["users:activity!user", ACCESS]
    c.Spawner.http_timeout = 90
    c.Spawner.start_timeout = 120
    c.JupyterHub.load_groups = {name: {"users": list(members)} for name, members in groups.items()}
    c.JupyterHub.load_roles = [{"name": "user", "scopes": ["self", ACCESS]}]
    if spawner == "slurm":
        from workbench.devices.backends.server_job import ENV_SERVER_JOB
        from workbench.service.slurm_spawner import configure_slurm

        configure_slurm(c, venv_bin=venv_bin, inventory_path=inventory, remote=internal_ip != LOOPBACK)
        c.Spawner.environment[ENV_SERVER_JOB] = "slurm"
        c.JupyterHub.load_roles.append({"name": "workbench-service", "services": [SERVICE],
                                        "scopes": ["delete:servers"]})
    c.JupyterHub.services = [{
        "name": SERVICE,
        "url": f"http://{internal_ip}:{service_port}",
        "command": [str(venv_bin / "workbench-service")],
        "user": service_user,
        "cwd": str(Path(service_env["WORKBENCH_DATA_DIR"])),
        "environment": {**service_env, **slurm_env, "PATH": f"{venv_bin}:/usr/bin:/bin"},
        "oauth_no_confirm": True,
    }]
