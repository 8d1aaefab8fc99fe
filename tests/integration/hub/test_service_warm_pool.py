"""The hub's workbench service keeps its warm grading workers from one instructor autograde to the
next, as a personal server does (tests/integration/server/test_warm_pool.py): the second run starts
nothing, on the same worker process; the pool is the instructors' to see, through their own server."""

from __future__ import annotations

import time

from tests.fixtures.hub import INSTRUCTOR, STUDENT_A, Center


def _runs(center: Center) -> list[dict]:
    status, body = center.api(INSTRUCTOR, "GET", "grading/workers")
    assert status == 200, body
    return list(body["runs"])


def _autograde(center: Center) -> dict:
    before = len(_runs(center))
    status, queued = center.api(INSTRUCTOR, "POST", "autograde", {"course": "intro", "lab": "hello", "force": True})
    assert status == 202 and queued["queued"], queued
    deadline = time.monotonic() + 180
    while len(runs := _runs(center)) == before:
        assert time.monotonic() < deadline, center.log()[-3000:]
        time.sleep(0.3)
    return runs[-1]


def _pids(center: Center) -> set[int]:
    images = center.api(INSTRUCTOR, "GET", "grading/workers")[1]["images"]
    return {w["pid"] for image in images for w in image["workers"]}


def test_the_service_keeps_warm_workers_between_autogrades(center: Center) -> None:
    for user in (STUDENT_A, INSTRUCTOR):
        center.start_server(user)
    assert center.api(STUDENT_A, "POST", "courses/intro/labs/hello/open")[0] in (200, 201)
    status, sub = center.api(STUDENT_A, "POST", "submissions", {"course": "intro", "lab": "hello"})
    assert status in (200, 202), sub
    deadline = time.monotonic() + 180
    while center.api(STUDENT_A, "GET", f"feedback/{sub['id']}?format=json")[1]["status"] == "queued":
        assert time.monotonic() < deadline, center.log()[-3000:]
        time.sleep(0.3)

    first = _autograde(center)
    assert first["graded"] >= 1 and first["failed"] == 0, first
    pids = _pids(center)
    assert pids
    second = _autograde(center)
    assert second["graded"] == first["graded"] and second["failed"] == 0, second
    assert (second["workers"]["started"], second["workers"]["cloned"], second["workers"]["start_s"]) == (0, 0, 0.0)
    assert _pids(center) == pids

    status, body = center.api(STUDENT_A, "GET", "grading/workers")
    assert status == 403 and "instructor" in body["error"], body
