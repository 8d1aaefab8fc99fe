"""A class under a real JupyterHub: each user sees only what their role allows, whoever they claim
to be; the store's secret and the course sources never reach a student's account."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.hub import DB_PASSWORD, INSTRUCTOR, SERVICE_USER, STUDENT_A, STUDENT_B, Center, as_user


def _graded(center: Center, user: str, sub_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status, sub = center.api(user, "GET", f"feedback/{sub_id}?format=json")
        assert status == 200, sub
        if sub["status"] != "queued":
            return sub
        time.sleep(1)
    pytest.fail(f"submission {sub_id} still queued after 180 s: {center.log()[-3000:]}")


@pytest.fixture(scope="module")
def submitted(center: Center) -> dict[str, Any]:
    """Student A opened the lab in their own server and submitted it; it was graded by the service."""
    for user in (STUDENT_A, STUDENT_B, INSTRUCTOR):
        center.start_server(user)
    assert center.api(STUDENT_A, "POST", "courses/intro/labs/hello/open")[0] in (200, 201)
    status, sub = center.api(STUDENT_A, "POST", "submissions", {"course": "intro", "lab": "hello"})
    assert status == 202, sub
    return _graded(center, STUDENT_A, sub["id"])


def test_identity_and_roles_come_from_the_hub(center: Center) -> None:
    center.start_server(STUDENT_A)
    assert center.api(STUDENT_A, "GET", "me") == (200, {"user": STUDENT_A, "role": "student", "instructs": []})
    assert center.api(INSTRUCTOR, "GET", "me", direct=True) == (
        200, {"user": INSTRUCTOR, "role": "instructor", "instructs": ["intro"]})


def test_a_submission_is_graded_by_the_service_and_private(center: Center, submitted: dict[str, Any]) -> None:
    sub_id = submitted["id"]
    assert submitted["student"] == STUDENT_A and submitted["status"] == "graded", submitted
    # B, through B's own server and straight at the service: A's feedback, grade and rows are closed
    for direct in (False, True):
        status, body = center.api(STUDENT_B, "GET", f"feedback/{sub_id}?format=json", direct=direct)
        assert status == 403 and "instructor of course 'intro'" in body["error"], body
        assert center.api(STUDENT_B, "PUT", f"grades/{sub_id}/test_hello", {"points": 3}, direct=direct)[0] == 403
        assert center.api(STUDENT_B, "POST", "autograde", {"course": "intro", "lab": "hello"}, direct=direct)[0] == 403
        status, listed = center.api(STUDENT_B, "GET", "submissions?course=intro", direct=direct)
        assert status == 200 and {s["student"] for s in listed["submissions"]} <= {STUDENT_B}
        status, grades = center.api(STUDENT_B, "GET", "grades?course=intro&lab=hello", direct=direct)
        assert status == 200 and {r["student"] for r in grades["rows"]} <= {STUDENT_B}
    # A's token sent to B's server is refused by the hub's proxy/server, not answered as A
    assert center.api(STUDENT_B, "GET", "me", as_token=STUDENT_A)[0] in (302, 403)
    # the course's instructor sees and grades A's work
    status, grades = center.api(INSTRUCTOR, "GET", "grades?course=intro&lab=hello")
    assert status == 200 and STUDENT_A in [r["student"] for r in grades["rows"]]
    assert center.api(INSTRUCTOR, "GET", f"feedback/{sub_id}?format=json")[0] == 200
    status, queued = center.api(INSTRUCTOR, "POST", "autograde", {"course": "intro", "lab": "hello", "force": True})
    assert status == 202 and sub_id in queued["queued"]


def test_a_forged_role_in_user_config_changes_nothing(center: Center, submitted: dict[str, Any]) -> None:
    """B writes themself in as instructor in every config file their server reads, and restarts it."""
    home = Path(os.path.expanduser(f"~{STUDENT_B}"))
    config = home / ".jupyter"
    config.mkdir(exist_ok=True)
    (config / "jupyter_workbench_config.py").write_text(
        f"c.Workbench.instructors = [{STUDENT_B!r}]\nc.Workbench.default_role = 'instructor'\n")
    subprocess.run(["chown", "-R", f"{STUDENT_B}:", str(config)], check=True)
    center.stop_server(STUDENT_B)
    center.start_server(STUDENT_B)
    try:
        assert center.api(STUDENT_B, "GET", "me")[1]["role"] == "student"
        assert center.api(STUDENT_B, "GET", f"feedback/{submitted['id']}?format=json")[0] == 403
        assert {r["student"] for r in center.api(STUDENT_B, "GET", "grades?course=intro&lab=hello")[1]["rows"]} <= {
            STUDENT_B}
    finally:
        (config / "jupyter_workbench_config.py").unlink()


def _kernel_pid(user: str, kernel_id: str) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ps = subprocess.run(["ps", "-ww", "-u", user, "-o", "pid=,args="], capture_output=True, text=True).stdout
        for line in ps.splitlines():
            if "ipykernel" in line and kernel_id in line:
                return int(line.split()[0])
        time.sleep(0.5)
    pytest.fail(f"no kernel process {kernel_id} of {user}")


def test_kernels_lease_through_the_service_and_hold_no_secret(center: Center) -> None:
    center.start_server(STUDENT_A)
    base = f"{center.url}/user/{STUDENT_A}/api/kernels"
    from tests.fixtures.hub import hub_call

    status, kernel = hub_call("POST", base, {"name": "workbench-cpu"}, center.tokens[STUDENT_A])
    assert status == 201, kernel
    try:
        environ = Path(f"/proc/{_kernel_pid(STUDENT_A, kernel['id'])}/environ").read_bytes().split(b"\0")
        names = {item.partition(b"=")[0].decode() for item in environ}
        assert "WORKBENCH_DB_URL" not in names and not any(DB_PASSWORD.encode() in item for item in environ)
        assert "WORKBENCH_LEASE" in names and "WORKBENCH_SERVICE_URL" in names
        status, device = center.api(STUDENT_A, "GET", f"kernels/{kernel['id']}/device")
        assert status == 200 and device["state"] == "live" and device["device"].startswith("CPU"), device
        lease = device["lease"]
        status, mine = center.api(STUDENT_A, "GET", "sessions")
        assert [s["lease"] for s in mine["sessions"]] == [lease] and mine["sessions"][0]["holder"] == STUDENT_A
        for path in (f"sessions/{lease}", f"sessions/{lease}/release", f"sessions/{lease}/renew"):
            method = "GET" if path.endswith(str(lease)) else "POST"
            status, body = center.api(STUDENT_B, method, path, {} if method == "POST" else None, direct=True)
            assert status == 403 and STUDENT_A in body["error"], (path, body)
        theirs = center.api(STUDENT_B, "GET", "sessions", direct=True)[1]["sessions"]
        assert lease not in [s["lease"] for s in theirs] and {s["holder"] for s in theirs} <= {STUDENT_B}
    finally:
        hub_call("DELETE", f"{base}/{kernel['id']}", None, center.tokens[STUDENT_A])
    deadline = time.monotonic() + 30
    while center.api(STUDENT_A, "GET", "sessions")[1]["sessions"] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert center.api(STUDENT_A, "GET", "sessions")[1] == {"sessions": []}  # shut down: released


def test_course_sources_and_the_store_are_closed_to_students(center: Center, submitted: dict[str, Any]) -> None:
    source = center.course_dir / "labs" / "hello" / "source.ipynb"
    service_pid = subprocess.run(["pgrep", "-u", SERVICE_USER, "-f", "workbench-service"], capture_output=True,
                                 text=True).stdout.split()[0]
    attack = (
        "import os, sys\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        is_file = os.path.isfile(path) or path.startswith('/proc')\n"
        "        data = open(path, 'rb').read() if is_file else os.listdir(path)\n"
        "        print('READ', path)\n"
        "    except OSError as exc:\n"
        "        print('DENIED', path, type(exc).__name__)\n"
    )
    targets = [str(source), str(center.base / "service"), f"/proc/{service_pid}/environ"]
    result = subprocess.run(["runuser", "-u", STUDENT_A, "--", "python3", "-c", attack, *targets],
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.count("DENIED") == 3 and "READ" not in result.stdout, result.stdout + result.stderr
    # the shipped data, by contrast, is there for the lab
    assert as_user(STUDENT_A, f"print(open({str(center.course_dir / 'course.yaml')!r}).read()[:2])").returncode == 0


def _edit_and_submit(center: Center, user: str, mark: str, deadline: float) -> int:
    """Change the student's copy (as their editor would, through their server) and submit it,
    retrying while the service is away (the relay answers 502 then); returns the submission id."""
    from tests.fixtures.hub import hub_call

    contents = f"{center.url}/user/{user}/api/contents/intro/hello.ipynb"
    status, model = hub_call("GET", contents, None, center.tokens[user])
    assert status == 200, model
    model["content"]["cells"][0]["source"] += f"\n# {mark}"
    assert hub_call("PUT", contents, {"type": "notebook", "format": "json", "content": model["content"]},
                 center.tokens[user])[0] == 200
    while time.monotonic() < deadline:
        status, sub = center.api(user, "POST", "submissions", {"course": "intro", "lab": "hello"})
        if status == 202:
            return int(sub["id"])
        assert status == 502 and "workbench service" in sub["error"], (status, sub)
        time.sleep(1)
    pytest.fail(f"the service did not come back: {center.log()[-3000:]}")


def test_the_service_killed_mid_class_loses_nothing(center: Center, submitted: dict[str, Any]) -> None:
    """kill -9 of the service while students submit, a kernel holds a lease and the instructor
    autogrades: the hub restarts it, and every accepted submission ends graded, the lease lives on."""
    from tests.fixtures.hub import hub_call

    center.start_server(STUDENT_B)
    center.api(STUDENT_B, "POST", "courses/intro/labs/hello/open")
    kernels = f"{center.url}/user/{STUDENT_B}/api/kernels"
    status, kernel = hub_call("POST", kernels, {"name": "workbench-cpu"}, center.tokens[STUDENT_B])
    assert status == 201, kernel
    lease = center.api(STUDENT_B, "GET", f"kernels/{kernel['id']}/device")[1]["lease"]
    deadline = time.monotonic() + 240
    accepted = [_edit_and_submit(center, user, f"before {i}", deadline) for i in range(2)
                for user in (STUDENT_A, STUDENT_B)]
    assert center.api(INSTRUCTOR, "POST", "autograde", {"course": "intro", "lab": "hello", "force": True})[0] == 202
    pid = subprocess.run(["pgrep", "-u", SERVICE_USER, "-f", "workbench-service"], capture_output=True,
                         text=True).stdout.split()[0]
    os.kill(int(pid), 9)
    accepted += [_edit_and_submit(center, user, "after the kill", deadline) for user in (STUDENT_A, STUDENT_B)]
    for sub_id in accepted:
        owner = STUDENT_A if sub_id in accepted[0::2] else STUDENT_B
        assert _graded(center, owner, sub_id)["status"] == "graded"
    status, listed = center.api(INSTRUCTOR, "GET", "submissions?course=intro&lab=hello")
    ids = [s["id"] for s in listed["submissions"]]
    assert set(accepted) <= set(ids) and len(ids) == len(set(ids))
    assert all(s["status"] == "graded" for s in listed["submissions"]), listed
    device = center.api(STUDENT_B, "GET", f"kernels/{kernel['id']}/device")[1]
    assert device["lease"] == lease and device["state"] == "live", device
    hub_call("DELETE", f"{kernels}/{kernel['id']}", None, center.tokens[STUDENT_B])
