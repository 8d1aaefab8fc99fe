"""A class at once on one hub: request latency, lost work and the service's CPU per request.

Starts a real center on loopback (JupyterHub, its proxy, the workbench service as ``wb-service``,
PostgreSQL with a password, the sample course), then lets N simulated students (default 300) each
run one bounded session, all at once through a thread pool: who am I, the course list, the lab's
student version, a device lease (``POST sessions``) and its heartbeat, a submission of their own
notebook, polling feedback until it is graded, and the release. An instructor autogrades the lab
half-way through. ``--servers K`` of the students (default 10) are real hub users with their own
single-user server (their own Unix account): they go through their server's relay and start a real
kernel through the provisioner; the others call the service as a server would relay them, with
their own hub token — 300 Jupyter servers do not fit this 2-core, 24 GiB machine.

Peer: the single-user server doing the same work — one personal ``jupyter server`` with the
workbench extension and its own SQLite store — for the same N sessions, the same request mix.

Reports p50/p99 per request type on both, submissions lost or duplicated (accepted ids against
the store), quota/busy refusals, and the service's own CPU per request (its process, not the
grading sandboxes). Needs root (accounts, the hub). ``.venv/bin/python bench/hub_load.py``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.fixtures.hub import hub_call, wait_healthy  # noqa: E402
from workbench.loopback import free_port  # noqa: E402
from workbench.service.trial import (  # noqa: E402
    SERVICE_USER,
    hub_cluster,
    hub_environment,
    place_course,
    start_postgres,
    unix_user,
)

VENV_BIN = Path(sys.executable).parent
ADMIN = secrets.token_hex(24)
Timings = dict[str, list[float]]


class Student:
    """One session's requests against one API base; every request is timed under its type."""

    def __init__(self, api: str, token: str, timings: Timings, notebook: dict[str, Any], mark: str) -> None:
        self.api, self.token, self.timings = api, token, timings
        self.notebook = copy.deepcopy(notebook)
        self.notebook["cells"][0]["source"] += f"\n\n{mark}"  # a notebook of their own: a new submission

    def req(self, kind: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        start = time.perf_counter()
        status, answer = hub_call(method, self.api + path, body, self.token, timeout=120)
        self.timings[kind].append(time.perf_counter() - start)
        return status, answer

    def session(self, with_notebook: bool, deadline: float) -> dict[str, Any]:
        self.req("me", "GET", "me")
        self.req("courses", "GET", "courses")
        self.req("student lab", "GET", "courses/intro/labs/hello/student")
        status, lease = self.req("lease", "POST", "sessions", {"requests": ["cpu:1"], "kernel_id": str(uuid.uuid4())})
        leased = status == 201
        if leased:
            self.req("renew", "POST", f"sessions/{lease['lease']}/renew",
                     {"activity": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())})
        body = {"course": "intro", "lab": "hello", **({"notebook": self.notebook} if with_notebook else {})}
        status, sub = self.req("submit", "POST", "submissions", body)
        outcome = {"accepted": sub["id"] if status in (200, 202) else None, "leased": leased, "status": None}
        while outcome["accepted"] is not None and time.monotonic() < deadline:
            _, seen = self.req("feedback poll", "GET", f"feedback/{sub['id']}?format=json")
            if seen["status"] != "queued":
                outcome["status"] = seen["status"]
                break
            time.sleep(1.0)
        if leased:
            self.req("release", "POST", f"sessions/{lease['lease']}/release")
        return outcome


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run_hub(base: Path, students: int, servers: int, concurrency: int, notebook: dict[str, Any],
            inventory: Path) -> dict[str, Any]:
    service = unix_user(SERVICE_USER, system=True)
    data = base / "service"
    data.mkdir(mode=0o700)
    os.chown(data, service.pw_uid, service.pw_gid)
    (base / "courses").mkdir(mode=0o755)
    course = place_course(REPO / "curricula" / "intro", base / "courses" / "intro", service)
    pg_state = base / "pg-state"
    pg_state.mkdir()
    db_url = start_postgres(pg_state, free_port())
    service_env = {"WORKBENCH_DB_URL": db_url, "WORKBENCH_DATA_DIR": str(data), "WORKBENCH_INVENTORY": str(inventory)}
    env = {**os.environ, **service_env}
    for command in (["db", "upgrade"], ["course", "add", str(course)]):
        subprocess.run([str(VENV_BIN / "workbench"), *command], check=True, env=env, capture_output=True)
    names = [f"wb-load-{i:03d}" for i in range(students)]
    for name in names[:servers]:
        unix_user(name)
    port = free_port() + 10
    proxy = str(REPO / ".hub-proxy/node_modules/.bin/configurable-http-proxy")
    hub_env = hub_environment(VENV_BIN, base / "hub", port, service_env, ["wb-instructor", *names],
                              {"instructors:intro": ["wb-instructor"]}, proxy)
    config = base / "jupyterhub_config.py"
    config.write_text(f"load_subconfig({str(REPO / 'jupyter-config/hub/jupyterhub_config.py')!r})\n"
                      f"c.JupyterHub.services.append({{'name': 'load-admin', 'api_token': {ADMIN!r}}})\n"
                      "c.JupyterHub.load_roles.append({'name': 'load-admin', 'services': ['load-admin'], "
                      "'scopes': ['admin:users', 'admin:servers', 'tokens', 'read:users', 'read:services']})\n")
    log = open(base / "hub.log", "wb")  # noqa: SIM115 - lives with the hub
    hub = subprocess.Popen([str(VENV_BIN / "jupyterhub"), "-f", str(config)], cwd=base, env=hub_env, stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)
    url, service_api = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 3}/services/workbench/workbench/api/v1/"
    try:
        for _ in range(240):
            try:
                if hub_call("GET", f"{url}/hub/api/services/workbench", None, ADMIN)[0] == 200 and \
                        hub_call("GET", service_api + "health", None, ADMIN)[0] in (200, 403):
                    break
            except OSError:  # not listening yet
                pass
            time.sleep(0.5)
        else:
            log.flush()
            sys.exit(f"the hub or its workbench service did not come up in 120 s; the hub's log ends:\n"
                     f"{(base / 'hub.log').read_text(errors='replace')[-4000:]}")
        tokens = {}
        for name in ["wb-instructor", *names]:
            scopes = [f"access:servers!user={name}", "access:services!service=workbench"]
            status, made = hub_call("POST", f"{url}/hub/api/users/{name}/tokens", {"scopes": scopes}, ADMIN)
            assert status == 201, made
            tokens[name] = made["token"]
        for name in names[:servers]:
            hub_call("POST", f"{url}/hub/api/users/{name}/server", None, ADMIN)
        for name in names[:servers]:
            while not ((hub_call("GET", f"{url}/hub/api/users/{name}", None, ADMIN)[1].get("servers") or {}).get("", {})
                       .get("ready")):
                time.sleep(0.5)
            hub_call("POST", f"{url}/user/{name}/workbench/api/v1/courses/intro/labs/hello/open", None, tokens[name])
        pid = int(subprocess.run(["pgrep", "-u", SERVICE_USER, "-f", "workbench-service"], capture_output=True,
                                 text=True).stdout.split()[0])
        timings: Timings = defaultdict(list)

        def one(i: int) -> dict[str, Any]:
            name = names[i]
            real = i < servers
            api = f"{url}/user/{name}/workbench/api/v1/" if real else service_api
            student = Student(api, tokens[name], timings, notebook, f"student {i}")
            if real:  # a real kernel through the provisioner, leased at the service
                start = time.perf_counter()
                status, kernel = hub_call("POST", f"{url}/user/{name}/api/kernels", {"name": "workbench-cpu"},
                                          tokens[name])
                timings["kernel start"].append(time.perf_counter() - start)
                if status == 201:
                    hub_call("DELETE", f"{url}/user/{name}/api/kernels/{kernel['id']}", None, tokens[name])
            return student.session(with_notebook=not real, deadline=time.monotonic() + 900)

        cpu0, wall0 = cpu_seconds(pid), time.monotonic()
        with ThreadPoolExecutor(concurrency) as pool:
            futures = [pool.submit(one, i) for i in range(students)]
            time.sleep(2)
            teacher = Student(service_api, tokens["wb-instructor"], timings, notebook, "")
            teacher.req("autograde", "POST", "autograde", {"course": "intro", "lab": "hello", "force": True})
            outcomes = [f.result() for f in futures]
        wall, cpu = time.monotonic() - wall0, cpu_seconds(pid) - cpu0
        _, listed = hub_call("GET", service_api + "submissions?course=intro&lab=hello", None, tokens["wb-instructor"])
        return summarize("hub", timings, outcomes, listed["submissions"], wall, cpu)
    finally:
        os.killpg(hub.pid, 15)
        hub.wait(timeout=60)
        subprocess.run(["pkill", "-9", "-u", SERVICE_USER], capture_output=True)
        for name in names[:servers]:
            subprocess.run(["pkill", "-9", "-u", name], capture_output=True)
        hub_cluster(pg_state).stop("immediate")


