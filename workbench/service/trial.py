"""``make hub``: a whole center on loopback to try — JupyterHub, the workbench service, PostgreSQL
and a sample class (an instructor and two students, with their passwords printed).

It needs root, as any hub that starts each user's server as their own Unix account does: it makes
the accounts (``useradd``), a PostgreSQL cluster of its own under ``.hub/`` (run as ``postgres``),
and places the sample course where only the service's account can read its notebooks. Re-running
it reuses all of that and only starts the hub again.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.service.hub_config import LOOPBACK
from workbench.service.postgres_cluster import Cluster

SERVICE_USER = "wb-service"
CLASS = {"wb-instructor": "instructor", "wb-student1": "student", "wb-student2": "student"}


def unix_user(name: str, *, system: bool = False, password: str | None = None) -> pwd.struct_passwd:
    """The account ``name``, made once (``useradd``) and reused; its password set when given."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        flags = ["--system", "--home-dir", f"/var/lib/{name}"] if system else []
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", *flags, name], check=True)
    if password is not None:
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n".encode(), check=True)
    return pwd.getpwnam(name)


def place_course(source: Path, target: Path, owner: pwd.struct_passwd) -> Path:
    """Copy a course where the service keeps it: its notebooks (solutions, hidden tests) readable by
    the service's account alone, its directories and shipped data by everyone (labs read the data)."""
    if not target.exists():
        shutil.copytree(source, target)
    for path in [target, *target.rglob("*")]:
        os.chown(path, owner.pw_uid, owner.pw_gid)
        os.chmod(path, 0o755 if path.is_dir() else (0o600 if path.suffix == ".ipynb" else 0o644))
    return target


def hub_cluster(state: Path, port: int = 5433) -> Cluster:
    """The center's cluster: its data, Unix socket and log under ``state/pg``, on ``port``."""
    data = state / "pg"
    return Cluster(data, port, data, data / "server.log")


def start_postgres(state: Path, port: int = 5433) -> str:
    """The center's PostgreSQL cluster under ``state/pg``, made once (password login only, the password
    kept in ``state/db-password``), started unless it is running and left running; returns its URL,
    password included. Raises PostgresUnavailable, saying what to install, when it cannot run here."""
    cluster, secret_file = hub_cluster(state, port), state / "db-password"
    if not cluster.initialized():
        state.mkdir(parents=True, exist_ok=True)
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, secrets.token_urlsafe(12).encode())
        os.close(fd)
        cluster.init("md5", password=secret_file.read_text())
    if not cluster.running():
        cluster.start()
    return cluster.url("postgres", secret_file.read_text())


def hub_environment(venv_bin: Path, state: Path, port: int, service_env: dict[str, str], users: list[str],
                    groups: dict[str, list[str]], proxy: str, spawner: str = "localprocess",
                    inventory: str = "", internal_ip: str = LOOPBACK) -> dict[str, str]:
    """The environment ``jupyter-config/hub/jupyterhub_config.py`` reads: this process's, less any
    store or Jupyter setting (the hub passes the store to the service alone), plus the center's
    ports, accounts, groups, spawner (``slurm``: servers as Slurm jobs with profiles from the
    ``inventory`` file), the address servers reach the hub and the service at (``internal_ip``) and
    the service's own environment. The service listens on ``port + 3``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "JUPYTER"))}
    env.update({
        "WB_HUB_VENV_BIN": str(venv_bin), "WB_HUB_STATE": str(state), "WB_HUB_PORT": str(port),
        "WB_HUB_SERVICE_PORT": str(port + 3), "WB_HUB_SERVICE_USER": SERVICE_USER,
        "WB_HUB_SERVICE_ENV": json.dumps(service_env), "WB_HUB_USERS": " ".join(users),
        "WB_HUB_GROUPS": json.dumps(groups), "WB_HUB_PROXY": proxy, "WB_HUB_SPAWNER": spawner,
        "WB_HUB_INVENTORY": inventory, "WB_HUB_INTERNAL_IP": internal_ip,
    })
    return env


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("make hub needs root: it makes the class's Unix accounts and starts each user's server as "
                 "that account (JupyterHub's LocalProcessSpawner). Run it as root; `make lab` needs no root.")
    repo, venv_bin = Path.cwd(), Path(sys.executable).parent
    state = repo / ".hub"
    state.mkdir(mode=0o711, exist_ok=True)
    passwords_file = state / "passwords.json"
    passwords = json.loads(passwords_file.read_text()) if passwords_file.exists() else {
        name: secrets.token_urlsafe(9) for name in CLASS}
    passwords_file.write_text(json.dumps(passwords))
    passwords_file.chmod(0o600)
    for name, password in passwords.items():
        unix_user(name, password=password)
    service = unix_user(SERVICE_USER, system=True)
    data = state / "service"
    data.mkdir(mode=0o700, exist_ok=True)
    os.chown(data, service.pw_uid, service.pw_gid)
    courses = state / "courses"
    courses.mkdir(mode=0o755, exist_ok=True)
    course = place_course(repo / "curricula" / "intro", courses / "intro", service)
    try:
        db_url = start_postgres(state)
    except WorkbenchError as error:
        sys.exit(error.message)
    env = {**os.environ, "WORKBENCH_DB_URL": db_url, "WORKBENCH_DATA_DIR": str(data)}
    for command in (["db", "upgrade"], ["course", "add", str(course)]):
        subprocess.run([str(venv_bin / "workbench"), *command], check=True, env=env, stdout=subprocess.DEVNULL)
    port = int(os.environ.get("PORT", "8000"))
    instructors = [name for name, role in CLASS.items() if role == "instructor"]
    print(f"\nA workbench center on http://127.0.0.1:{port}/ — log in as:")
    for name, password in passwords.items():
        print(f"  {CLASS[name]:<10} {name:<14} password {password}")
    print("(passwords kept in .hub/passwords.json; Ctrl-C stops the hub and its servers)\n", flush=True)
    env = hub_environment(venv_bin, state / "hub", port, {"WORKBENCH_DB_URL": db_url, "WORKBENCH_DATA_DIR": str(data)},
                          list(passwords), {"instructors:intro": instructors},
                          str(repo / ".hub-proxy/node_modules/.bin/configurable-http-proxy"))
    os.chdir(state)
    os.execve(str(venv_bin / "jupyterhub"), [str(venv_bin / "jupyterhub"), "-f",
                                              str(repo / "jupyter-config/hub/jupyterhub_config.py")], env)


if __name__ == "__main__":
    main()
