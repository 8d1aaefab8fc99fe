"""The REST API through a real jupyter_server: data for a token, 403 without one, roles enforced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from tests.fixtures.jupyter_server import Server
from workbench.labs.data import course_data
from workbench.server.app import routes

pytestmark = pytest.mark.integration


def add_course(repo_root: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "workbench.cli", "course", "add", str(repo_root / "curricula" / "intro")],
        check=True, capture_output=True,
    )


def test_health_courses_and_open(start_server: Callable[..., Server], repo_root: Path) -> None:
    add_course(repo_root)
    server = start_server()

    status, health = server.request("GET", "health")
    assert status == 200
    assert health["version"] == "0.1.0" and health["store"] == "sqlite"
    assert health["devices"]["cpu"]["cores"] >= 1

    status, body = server.request("GET", "courses")
    assert status == 200
    (course,) = body["courses"]
    assert course["id"] == "intro"
    assert course["labs"][0] == {
        "id": "hello", "title": "Hello, workbench", "points": 3.0, "due": "2026-12-31T23:59:00+00:00",
        "device": {"kind": "cpu", "count": 1}, "frameworks": [], "grading": {},
    }
    assert server.request("GET", "courses/intro")[1] == course
    status, missing = server.request("GET", "courses/nope")
    assert status == 404 and "no course 'nope'" in missing["error"]

    status, opened = server.request("POST", "courses/intro/labs/hello/open", body={})
    assert (status, opened) == (201, {"path": "intro/hello.ipynb", "created": True})
    copy = server.root / "intro" / "hello.ipynb"
    student = nbformat.read(copy, as_version=4)
    text = "\n".join(cell.source for cell in student.cells)
    assert "raise NotImplementedError()" in text and "HIDDEN" not in text and "np.mean" not in text
    assert student.metadata.kernelspec.name == "workbench-cpu", "the lab's device class picks the kernel"

    copy.write_text(copy.read_text().replace("YOUR CODE HERE", "my work"))
    status, again = server.request("POST", "courses/intro/labs/hello/open", body={})
    assert (status, again) == (200, {"path": "intro/hello.ipynb", "created": False})
    assert "my work" in copy.read_text(), "reopening a lab must keep the student's work"

    status, err = server.request("POST", "courses/intro/labs/nope/open", body={})
    assert status == 404 and err["error"].startswith("no lab 'nope' in course 'intro'; `workbench course list`")
    assert not (server.root / "intro" / "data").exists(), "the sample course ships no data"


def test_opened_lab_finds_its_course_data(start_server: Callable[..., Server], repo_root: Path) -> None:
    course = repo_root / "curricula" / "ai-compute-foundations"
    subprocess.run([sys.executable, "-m", "workbench.cli", "course", "add", str(course)], check=True,
                   capture_output=True)
    server = start_server()
    status, opened = server.request("POST", "courses/ai-compute-foundations/labs/remote-sensing/open", body={})
    assert status == 201, opened
    data = server.root / "ai-compute-foundations" / "data"
    assert (data / "PROVENANCE.md").read_text() == (course / "data" / "PROVENANCE.md").read_text()
    assert course_data(server.root / "ai-compute-foundations") == data


def test_no_token_gets_403_and_never_data(start_server: Callable[..., Server], repo_root: Path) -> None:
    add_course(repo_root)
    server = start_server()
    for method, path in [("GET", "health"), ("GET", "courses"), ("GET", "courses/intro"),
                         ("GET", "me"), ("GET", "openapi.json"), ("POST", "courses/intro/labs/hello/open")]:
        status, body = server.request(method, path, body={} if method == "POST" else None, token=None)
        assert status == 403, (method, path)
        assert "intro" not in str(body)
        assert server.request(method, path, body={} if method == "POST" else None, token="wrong")[0] == 403
    assert not (server.root / "intro").exists()


def test_student_gets_403_on_instructor_route(
    start_server: Callable[..., Server], repo_root: Path
) -> None:
    server = start_server("--Workbench.default_role=student")
    assert server.request("GET", "me")[1]["role"] == "student"
    status, body = server.request("POST", "courses", body={"path": str(repo_root / "curricula" / "intro")})
    assert status == 403
    assert "needs the instructor role" in body["error"]
    assert server.request("GET", "courses")[1] == {"courses": []}


def test_instructor_registers_course_and_sees_every_problem(
    start_server: Callable[..., Server], repo_root: Path, tmp_path: Path
) -> None:
    server = start_server()
    assert server.request("GET", "me")[1]["role"] == "instructor"
    status, course = server.request("POST", "courses", body={"path": str(repo_root / "curricula" / "intro")})
    assert status == 201 and course["id"] == "intro"
    assert server.request("POST", "courses", body={"path": str(repo_root / "curricula" / "intro")})[0] == 200
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "course.yaml").write_text("id: broken\nlabs: []\nextra: 1\n")
    status, body = server.request("POST", "courses", body={"path": str(broken)})
    assert status == 400
    assert len(body["problems"]) == 3
    assert any("unknown key 'extra'" in p for p in body["problems"])
    status, body = server.request("POST", "courses", body={"nope": 1})
    assert status == 400 and "path" in body["error"]


def test_wrong_config_key_is_one_clear_line() -> None:
    config_dir = Path(os.environ["JUPYTER_CONFIG_DIR"])
    (config_dir / "jupyter_workbench_config.json").write_text(json.dumps({"Workbench": {"db_ulr": "x"}}))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "workbench.cli", "course", "list"], capture_output=True, text=True,
        )
    finally:
        (config_dir / "jupyter_workbench_config.json").unlink()
    assert result.returncode == 2
    assert "unknown setting 'Workbench.db_ulr' — did you mean 'Workbench.db_url'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_kernel_device_and_openapi_cover_every_route(start_server: Callable[..., Server]) -> None:
    server = start_server()
    status, spec = server.request("GET", "openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.")
    documented = set(spec["paths"])
    for pattern, _handler in routes():
        path = pattern.split("/workbench/api/v1", 1)[1]
        path = path.replace("(?P<", "{").replace(">[^/]+)", "}")
        assert path in documented, f"{path} is served but not in openapi.json"
    for path, item in spec["paths"].items():
        for method in item.values():
            for ref in str(method).split("#/components/schemas/")[1:]:
                assert ref.split("'")[0] in spec["components"]["schemas"], (path, ref)

    status, err = server.request("GET", "kernels/00000000-0000-0000-0000-000000000000/device")
    assert status == 404 and "no running kernel" in err["error"]
    req = urllib.request.Request(f"{server.url}/api/kernels", data=b"{}", method="POST")
    req.add_header("Authorization", f"token {server.token}")
    with urllib.request.urlopen(req, timeout=60) as response:
        kernel_id = json.loads(response.read())["id"]
    status, device = server.request("GET", f"kernels/{kernel_id}/device")
    assert status == 200 and device["device"] == "CPU" and device["kernel_id"] == kernel_id
