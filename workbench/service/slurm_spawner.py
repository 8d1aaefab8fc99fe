"""``WorkbenchSlurmSpawner``: a student's single-user server is a Slurm batch job holding the devices
of the profile they chose (``--gres=npu:1``), through batchspawner's ``SlurmSpawner``.

What it adds to ``SlurmSpawner``, and why:

- **Profiles, not free-form options.** batchspawner substitutes every ``user_options`` key into the
  batch script (``{{options}}``, ``{{prologue}}``, even ``{{cmd}}``), and ``user_options`` come from
  the user (the spawn form, or ``POST /hub/api/users/<name>/server`` with any JSON body). Here the
  only option is ``profile``, one of ``profiles`` (generated from the device inventory,
  ``profiles.py``); anything else is refused before a job is submitted.
- **The port callback sets the port and nothing else.** batchspawner's ``/hub/api/batchspawner``
  handler, which ``batchspawner-singleuser`` calls from inside the job with the server's token,
  copies *every* key of its JSON body onto the spawner (``setattr`` for any attribute that exists).
  That token lives in the student's server environment, so a student could send
  ``{"exec_prefix": "..."}`` and have the hub, which runs as root, execute it at the next stop. The
  handler is replaced by one that accepts exactly ``{"port": N}``.
- **No sudo.** The hub runs as root; ``exec_prefix`` is ``runuser -u {username} --`` (util-linux,
  on every Debian), so ``sbatch``/``squeue``/``scancel`` run as the student and the job is theirs.
  The environment is kept (``SLURM_CONF`` and the server's variables reach ``sbatch --export``).
- **Listening where the hub can reach it.** batchspawner resets the spawner's ``ip`` to its
  default (loopback) at every start, and the server listens on the host of the
  ``JUPYTERHUB_SERVICE_URL`` it is given; ``listen_ip`` replaces that host, so on a cluster
  (``"0.0.0.0"``) the server answers on its node's address, which the hub takes from ``squeue``.
- **A plain batch script.** No ``--get-user-env`` (it makes slurmd run ``su -`` for the user on the
  node, slow and unnecessary: the hub passes what the server needs); the job is named
  ``wb-server-<user>`` so ``squeue`` tells servers apart from kernel allocations (``wb-lease-<id>``).

Inside the job the server (``WORKBENCH_SERVER_JOB=slurm``) registers its job with the workbench
service, which records the lease: ``workbench/service/server_jobs.py`` for the reconciliation.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

from batchspawner import SlurmSpawner
from batchspawner.api import BatchSpawnerAPIHandler
from jupyterhub import apihandlers
from tornado import web
from traitlets import Dict, List, Unicode, default

from workbench.devices import inventory
from workbench.service.profiles import device_profiles

PROFILE = "profile"
BATCH_SCRIPT = """#!/bin/bash
#SBATCH --output={{homedir}}/.workbench-server-%j.log
#SBATCH --job-name=wb-server-{{username}}
#SBATCH --chdir={{homedir}}
#SBATCH --export={{keepvars}}
#SBATCH --ntasks=1
{% if partition %}#SBATCH --partition={{partition}}
{% endif %}{% if account %}#SBATCH --account={{account}}
{% endif %}{% if qos %}#SBATCH --qos={{qos}}
{% endif %}{% if runtime %}#SBATCH --time={{runtime}}
{% endif %}{% if memory %}#SBATCH --mem={{memory}}
{% endif %}{% if gres %}#SBATCH --gres={{gres}}
{% endif %}{% if nprocs %}#SBATCH --cpus-per-task={{nprocs}}
{% endif %}{% if options %}#SBATCH {{options}}
{% endif %}
set -euo pipefail
trap 'echo SIGTERM received' TERM
{{prologue}}
{% if srun %}{{srun}} {% endif %}{{cmd}}
{{epilogue}}
"""


class PortOnlyHandler(BatchSpawnerAPIHandler):
    """``batchspawner-singleuser`` reports the port it listens on; that is all it may set."""

    @web.authenticated
    def post(self) -> None:
        data = self.get_json_body() or {}
        port = data.get("port") if isinstance(data, dict) else None
        if set(data) != {"port"} or not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise web.HTTPError(400, 'send exactly {"port": <the port the server listens on>}')
        token = self.get_auth_token()
        spawner = next((s for s in self.current_user.spawners.values() if s.api_token == token), None)
        if spawner is None:
            raise web.HTTPError(403, "this token belongs to no server of yours")
        spawner.port = port
        self.set_status(201)
        self.finish(json.dumps({"message": "BatchSpawner data configured"}))


def _install_port_handler() -> None:
    handlers = apihandlers.default_handlers
    for i, entry in enumerate(handlers):
        if entry[1] is BatchSpawnerAPIHandler:
            handlers[i] = (entry[0], PortOnlyHandler, *entry[2:])


_install_port_handler()


class WorkbenchSlurmSpawner(SlurmSpawner):
    profiles = List(Dict(), help="Server profiles, [{name, display_name, gres, cpus}]; the first is the "
                    "default. configure_slurm() generates them from the device inventory.").tag(config=True)
    listen_ip = Unicode("", help="The address the server listens on in its job: empty keeps batchspawner's "
                        "loopback (hub and jobs on one machine); '0.0.0.0' every address of the node (a "
                        "cluster).").tag(config=True)

    @default("exec_prefix")
    def _exec_prefix(self) -> str:
        return "runuser -u {username} --"

    @default("batch_script")
    def _batch_script(self) -> str:
        return BATCH_SCRIPT

    @default("profiles")
    def _profiles(self) -> list[dict[str, Any]]:
        return [{"name": "cpu", "display_name": "CPU only", "gres": "", "cpus": 1}]

    @default("options_form")
    def _options_form(self) -> Any:
        return self.profile_form

    @default("options_from_form")
    def _options_from_form(self) -> Any:
        return lambda form: {PROFILE: (form.get(PROFILE) or [""])[0]}

    @default("apply_user_options")
    def _apply_user_options(self) -> Any:
        return lambda spawner, options: spawner.chosen(options)

    def profile_form(self, spawner: Any = None) -> str:
        options = "".join(f'<option value="{html.escape(p["name"])}">{html.escape(p["display_name"])}</option>'
                          for p in self.profiles)
        return f'<label for="profile">Devices for this server</label><select name="{PROFILE}" id="profile" ' \
               f'class="form-control">{options}</select>'

    def chosen(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """The profile ``options`` name (the first when none); anything else is refused with HTTP 400."""
        options = self.user_options if options is None else options
        extra = sorted(set(options or {}) - {PROFILE})
        if extra:
            raise web.HTTPError(400, f"unknown server option(s) {', '.join(extra)}: choose a profile "
                                     f"({', '.join(p['name'] for p in self.profiles)})")
        name = (options or {}).get(PROFILE) or self.profiles[0]["name"]
        for profile in self.profiles:
            if profile["name"] == name:
                return profile
        raise web.HTTPError(400, f"no server profile {name!r}; choose one of "
                                 f"{', '.join(p['name'] for p in self.profiles)}")

    async def start(self) -> Any:
        """Only the profile's name reaches the batch script (batchspawner adds user_options to it)."""
        self.user_options = {PROFILE: self.chosen()["name"]}
        return await super().start()

    def get_env(self) -> dict[str, str]:
        env: dict[str, str] = super().get_env()
        if self.listen_ip and env.get("JUPYTERHUB_SERVICE_URL"):
            url = urlparse(env["JUPYTERHUB_SERVICE_URL"])
            env["JUPYTERHUB_SERVICE_URL"] = urlunparse(url._replace(netloc=f"{self.listen_ip}:{url.port or 0}"))
        return env

    def get_req_subvars(self) -> dict[str, Any]:
        subvars: dict[str, Any] = super().get_req_subvars()
        profile = self.chosen()
        subvars["gres"] = profile.get("gres") or subvars.get("gres", "")
        subvars["nprocs"] = str(profile.get("cpus") or subvars.get("nprocs") or "")
        return subvars


