"""A whole event through the REST API of real jupyter servers (one per user, one store), on SQLite and
PostgreSQL: teams, submissions scored by the server's scorer, a malformed CSV's row message, the
public board against a hand-computed table, 403 for another team's rows, files and private scores,
finalize with shake-up, and the exports. The organiser registers and closes the event with the CLI.
"""

from __future__ import annotations

import base64
import csv
import io
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.jupyter_server import Server
from tests.integration.hackathon.tiny_event import Spec, predictions, right_on, write

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "sqlite":
        return db_url
    url = str(request.getfixturevalue("postgres_url"))
    monkeypatch.setenv("WORKBENCH_DB_URL", url)
    return url


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", "event", *args], capture_output=True, text=True)


def as_user(start: Callable[..., Server], monkeypatch: pytest.MonkeyPatch, name: str) -> Server:
    """A personal server of ``name`` (its owner) on the shared store, a participant by role."""
    monkeypatch.setenv("JUPYTERHUB_USER", name)
    return start("--Workbench.default_role=student")


def post_csv(server: Server, data: bytes) -> tuple[int, Any]:
    return server.request("POST", "events/tiny/submissions",
                          {"kind": "predictions", "content_base64": base64.b64encode(data).decode()})


def settled(server: Server, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        subs = server.request("GET", "events/tiny/submissions")[1]["submissions"]
        if len(subs) >= count and all(s["status"] in ("scored", "failed") for s in subs):
            return subs
        time.sleep(0.2)
    pytest.fail(f"not scored in 60 s: {subs}")


def raw(server: Server, path: str) -> tuple[int, str]:
    req = urllib.request.Request(f"{server.url}/workbench/api/v1/{path}",
                                 headers={"Authorization": f"token {server.token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_an_event_from_teams_to_the_final_csv(start_server: Callable[..., Server], store_url: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    spec = Spec(opens=now - timedelta(days=1), closes=now + timedelta(days=1), organisers=["org"],
                teams={"mode": "self", "max_size": 2})
    root = write(tmp_path / "events", spec)
    created = cli("create", str(root))
    assert created.returncode == 0, created.stderr
    ann, bo, cy, org = (as_user(start_server, monkeypatch, n) for n in ("ann", "bo", "cy", "org"))

    for server, team in ((ann, "alpha"), (bo, "beta"), (cy, "gamma")):
        status, body = server.request("POST", "events/tiny/teams", {"id": team, "name": team.title()})
        assert status == 201, body
        assert body["members"] == [server.request("GET", "events/tiny")[1]["me"]["user"]]
    status, body = post_csv(org, predictions(right_on(20, 20)))
    assert status == 403 and "in no team of event 'tiny'" in body["error"]

    # 20 public and 20 private rows: s1 alpha .8/.5, s3 beta .9/.8 before s2 alpha .9/.6, gamma .7/.9
    assert post_csv(ann, predictions(right_on(16, 10)))[0] == 202
    settled(ann, 1)
    assert post_csv(bo, predictions(right_on(18, 16)))[0] == 202
    settled(bo, 1)
    assert post_csv(ann, predictions(right_on(18, 12)))[0] == 202
    assert post_csv(cy, predictions(right_on(14, 18)))[0] == 202
    malformed = predictions(right_on(20, 20)) + b"r00,0\n"
    assert post_csv(cy, malformed)[0] == 202
    s2, s1 = settled(ann, 2)
    (s3,) = settled(bo, 1)
    bad, s4 = settled(cy, 2)
    assert bad["status"] == "failed" and "line 42" in bad["reason"] and "id 'r00' again (first on line 2)" in \
        bad["reason"] and "keep one row per id" in bad["reason"]
    assert (s1["public_score"], s2["public_score"], s3["public_score"], s4["public_score"]) == (0.8, 0.9, 0.9, 0.7)
    assert all("private_score" not in s for s in (s1, s2, s3, s4)), "no private score before finalize"
    teams = {t["id"]: t for t in ann.request("GET", "events/tiny/teams")[1]["teams"]}
    assert teams["gamma"]["submissions"] == 1, "the failed submission does not count"

    status, board = bo.request("GET", "events/tiny/board")
    assert status == 200
    assert [(r["rank"], r["team"], r["score"], r["baseline"]) for r in board["rows"]] == [
        (1, "beta", 0.9, False), (2, "alpha", 0.9, False), (3, "gamma", 0.7, False), (None, "half", 0.5, True)]
    assert "private" not in str(board["rows"])

    for path in (f"events/tiny/submissions/{s1['id']}", f"events/tiny/submissions/{s1['id']}/file"):
        status, body = bo.request("GET", path)
        assert status == 403 and "belongs to another team" in body["error"], path
    assert raw(ann, f"events/tiny/submissions/{s1['id']}/file") == (200, predictions(right_on(16, 10)).decode())
    status, body = bo.request("GET", "events/tiny/board?private=1")
    assert status == 403 and "revealed at finalize" in body["error"]
    assert bo.request("POST", "events/tiny/finalize", {})[0] == 403
    assert raw(bo, "events/tiny/export/submissions.csv")[0] == 403
    assert ann.request("POST", "events/tiny/choose", {"submissions": [s1["id"]]}) == (200, {"chosen": [s1["id"]]})
    status, body = bo.request("POST", "events/tiny/choose", {"submissions": [s1["id"]]})
    assert status == 403 and "belongs to another team" in body["error"]
    status, asked = cy.request("POST", "events/tiny/teams/gamma/merge", {"into": "beta"})
    assert status == 200 and asked["merged"] is False and "a member of team 'beta' accepts" in asked["waiting"]
    everyone = org.request("GET", "events/tiny/submissions")[1]["submissions"]
    assert len(everyone) == 5 and {s["private_score"] for s in everyone} >= {0.5, 0.6, 0.8, 0.9}

    status, body = org.request("POST", "events/tiny/finalize", {})
    assert status == 400 and "finalize after it closes" in body["error"]
    spec.phases, spec.closes = [], now - timedelta(seconds=1)  # the organiser ends the event early
    write(tmp_path / "events", spec)
    assert cli("create", str(root)).returncode == 0
    status, body = post_csv(ann, predictions(right_on(20, 20)))
    assert status == 400 and "closed at" in body["error"] and "no further submission is allowed" in body["error"]

    status, final = org.request("POST", "events/tiny/finalize", {})
    assert status == 200, final
    # best_public, k=2: alpha's finals s2 (.6) and s1 (.5); beta s3 (.8); gamma s4 (.9)
    assert [(r["rank"], r["team"], r["score"], r["public_rank"], r["shake_up"]) for r in final["rows"]] == [
        (1, "gamma", 0.9, 3, 2), (2, "beta", 0.8, 1, -1), (3, "alpha", 0.6, 2, -1), (None, "half", 0.5, None, None)]
    assert ann.request("GET", "events/tiny/board?private=1")[1]["rows"] == final["rows"]
    own = ann.request("GET", "events/tiny/submissions")[1]["submissions"]
    assert sorted(s["private_score"] for s in own) == [0.5, 0.6]
    assert bo.request("GET", f"events/tiny/submissions/{s1['id']}")[0] == 403

    status, board_csv = raw(org, "events/tiny/export/board.csv")
    assert status == 200 and board_csv.splitlines() == [
        "rank,team,name,baseline,score,public_score,public_rank,shake_up,submission",
        f"1,gamma,Gamma,False,0.9,0.7,3,2,{s4['id']}", f"2,beta,Beta,False,0.8,0.9,1,-1,{s3['id']}",
        f"3,alpha,Alpha,False,0.6,0.9,2,-1,{s2['id']}", ",half,half,True,0.5,0.5,,,"]
    status, records = raw(org, "events/tiny/export/submissions.csv")
    rows = list(csv.DictReader(io.StringIO(records)))
    assert status == 200 and sorted(r["status"] for r in rows) == ["failed", *["scored"] * 4]
    assert "id 'r00' again" in next(r["reason"] for r in rows if r["status"] == "failed")
    assert cli("export", "tiny", "--out", str(tmp_path / "out")).returncode == 0
    assert (tmp_path / "out" / "tiny-board.csv").read_text() == board_csv