def run_personal(base: Path, students: int, concurrency: int, notebook: dict[str, Any],
                 inventory: Path) -> dict[str, Any]:
    """The same sessions against one personal server (its owner for every student)."""
    token, port = secrets.token_hex(16), free_port()
    root = base / "personal"
    root.mkdir()
    env = {**os.environ, "WORKBENCH_DB_URL": f"sqlite:///{base / 'personal.db'}",
           "WORKBENCH_DATA_DIR": str(base / "pd"), "WORKBENCH_INVENTORY": str(inventory)}
    for command in (["db", "upgrade"], ["course", "add", str(REPO / "curricula" / "intro")]):
        subprocess.run([str(VENV_BIN / "workbench"), *command], check=True, env=env, capture_output=True)
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "server", "--no-browser", f"--ServerApp.port={port}",
                               "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}", "--ServerApp.allow_root=True",
                               f"--ServerApp.root_dir={root}"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}/workbench/api/v1/"
    try:
        wait_healthy(api, token, server)
        timings: Timings = defaultdict(list)
        cpu0, wall0 = cpu_seconds(server.pid), time.monotonic()
        with ThreadPoolExecutor(concurrency) as pool:
            futures = [pool.submit(lambda i=i: Student(api, token, timings, notebook, f"student {i}").session(
                True, time.monotonic() + 900)) for i in range(students)]
            time.sleep(2)
            Student(api, token, timings, notebook, "").req("autograde", "POST", "autograde",
                                                          {"course": "intro", "lab": "hello", "force": True})
            outcomes = [f.result() for f in futures]
        wall, cpu = time.monotonic() - wall0, cpu_seconds(server.pid) - cpu0
        listed = hub_call("GET", api + "submissions?course=intro&lab=hello", None, token)[1]["submissions"]
        return summarize("single-user server", timings, outcomes, listed, wall, cpu)
    finally:
        server.terminate()
        server.wait(timeout=30)


