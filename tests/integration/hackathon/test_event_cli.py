"""The organiser's and a participant's way through ``workbench event`` (the installed command):
check and create, teams, submit (scored in the command), limits, a blind development phase whose
submissions migrate into the final phase, boards, finalize and export."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.jupyter_server import Server
from tests.integration.hackathon.tiny_event import Spec, iso, predictions, right_on, write

pytestmark = pytest.mark.integration
WORKBENCH = str(Path(sys.executable).parent / "workbench")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WORKBENCH, "event", *args], capture_output=True, text=True)


def ok(*args: str) -> Any:
    done = run(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def phases(now: datetime, boundary: datetime) -> list[dict[str, Any]]:
    return [{"id": "dev", "title": "Development", "opens": iso(now - timedelta(days=1)), "closes": iso(boundary),
             "blind": True},
            {"id": "final", "title": "Final", "opens": iso(boundary), "closes": iso(now + timedelta(days=1)),
             "migrate_from": "dev"}]


def test_organiser_and_participants_through_the_cli(start_server: Callable[..., Server], db_url: str,
                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    spec = Spec(opens=now - timedelta(days=1), closes=now + timedelta(days=1), per_day=2,
                phases=phases(now, now + timedelta(hours=1)), teams={"mode": "self", "max_size": 2})
    root = write(tmp_path / "events", spec)

    broken = root.parent / "broken"
    broken.mkdir()
    (broken / "event.yaml").write_text("id: broken\ntitle: B\nwindow: {opens: 2026-12-01T09:00}\n")
    checked = run("check", str(broken))
    assert checked.returncode == 2 and f"{broken / 'event.yaml'}:" in checked.stderr
    assert "missing required key 'closes'" in checked.stderr and "missing required key 'task'" in checked.stderr
    assert run("check", str(root)).returncode == 0
    assert ok("create", str(root))["id"] == "tiny"
    gone = write(tmp_path / "elsewhere", Spec(opens=spec.opens, closes=spec.closes, event_id="gone"))
    assert ok("create", str(gone))["id"] == "gone"
    shutil.rmtree(gone)
    listed = {ev["id"]: ev for ev in ok("list")["events"]}
    assert listed["tiny"]["title"] == "Tiny event" and "which is gone" in listed["gone"]["error"]

    assert ok("team", "create", "tiny", "alpha", "--user", "ann", "--name", "Team Alpha")["members"] == ["ann"]
    assert ok("team", "join", "tiny", "alpha", "--user", "al")["members"] == ["al", "ann"]
    full = run("team", "join", "tiny", "alpha", "--user", "ali")
    assert full.returncode == 2 and "team 'alpha' is full: 2 of 2 members (teams.max_size" in full.stderr
    ok("team", "create", "tiny", "beta", "--user", "bo")
    assert ok("team", "leave", "tiny", "--user", "al")["members"] == ["ann"]

    csv = tmp_path / "a.csv"
    csv.write_bytes(predictions(right_on(12, 8)))
    first = ok("submit", "tiny", str(csv), "--user", "ann")
    assert (first["status"], first["phase"], first["public_score"]) == ("scored", "dev", 0.6)
    csv.write_bytes(predictions(right_on(16, 14)))
    assert ok("submit", "tiny", str(csv), "--user", "ann")["public_score"] == 0.8
    over = run("submit", "tiny", str(csv), "--user", "ann")
    assert over.returncode == 2 and "has made 2 of its 2 submissions today" in over.stderr
    csv.write_bytes(predictions(right_on(10, 20)))
    assert ok("submit", "tiny", str(csv), "--user", "bo")["public_score"] == 0.5

    monkeypatch.setenv("JUPYTERHUB_USER", "bo")
    bo = start_server("--Workbench.default_role=student")
    status, blind = bo.request("GET", "events/tiny/board?phase=dev")
    assert status == 200 and blind["blind"] and blind["rows"] == [
        {"team": "alpha", "name": "Team Alpha", "received": 2}, {"team": "beta", "name": "beta", "received": 1}]
    (own,) = bo.request("GET", "events/tiny/submissions")[1]["submissions"]
    assert own["status"] == "received" and own["public_score"] is None
    organiser = ok("board", "tiny", "--phase", "dev")
    assert [(r["rank"], r["team"], r["score"]) for r in organiser["rows"]] == [
        (1, "alpha", 0.8), (2, "beta", 0.5), (None, "half", 0.5)], "organisers see a blind phase's scores"

    bo.process.terminate()  # its scorer would migrate and score the copies before `event score` does
    bo.process.wait(timeout=15)
    spec.phases = phases(now, now - timedelta(seconds=5))  # the organiser opens the final phase now
    write(tmp_path / "events", spec)
    ok("create", str(root))
    scored = ok("score", "tiny")
    assert scored["migrated"] == 3 and [s["status"] for s in scored["scored"]] == ["scored"] * 3
    final = ok("board", "tiny")
    assert final["phase"] == "final" and [(r["rank"], r["team"], r["score"]) for r in final["rows"]] == [
        (1, "alpha", 0.8), (2, "beta", 0.5), (None, "half", 0.5)]
    assert ok("team", "list", "tiny")["teams"][0]["submissions"] == 2, "migrated copies do not count"

    early = run("finalize", "tiny")
    assert early.returncode == 2 and "finalize after it closes" in early.stderr
    spec.closes, spec.phases = now - timedelta(seconds=1), phases(now, now - timedelta(seconds=5))
    spec.phases[1]["closes"] = iso(spec.closes)  # and ends the event
    write(tmp_path / "events", spec)
    ok("create", str(root))
    done = ok("finalize", "tiny")
    # best_public k=2 over the final phase: alpha .8/.7 and .6/.4 -> .7; beta .5/1.0 -> 1.0
    assert [(r["rank"], r["team"], r["score"], r["shake_up"]) for r in done["rows"]] == [
        (1, "beta", 1.0, 1), (2, "alpha", 0.7, -1), (None, "half", 0.5, None)]
    text = run("board", "tiny", "--private")
    assert text.returncode == 0 and "beta" in text.stdout and "+1" in text.stdout
    exported = run("export", "tiny", "--out", str(tmp_path / "out"))
    assert exported.returncode == 0, exported.stderr
    board_csv = (tmp_path / "out" / "tiny-board.csv").read_text().splitlines()
    assert board_csv[1].startswith("1,beta,beta,False,1.0,0.5,2,1,")
    assert len((tmp_path / "out" / "tiny-submissions.csv").read_text().splitlines()) == 7
