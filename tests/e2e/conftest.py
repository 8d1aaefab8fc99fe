"""Fixtures for the browser tests: a real JupyterLab server and Debian's headless Chromium.

The server runs in its own Jupyter config/data/runtime directories, with a fresh SQLite store
holding the sample course, so nothing on the developer's machine leaks in or is changed.
Playwright never downloads a browser here: it drives /usr/bin/chromium (apt package chromium).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from workbench.loopback import free_port

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path(os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 90

# The popups JupyterLab shows on a first start (news, update checks) would cover the UI.
QUIET_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@dataclass(frozen=True)
class LabServer:
    base_url: str
    token: str
    root_dir: Path
    log_path: Path

    def url(self, path: str = "lab", **query: str) -> str:
        params = "&".join(f"{k}={v}" for k, v in {**query, "token": self.token}.items())
        return f"{self.base_url}{path}?{params}"


def _run_cli(env: dict[str, str], *args: str) -> None:
    run_cli(env, *args)


def _prepend_path(env: dict[str, str], name: str, path: Path) -> None:
    env[name] = os.pathsep.join(p for p in (str(path), env.get(name, "")) if p)


def _server_env(tmp: Path) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        WORKBENCH_DB_URL=f"sqlite:///{tmp / 'wb.db'}",
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        IPYTHONDIR=str(tmp / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    # The repository's own code and freshly built frontend win over any installed copy.
    _prepend_path(env, "PYTHONPATH", REPO)
    built = REPO / "workbench" / "labextension"
    if (built / "package.json").is_file():
        extensions = tmp / "jupyter-path" / "labextensions"
        extensions.mkdir(parents=True)
        (extensions / "aicc-workbench").symlink_to(built, target_is_directory=True)
        _prepend_path(env, "JUPYTER_PATH", tmp / "jupyter-path")
    settings = tmp / "config" / "lab" / "user-settings"
    for name, values in QUIET_SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    return env


def _wait_until_up(proc: subprocess.Popen[bytes], server: LabServer) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    request = urllib.request.Request(f"{server.base_url}api/status", headers={"Authorization": f"token {server.token}"})
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"jupyter lab exited with code {proc.returncode} before answering; "
                f"log:\n{server.log_path.read_text()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    pytest.fail(
        f"jupyter lab did not answer /api/status within {SERVER_START_TIMEOUT_S} s; "
        f"log:\n{server.log_path.read_text()[-4000:]}"
    )


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def _ensure_provisioner_entry_point(env: dict[str, str], site: Path) -> None:
    """Make `workbench-provisioner` resolvable even when the editable install's metadata
    predates its entry point (then `pip install -e .` is due; the tests need not wait for it)."""
    from importlib.metadata import entry_points

    if any(e.name == "workbench-provisioner" for e in entry_points(group="jupyter_client.kernel_provisioners")):
        return
    info = site / "aicc_workbench_e2e_shim-0.0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: aicc-workbench-e2e-shim\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text(
        "[jupyter_client.kernel_provisioners]\n"
        "workbench-provisioner = workbench.devices.provisioner:WorkbenchProvisioner\n"
    )
    _prepend_path(env, "PYTHONPATH", site)


@pytest.fixture(scope="session")
def lab_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment both servers share: one store with the sample course, one inventory
    (four CPU slots), one data directory for stored submissions."""
    tmp = tmp_path_factory.mktemp("lab")
    env = _server_env(tmp)
    inventory = tmp / "inventory.yaml"
    inventory.write_text(
        "devices:\n  - {kind: cpu, slots: 4}\npolicy:\n  default: {max_session_hours: 2}\n"
    )
    env.update(WORKBENCH_INVENTORY=str(inventory), WORKBENCH_DATA_DIR=str(tmp / "workbench-data"))
    # The device kernelspecs (workbench-cpu selects the workbench provisioner).
    kernels = tmp / "jupyter-path" / "kernels"
    kernels.mkdir(parents=True, exist_ok=True)
    for spec in (REPO / "workbench" / "devices" / "kernelspecs").iterdir():
        (kernels / spec.name).symlink_to(spec, target_is_directory=True)
    _ensure_provisioner_entry_point(env, tmp / "entry-points")
    if str(tmp / "jupyter-path") not in env.get("JUPYTER_PATH", "").split(os.pathsep):
        _prepend_path(env, "JUPYTER_PATH", tmp / "jupyter-path")
    _run_cli(env, "db", "upgrade")
    _run_cli(env, "course", "add", str(REPO / "curricula" / "intro"))
    return env


@contextmanager
def _serve(env: dict[str, str], root: Path, log_path: Path, *extra: str) -> Iterator[LabServer]:
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = LabServer(
        base_url=f"http://127.0.0.1:{port}/",
        token=secrets.token_hex(16),
        root_dir=root,
        log_path=log_path,
    )
    command = [
        sys.executable, "-m", "jupyter", "lab",
        "--no-browser",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.token={server.token}",
        "--ServerApp.allow_root=True",
        f"--ServerApp.root_dir={root}",
        '--ServerApp.jpserver_extensions={"workbench.server": True}',
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        *extra,
    ]  # fmt: skip
    with server.log_path.open("wb") as log:
        proc = subprocess.Popen(command, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(proc, server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def lab_server(
    lab_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path
) -> Iterator[LabServer]:
    """JupyterLab with the workbench server extension; the user is an instructor (a personal
    server's default role)."""
    root = tmp_path_factory.mktemp("instructor-root")
    with _serve(lab_env, root, artifacts_dir / "jupyter-server.log") as server:
        yield server


@pytest.fixture(scope="session")
def student_server(
    lab_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path
) -> Iterator[LabServer]:
    """A second JupyterLab on the same store whose user is a student (as under JupyterHub)."""
    root = tmp_path_factory.mktemp("student-root")
    with _serve(
        lab_env, root, artifacts_dir / "jupyter-server-student.log", "--Workbench.default_role=student"
    ) as server:
        yield server


@pytest.fixture(scope="session")
def workbench_cli(lab_env: dict[str, str]) -> Callable[..., str]:
    """`workbench_cli("sessions", "list", "--json")`: the CLI against the test store."""
    return lambda *args: run_cli(lab_env, *args)


def run_cli(env: dict[str, str], *args: str) -> str:
    """Run the workbench CLI against the test store; returns its standard output."""
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.fail(f"`workbench {' '.join(args)}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (sync API); skipped when it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install it with `apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(chromium: object) -> Iterator[Callable[[], object]]:
    """Open fresh browser pages (one context each: a user of its own); uncaught page errors
    in any of them fail the test."""
    from playwright.sync_api import Browser, expect

    assert isinstance(chromium, Browser)
    # expect()'s own 5 s default is not the page's: on two loaded cores a panel's first load can take
    # longer (the class-view test once failed at a Gradebook option), so both wait as long.
    expect.set_options(timeout=30_000)
    errors: list[str] = []
    contexts: list[Any] = []

    def make() -> object:
        context = chromium.new_context(viewport={"width": 1400, "height": 860})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    try:
        yield make
    finally:
        for context in contexts:
            context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def lab_page(new_page: Callable[[], object], lab_server: LabServer) -> object:
    """A fresh browser page; uncaught page errors fail the test."""
    return new_page()
