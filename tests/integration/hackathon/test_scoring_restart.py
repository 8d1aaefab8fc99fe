"""kill -9 of a server while it scores a notebook submission in the sandbox, then restarts: the
running one is re-queued once, interrupted again it fails with a sentence, the queued one behind it
is scored, and nothing is left "running" (real servers, real sandbox, SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import json
import signal
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tests.fixtures.jupyter_server import Server
from tests.integration.hackathon.test_events_rest import cli, store_url  # noqa: F401 - the store fixture
from tests.integration.hackathon.tiny_event import Spec, predictions, right_on, write
from workbench.hackathon.scoring_runs import INTERRUPTED

pytestmark = pytest.mark.integration
SLOW = new_notebook(cells=[new_code_cell("import time\ntime.sleep(120)"),
                           new_code_cell("open('predictions.csv', 'w').write('id,label\\n')")])


def mine(server: Server) -> list[dict[str, Any]]:
    return list(server.request("GET", "events/tiny/submissions")[1]["submissions"])


def wait_for(server: Server, test: Callable[[list[dict[str, Any]]], bool], what: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        subs = mine(server)
        if test(subs):
            return subs
        time.sleep(0.2)
    pytest.fail(f"{what} not reached in 90 s: {subs}")


def kill9(server: Server) -> None:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()


def test_kill_9_mid_scoring_loses_nothing_and_leaves_nothing_running(
        start_server: Callable[..., Server], store_url: str, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(timezone.utc)
    root = write(tmp_path / "events", Spec(opens=now - timedelta(days=1), closes=now + timedelta(days=1),
                                           run_timeout_s=300))
    assert cli("create", str(root)).returncode == 0
    monkeypatch.setenv("JUPYTERHUB_USER", "ann")
    first = start_server("--Workbench.default_role=student")
    assert first.request("POST", "events/tiny/teams", {"id": "alpha"})[0] == 201
    notebook = base64.b64encode(json.dumps(SLOW).encode()).decode()
    status, slow = first.request("POST", "events/tiny/submissions", {"kind": "notebook", "content_base64": notebook})
    assert status == 202, slow
    (first.root / "mine.csv").write_bytes(predictions(right_on(15, 15)))  # a file in ann's own space
    status, quick = first.request("POST", "events/tiny/submissions", {"kind": "predictions", "path": "mine.csv"})
    assert status == 202 and quick["size"] == len(predictions(right_on(15, 15)))

    def running(attempts: int) -> Callable[[list[dict[str, Any]]], bool]:
        return lambda subs: any(s["id"] == slow["id"] and s["status"] == "running" and s["attempts"] == attempts
                                for s in subs)

    wait_for(first, running(1), "the notebook running")
    kill9(first)
    second = start_server("--Workbench.default_role=student")  # re-queued once: running again, attempt 2
    wait_for(second, running(2), "the notebook re-queued and running again")
    kill9(second)
    third = start_server("--Workbench.default_role=student")
    subs = wait_for(third, lambda subs: all(s["status"] in ("scored", "failed") for s in subs), "all settled")
    by_id = {s["id"]: s for s in subs}
    assert by_id[slow["id"]]["status"] == "failed" and by_id[slow["id"]]["reason"] == INTERRUPTED
    assert by_id[quick["id"]]["status"] == "scored" and by_id[quick["id"]]["public_score"] == 0.75
    assert len(subs) == 2, "nothing lost"
    (team,) = third.request("GET", "events/tiny/teams")[1]["teams"]
    assert team["submissions"] == 1, "the interrupted notebook does not count against the limits"
