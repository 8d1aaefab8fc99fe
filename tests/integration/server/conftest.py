"""A real jupyter_server with the workbench extension, on a free loopback port, per test module."""

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = "default"
    ) -> tuple[int, Any]:
        """Call the workbench API; returns (status, decoded JSON body)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/workbench/api/v1/{path}", data=data, method=method)
        if token is not None:
            req.add_header("Authorization", f"token {self.token if token == 'default' else token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except json.JSONDecodeError:
                return err.code, raw.decode(errors="replace")


@pytest.fixture
def start_server(tmp_path: Path, db_url: str) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(*extra: str) -> Server:
        port, token = free_port(), secrets.token_hex(16)
        root = tmp_path / f"root-{len(started)}"
        root.mkdir()
        log = open(tmp_path / f"server-{len(started)}.log", "wb")  # noqa: SIM115 - lives with the server
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "server", "--no-browser", f"--ServerApp.port={port}",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}", "--ServerApp.allow_root=True",
             f"--ServerApp.root_dir={root}", "--ServerApp.jpserver_extensions={'workbench.server': True}",
             *extra],
            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )
        server = Server(f"http://127.0.0.1:{port}", token, root, process)
        started.append(server)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"server exited: {(tmp_path / f'server-{len(started) - 1}.log').read_text()}")
            try:
                if server.request("GET", "health")[0] == 200:
                    return server
            except OSError:
                pass
            time.sleep(0.2)
        pytest.fail("server did not answer within 60 s")

    yield start
    for server in started:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