def summarize(name: str, timings: Timings, outcomes: list[dict[str, Any]], stored: list[dict[str, Any]],
              wall: float, cpu: float) -> dict[str, Any]:
    accepted = [o["accepted"] for o in outcomes if o["accepted"] is not None]
    stored_ids = [s["id"] for s in stored]
    requests = sum(len(v) for v in timings.values())
    return {"name": name, "wall_s": wall, "requests": requests, "cpu_ms_per_request": 1000 * cpu / max(1, requests),
            "lost": len(set(accepted) - set(stored_ids)), "duplicated": len(stored_ids) - len(set(stored_ids)),
            "graded": sum(o["status"] == "graded" for o in outcomes), "not_graded": sum(
                o["accepted"] is not None and o["status"] != "graded" for o in outcomes),
            "lease_refused": sum(not o["leased"] for o in outcomes),
            "p": {k: (1000 * percentile(v, 0.5), 1000 * percentile(v, 0.99), len(v)) for k, v in timings.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--servers", type=int, default=10, help="students with a real single-user server")
    parser.add_argument("--concurrency", type=int, default=50, help="students in flight at once")
    parser.add_argument("--slots", type=int, default=0, help="CPU session slots (default: one per student)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("hub_load needs root: it makes Unix accounts and starts a hub that spawns servers as them")
    import nbformat

    from workbench.curriculum.release import student_version

    notebook = json.loads(nbformat.writes(student_version(REPO / "curricula/intro/labs/hello/source.ipynb")))
    base = Path(tempfile.mkdtemp(prefix="wb-hub-load-"))
    os.chmod(base, 0o755)
    inventory = base / "inventory.yaml"  # a CPU slot per student unless --slots says otherwise
    inventory.write_text(f"discover: false\ndevices:\n  - {{kind: cpu, slots: {args.slots or args.students}}}\n")
    inventory.chmod(0o644)
    try:
        hub = run_hub(base, args.students, args.servers, args.concurrency, notebook, inventory)
        personal = run_personal(base, args.students, args.concurrency, notebook, inventory)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"\n{args.students} students ({args.servers} with a real server and kernel), {args.concurrency} at once; "
          f"{os.cpu_count()} cores\n")
    print(f"{'request':<16}{'hub p50 ms':>12}{'hub p99 ms':>12}{'n':>6}{'single p50':>12}{'single p99':>12}"
          f"{'p50 ratio':>11}")
    for kind in sorted(set(hub["p"]) | set(personal["p"])):
        h, s = hub["p"].get(kind, (float("nan"),) * 2 + (0,)), personal["p"].get(kind, (float("nan"),) * 2 + (0,))
        print(f"{kind:<16}{h[0]:>12.1f}{h[1]:>12.1f}{h[2]:>6}{s[0]:>12.1f}{s[1]:>12.1f}{h[0] / s[0]:>10.2f}x")
    for run in (hub, personal):
        print(f"\n{run['name']}: {run['requests']} requests in {run['wall_s']:.1f} s, "
              f"{run['cpu_ms_per_request']:.2f} ms CPU per request (server process, grading excluded); "
              f"graded {run['graded']}, not graded {run['not_graded']}, lost {run['lost']}, "
              f"duplicated {run['duplicated']}, lease refused {run['lease_refused']}")


if __name__ == "__main__":
    main()