def slurm_profiles(inventory_path: str) -> list[dict[str, Any]]:
    """The inventory's profiles as this spawner takes them (one CPU per server; ``--gres`` for devices)."""
    return [{"name": p.slug, "display_name": p.display_name, "gres": p.gres, "cpus": 1}
            for p in device_profiles(inventory.devices(inventory_path, discover=False) if inventory_path else [])]


def configure_slurm(c: Any, *, venv_bin: Path, inventory_path: str, remote: bool = False) -> None:
    """The hub's side of Slurm-spawned servers (``hub_config.configure(spawner="slurm")``). The class
    itself is set, not its name, so that this module (and its port handler) is imported before the
    hub builds its handlers. ``remote``: servers reach the hub over the network, not loopback, so a
    server listens on every address of its node (the hub connects to the node's name)."""
    c.JupyterHub.spawner_class = WorkbenchSlurmSpawner
    if remote:
        c.WorkbenchSlurmSpawner.listen_ip = "0.0.0.0"  # the node's own address is known only inside the job
    c.WorkbenchSlurmSpawner.profiles = slurm_profiles(inventory_path)
    c.WorkbenchSlurmSpawner.batchspawner_singleuser_cmd = str(venv_bin / "batchspawner-singleuser")
    c.WorkbenchSlurmSpawner.start_timeout = 300
