"""The server's warm grading workers, through a real jupyter_server and the real sandbox: they survive
from one instructor autograde to the next (same process, nothing started again), are closed when idle,
are rebuilt when killed, and never carry one student's state into another's grading."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from tests.fixtures.jupyter_server import Server
from workbench.curriculum import catalog, load_course
from workbench.grading import autograde, gradebook
from workbench.store import open_store
from workbench.store.models import utcnow

pytestmark = pytest.mark.integration
STUDENTS = ("ann", "bo", "cy", "di")
# Each student first looks for anything another one could have left (files in /tmp and the home, the
# environment, a patched module, a running process), then leaves all of that behind, sleeper included.
ATTACK = """import glob, os, subprocess, numpy
found = sorted(glob.glob('/tmp/planted-*') + glob.glob('/home/student/planted-*'))
found += [k for k in os.environ if k.startswith('PLANTED_')]
found += [p for p in os.listdir('/proc') if p.isdigit() and p != '1']
found += ['numpy.planted_by'] if hasattr(numpy, 'planted_by') else []
for path in ('/tmp/planted-{me}', '/home/student/planted-{me}'):
    open(path, 'w').write('{me}')
os.environ['PLANTED_{me}'] = '1'
numpy.planted_by = '{me}'
subprocess.Popen(['sleep', '300'], start_new_session=True)
mine = open('/tmp/planted-{me}').read()"""


def meta(gid: str, **flags: object) -> dict:
    return {"nbgrader": {"grade_id": gid, "schema_version": 3, **flags}}


def lab(work: str) -> nbformat.NotebookNode:
    return new_notebook(cells=[
        new_code_cell(work, metadata=meta("work", solution=True, grade=False)),
        new_code_cell("assert found == [], found", metadata=meta("test_nothing_left", grade=True, points=2)),
        new_code_cell("assert mine == ME", metadata=meta("test_own_plant", grade=True, points=1)),
    ])


@pytest.fixture
def course(tmp_path: Path, db_url: str) -> Path:
    root = tmp_path / "course"
    (root / "labs" / "iso").mkdir(parents=True)
    nbformat.write(lab("import numpy\nfound, mine, ME = [], 'x', 'x'"), root / "labs" / "iso" / "source.ipynb")
    (root / "course.yaml").write_text(yaml.safe_dump({"id": "pool101", "title": "Pool", "labs": [
        {"id": "iso", "title": "Isolation", "path": "labs/iso/source.ipynb", "points": 3}]}))
    catalog.register(open_store(db_url), load_course(root))
    return root


def hand_in(course: Path, db_url: str, tmp_path: Path) -> None:
    """Every student's submission, stored and registered as Submit does (then nobody grades it yet)."""
    store = open_store(db_url)
    incoming = []
    for name in STUDENTS:
        work = ATTACK.format(me=name) + f"\nME = '{name}'"
        path, sha = gradebook.store_file(nbformat.writes(lab(work)).encode(), tmp_path / "subs", "pool101", "iso", name)
        incoming.append(gradebook.Incoming(name, path, sha, utcnow()))
    gradebook.add_submissions(store, "pool101", "iso", incoming,
                              autograde.source_digest(course / "labs" / "iso" / "source.ipynb"))


def autograde_run(server: Server, force: bool) -> dict:
    """An instructor's autograde over REST, waited for; returns that run as ``grading/workers`` shows it."""
    before = len(workers(server)["runs"])
    status, body = server.request("POST", "autograde", {"course": "pool101", "lab": "iso", "force": force,
                                                        "workers": 2})
    assert status == 202 and len(body["queued"]) == len(STUDENTS), body
    deadline = time.monotonic() + 120
    while len(runs := workers(server)["runs"]) == before:
        assert time.monotonic() < deadline, "the autograde did not finish in 120 s"
        time.sleep(0.1)
    return dict(runs[-1])


def workers(server: Server) -> dict:
    status, body = server.request("GET", "grading/workers")
    assert status == 200, body
    return dict(body)


def pids(server: Server) -> list[int]:
    (image,) = workers(server)["images"]
    assert "numpy" in image["imports"]
    return sorted({w["pid"] for w in image["workers"]})


def assert_all_full_marks(server: Server) -> None:
    """Every student kept their own plant and met nothing of anyone else's."""
    subs = server.request("GET", "submissions?course=pool101&lab=iso")[1]["submissions"]
    assert sorted(s["student"] for s in subs) == sorted(STUDENTS)
    for sub in subs:
        assert sub["status"] == "graded" and sub["score"] == 3.0, sub


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1].startswith("Z")  # killed, not yet reaped by the server
    except FileNotFoundError:
        return True


def test_warm_workers_outlive_a_run_and_keep_no_student_state(
        start_server: Callable[..., Server], course: Path, db_url: str, tmp_path: Path) -> None:
    server = start_server("--Workbench.grading_idle_s=600")
    hand_in(course, db_url, tmp_path)
    first = autograde_run(server, force=False)
    assert first["graded"] == len(STUDENTS) and first["workers"]["started"] == 1
    assert first["workers"]["cloned"] == 1 and first["workers"]["start_s"] > 0
    assert_all_full_marks(server)
    (pid,) = pids(server)  # one bwrap: the started worker and its clone inside it

    second = autograde_run(server, force=True)
    assert second["graded"] == len(STUDENTS)
    assert second["workers"] == {"started": 0, "cloned": 0, "reused": 2, "start_s": 0.0}  # no start paid
    assert pids(server) == [pid]
    assert_all_full_marks(server)  # two runs on the same two workers: still nothing crossed

    server.process.terminate()
    server.process.wait(timeout=30)
    assert gone(pid)  # closed with the server


def test_a_killed_worker_is_rebuilt_by_the_next_run(
        start_server: Callable[..., Server], course: Path, db_url: str, tmp_path: Path) -> None:
    server = start_server()
    hand_in(course, db_url, tmp_path)
    autograde_run(server, force=False)
    (pid,) = pids(server)
    os.kill(pid, signal.SIGKILL)  # the worker's bwrap: its fork server and the clone die with it
    deadline = time.monotonic() + 10
    while not gone(pid):
        assert time.monotonic() < deadline
        time.sleep(0.05)

    again = autograde_run(server, force=True)
    assert again["graded"] == len(STUDENTS) and again["failed"] == 0
    assert again["workers"]["started"] == 1 and again["workers"]["reused"] == 0
    assert pids(server) != [pid]
    assert_all_full_marks(server)


def test_idle_workers_are_reclaimed_and_started_again_when_needed(
        start_server: Callable[..., Server], course: Path, db_url: str, tmp_path: Path) -> None:
    server = start_server("--Workbench.grading_idle_s=1")
    hand_in(course, db_url, tmp_path)
    autograde_run(server, force=False)
    assert workers(server)["idle_s"] == 1.0
    (pid,) = pids(server)
    deadline = time.monotonic() + 20
    while workers(server)["images"]:
        assert time.monotonic() < deadline, "idle workers were not closed"
        time.sleep(0.2)
    assert gone(pid)
    rebuilt = autograde_run(server, force=True)
    assert rebuilt["workers"]["started"] == 1 and rebuilt["graded"] == len(STUDENTS)
    assert pids(server) != [pid]
    assert_all_full_marks(server)


def test_workers_are_the_instructors_to_see(start_server: Callable[..., Server], course: Path) -> None:
    student = start_server("--Workbench.default_role=student")
    status, body = student.request("GET", "grading/workers")
    assert status == 403 and "instructor" in body["error"]
