"""Fixtures for the browser tests: a real JupyterLab server and Debian's headless Chromium.

The server runs in its own Jupyter config/data/runtime directories, with a fresh SQLite store
holding the sample course, so nothing on the developer's machine leaks in or is changed.
Playwright never downloads a browser here: it drives /usr/bin/chromium (apt package chromium).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_cli(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`workbench {' '.join(args)}` failed with exit code {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )


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


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[LabServer]:
    """JupyterLab with the workbench server extension and the sample course registered."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    root.mkdir()
    env = _server_env(tmp)
    _run_cli(env, "db", "upgrade")
    _run_cli(env, "course", "add", str(REPO / "curricula" / "intro"))

    port = _free_port()
    server = LabServer(
        base_url=f"http://127.0.0.1:{port}/",
        token=secrets.token_hex(16),
        root_dir=root,
        log_path=artifacts_dir / "jupyter-server.log",
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
def lab_page(chromium: object, lab_server: LabServer) -> Iterator[object]:
    """A fresh browser page; uncaught page errors fail the test."""
    from playwright.sync_api import Browser

    assert isinstance(chromium, Browser)
    context = chromium.new_context(viewport={"width": 1400, "height": 860})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
