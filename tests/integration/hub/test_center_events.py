"""A hackathon event under a real JupyterHub (#13): the workbench service owns the event (its hidden
labels readable by the service's account alone); a student creates a team, opens the starter into
their own home and submits a predictions file from it, all through their own server; the service
scores it; another student reaches neither the submission, its file nor a private board, while an
organiser made one by a hub group alone sees them all."""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.hub import INSTRUCTOR, SERVICE_USER, STUDENT_A, STUDENT_B, VENV_BIN, Center
from tests.integration.hackathon.tiny_event import Spec, predictions, right_on, write


@pytest.fixture(scope="module")
def event(center: Center) -> Path:
    """The tiny event, placed as `make hub` places a course: the service's account owns it, and only
    that account can read the labels."""
    now = datetime.now(timezone.utc)
    root = write(center.base / "events", Spec(opens=now - timedelta(hours=1), closes=now + timedelta(days=1)))
    service = pwd.getpwnam(SERVICE_USER)
    for path in [root.parent, root, *root.rglob("*")]:
        os.chown(path, service.pw_uid, service.pw_gid)
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    os.chmod(root / "hidden" / "labels.csv", 0o600)
    made = subprocess.run([str(VENV_BIN / "workbench"), "event", "create", str(root)], capture_output=True, text=True,
                          env={**os.environ, "WORKBENCH_DB_URL": center.db_url})
    assert made.returncode == 0, made.stderr
    return root


def _scored(center: Center, user: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, body = center.api(user, "GET", "events/tiny/submissions")
        assert status == 200, body
        subs = body["submissions"]
        if len(subs) >= count and all(s["status"] in ("scored", "failed") for s in subs):
            return list(subs)
        time.sleep(0.5)
    pytest.fail(f"not scored in 120 s: {center.log()[-3000:]}")


def test_a_team_submits_from_its_own_space_and_the_service_scores_it(center: Center, event: Path) -> None:
    for user in (STUDENT_A, STUDENT_B):
        center.start_server(user)
    assert center.api(STUDENT_A, "POST", "events/tiny/teams", {"id": "owls"})[0] == 201
    status, opened = center.api(STUDENT_A, "POST", "events/tiny/open", {})
    assert status == 201, opened
    home = Path(os.path.expanduser(f"~{STUDENT_A}"))
    folder = home / "events" / "tiny"
    assert (folder / "starter.ipynb").is_file() and (folder / "hidden" / "inputs.csv").is_file()
    assert not (folder / "hidden" / "labels.csv").exists()
    assert (folder / "starter.ipynb").stat().st_uid == pwd.getpwnam(STUDENT_A).pw_uid  # written as the student

    mine = folder / "predictions.csv"
    mine.write_bytes(predictions(right_on(20, 10)))  # every public row right, half of the private ones
    os.chown(mine, pwd.getpwnam(STUDENT_A).pw_uid, -1)
    status, sub = center.api(STUDENT_A, "POST", "events/tiny/submissions",
                             {"kind": "predictions", "path": "events/tiny/predictions.csv"})
    assert status == 202, sub
    [scored] = _scored(center, STUDENT_A, 1)
    assert scored["status"] == "scored" and scored["public_score"] == 1.0 and "private_score" not in scored
    status, board = center.api(STUDENT_A, "GET", "events/tiny/board")
    assert status == 200 and [r["team"] for r in board["rows"] if not r["baseline"]] == ["owls"]

    # Another student, through their own server and straight at the service: nothing of the team's.
    for direct in (False, True):
        assert center.api(STUDENT_B, "GET", f"events/tiny/submissions/{sub['id']}", direct=direct)[0] == 403
        assert center.api(STUDENT_B, "GET", f"events/tiny/submissions/{sub['id']}/file", direct=direct)[0] == 403
        assert center.api(STUDENT_B, "GET", "events/tiny/board?private=1", direct=direct)[0] == 403
        assert center.api(STUDENT_B, "POST", "events/tiny/finalize", {}, direct=direct)[0] == 403

    # An organiser by the hub group organisers:tiny alone (not in event.yaml, not an admin setting):
    # every team's submissions with both scores, their files, and each team's device-hours.
    status, seen = center.api(INSTRUCTOR, "GET", "events/tiny", direct=True)
    assert status == 200 and seen["me"]["organiser"] is True, seen  # tiny's event.yaml names no organiser
    assert center.api(STUDENT_B, "GET", "events/tiny", direct=True)[1]["me"]["organiser"] is False
    status, listed = center.api(INSTRUCTOR, "GET", "events/tiny/submissions", direct=True)
    assert status == 200 and [(s["id"], s["team"], s["private_score"]) for s in listed["submissions"]] == \
        [(sub["id"], "owls", 0.5)], listed
    status, file = center.api(INSTRUCTOR, "GET", f"events/tiny/submissions/{sub['id']}/file", direct=True)
    assert status == 200 and file == predictions(right_on(20, 10)).decode()
    status, teams = center.api(INSTRUCTOR, "GET", "events/tiny/teams", direct=True)
    assert status == 200 and [(t["id"], t["device_hours"]["used"]) for t in teams["teams"]] == [("owls", 0.0)]
    status, theirs = center.api(STUDENT_A, "GET", "events/tiny/teams")
    assert status == 200 and all("device_hours" not in t for t in theirs["teams"])  # a participant's view
