"""Configuration in one place, read the same way by the server, the CLI and the kernel provisioner.

The Jupyter convention is traitlets: ``c.Workbench.db_url = ...`` in ``jupyter_workbench_config.py``
(or ``.json``) anywhere on ``jupyter --paths``' config path, or on the server command line as
``--Workbench.db_url=...``. The environment variables ``WORKBENCH_DB_URL``,
``WORKBENCH_INVENTORY`` and ``WORKBENCH_LAB_PYTHON`` win over both, so a test or an admin shell can
point every process at one store (or one labs' environment) without editing files.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from jupyter_core.paths import jupyter_config_path, jupyter_data_dir
from traitlets import Bool, Enum, Float, List, Unicode, default
from traitlets.config import Config, Configurable
from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

from workbench.errors import ConfigError

CONFIG_BASENAME = "jupyter_workbench_config"
ENV_DB_URL = "WORKBENCH_DB_URL"
ENV_INVENTORY = "WORKBENCH_INVENTORY"
ENV_DATA_DIR = "WORKBENCH_DATA_DIR"
ENV_SERVICE_URL = "WORKBENCH_SERVICE_URL"
ENV_LAB_PYTHON = "WORKBENCH_LAB_PYTHON"


class Workbench(Configurable):
    """Site-wide settings of the workbench."""

    data_dir = Unicode(
        help="Directory for the embedded store and stored submissions "
        f"(env {ENV_DATA_DIR}; default: <jupyter data dir>/workbench)."
    ).tag(config=True)

    db_url = Unicode(
        help="SQLAlchemy URL of the store, e.g. postgresql+psycopg://user@host/db "
        f"(env {ENV_DB_URL} wins; default: a SQLite file in data_dir)."
    ).tag(config=True)

    inventory = Unicode(
        "", help=f"Admin device inventory file, YAML (env {ENV_INVENTORY} wins)."
    ).tag(config=True)

    instructors = List(
        Unicode(), help="User names that get the instructor role on every course."
    ).tag(config=True)

    default_role = Enum(
        ["student", "instructor"],
        help="Role of a user not listed in instructors. Default: 'instructor' for a personal "
        "server (you own it), 'student' under JupyterHub (JUPYTERHUB_USER is set).",
    ).tag(config=True)

    backend = Enum(
        ["local", "slurm"], "local",
        help="Where kernels get their devices: 'local' (this machine's inventory, leased in the "
        "store) or 'slurm' (each lease is a Slurm allocation; the kernel runs inside it via srun).",
    ).tag(config=True)

    slurm_partition = Unicode(
        "", help="Slurm partition for kernel allocations (empty: the cluster's default partition)."
    ).tag(config=True)

    slurm_args = List(
        Unicode(), help="Extra salloc arguments for kernel allocations, e.g. ['--account=ai101', '--qos=lab']."
    ).tag(config=True)

    isolate_devices = Bool(
        None, allow_none=True,
        help="Start each kernel in a mount namespace where only its leased device files exist (none for a CPU "
        "lease; bubblewrap), so changing ASCEND_RT_VISIBLE_DEVICES / CUDA_VISIBLE_DEVICES reaches no other device. "
        "None (default): wherever bwrap works and this machine has an NPU/GPU device file to hide; True: required, "
        "a kernel start fails when bwrap cannot or a leased device file is missing; False: off. Slurm kernels "
        "are confined by their allocation's device cgroup instead (docs/devices.md).",
    ).tag(config=True)

    service_url = Unicode(
        "", help="URL of the JupyterHub workbench service, e.g. http://127.0.0.1:10101/services/workbench/ "
        f"(env {ENV_SERVICE_URL} wins). When set, this single-user server holds no store: shared state "
        "(courses, submissions, grades, leases) lives in the service, reached with the user's hub token.",
    ).tag(config=True)

    hub_service = Bool(
        False, help="Set by `workbench-service`: this server is the hub's workbench service, so identity "
        "and groups come from JupyterHub and nobody is the owner (roles: docs/hub.md).",
    ).tag(config=True)

    lab_python = Unicode(
        "", help="Python interpreter of the labs' environment, e.g. /opt/labs-venv/bin/python: the grading "
        "sandbox runs student code with it and shows its installation read-only, so submissions are graded "
        "with the frameworks the lab kernels have (torch, MindSpore) even where the grader is installed "
        f"without them (env {ENV_LAB_PYTHON} wins; empty: the grader's own interpreter).",
    ).tag(config=True)

    grading_idle_s = Float(
        600.0, help="Seconds a server keeps a lab image's warm grading workers after their last use, so the "
        "next autograde or Submit of that lab pays no interpreter or import start (numpy ~0.2 s, torch ~1.5 s); "
        "then they are closed and their memory freed (a torch worker holds a few hundred MB). 0: closed as soon "
        "as each grading run ends.",
    ).tag(config=True)

    sweep_interval_s = Float(
        15.0, help="Seconds between the server's sweeps: heartbeats for its kernels' leases, "
        "idle and deadline reclaim (0 disables the sweep)."
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return os.environ.get(ENV_DATA_DIR) or str(Path(jupyter_data_dir()) / "workbench")

    @default("db_url")
    def _default_db_url(self) -> str:
        return f"sqlite:///{Path(self.data_dir) / 'workbench.db'}"

    @default("default_role")
    def _default_default_role(self) -> str:
        under_hub = self.hub_service or os.environ.get("JUPYTERHUB_USER")
        return "student" if under_hub else "instructor"

    @property
    def effective_db_url(self) -> str:
        return os.environ.get(ENV_DB_URL) or self.db_url

    @property
    def effective_inventory(self) -> str:
        return os.environ.get(ENV_INVENTORY) or self.inventory

    @property
    def effective_lab_python(self) -> str:
        """The interpreter grading runs student code with ('' for the grader's own)."""
        return os.environ.get(ENV_LAB_PYTHON) or self.lab_python

    @property
    def effective_service_url(self) -> str:
        """The workbench service this server is a client of ('' when it holds the store itself)."""
        return (os.environ.get(ENV_SERVICE_URL) or self.service_url).rstrip("/")


def check_keys(config: Config, source: str = "configuration") -> None:
    """Refuse unknown ``Workbench.*`` keys: a typo silently ignored costs an admin an afternoon."""
    known = set(Workbench.class_trait_names(config=True))
    section = config.get("Workbench", {})
    for key in section:
        if key not in known:
            hint = difflib.get_close_matches(key, sorted(known), n=1)
            fix = f"did you mean 'Workbench.{hint[0]}'?" if hint else (
                f"known keys: {', '.join(sorted(known))}"
            )
            raise ConfigError(f"{source}: unknown setting 'Workbench.{key}' — {fix}")


def load_file_config() -> Config:
    """Read every ``jupyter_workbench_config.{py,json}`` on the Jupyter config path, lowest first."""
    merged = Config()
    for directory in reversed(jupyter_config_path()):
        for loader_class, suffix in ((JSONFileConfigLoader, ".json"), (PyFileConfigLoader, ".py")):
            path = Path(directory) / f"{CONFIG_BASENAME}{suffix}"
            try:
                if not path.is_file():
                    continue
            except PermissionError as exc:  # a config directory of another account
                raise ConfigError(f"{path}: cannot be read ({exc.strerror}); run as the account whose Jupyter "
                                  "configuration this is, or point JUPYTER_CONFIG_DIR at your own") from exc
            try:
                loaded = loader_class(path.name, path=str(path.parent)).load_config()
            except Exception as exc:
                raise ConfigError(f"{path}: cannot be read ({exc}); fix or remove the file") from exc
            check_keys(loaded, str(path))
            merged.merge(loaded)
    return merged


def load_settings(config: Config | None = None) -> Workbench:
    """The settings the CLI and provisioner use; the server passes its own merged config."""
    config = load_file_config() if config is None else config
    check_keys(config)
    return Workbench(config=config)
