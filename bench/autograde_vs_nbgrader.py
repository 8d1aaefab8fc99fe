"""Class-scale autograde: ``workbench autograde`` (sandboxed, warm workers), the service path (an
instructor's ``POST autograde`` to a running server whose warm workers outlive a run), ``nbgrader
autograde`` and the cold floor, on the same generated class, same machine, same run.

    python bench/autograde_vs_nbgrader.py --n 200 [--nbgrader-n 60] --lab numpy --lab torch [--workers N] [--repeat 3]

The class is one lab (numpy, or numpy + torch) with a third each of correct, wrong and erroring
submissions. nbgrader is installed by this script into its own virtual environment
(``~/.cache/workbench-bench/venv-nbgrader``, built on this interpreter's site-packages so numpy
and torch match).
The cold floor runs every notebook's code once in a fresh plain ``python`` process (no sandbox, no
kernel, no grading), sums the times and divides by the cores: what "one process per submission"
costs at best. workbench grades the class ``--repeat`` times, each into a fresh store; the speedup is
taken at the median run, and the worst run's speedup is printed beside it. Prints a table and
writes it as JSON to ``--json`` when given.

The service path (``--skip-service`` leaves it out) starts a personal ``jupyter server`` with the
workbench extension on a fresh store, registers the class as stored submissions (what the students'
Submit leaves), and times ``POST autograde`` until ``GET grading/workers`` shows the run ended: the
*first* run on a server just started (its pool empty: it pays the workers' start), then ``--repeat``
forced re-grades of the whole class on the warm pool; the speedup is taken at their median.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_notebook

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.fixtures.hub import hub_call, wait_healthy  # noqa: E402
from workbench.grading.autograde import default_workers  # noqa: E402
from workbench.loopback import free_port  # noqa: E402

NBGRADER_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "workbench-bench" / "venv-nbgrader"


def meta(gid: str, **flags: object) -> dict:
    return {"nbgrader": {"grade_id": gid, "schema_version": 3, "grade": False, "solution": False,
                         "locked": False, **flags}}


def source(kind: str) -> nbformat.NotebookNode:
    heavy = "import torch\n" if kind == "torch" else ""
    normalise = ("def normalise(x):\n    ### BEGIN SOLUTION\n    x = np.asarray(x, dtype=float)\n"
                 "    return (x - x.mean()) / x.std()\n    ### END SOLUTION")
    tests = ("z = normalise([1.0, 2.0, 3.0, 4.0])\nassert abs(z.mean()) < 1e-9\nassert abs(z.std() - 1) < 1e-9")
    cells = [new_code_cell(f"import numpy as np\n{heavy}", metadata=meta("imports", locked=True)),
             new_code_cell(normalise, metadata=meta("normalise", solution=True)),
             new_code_cell(tests, metadata=meta("test_normalise", grade=True, points=2))]
    if kind == "torch":
        cells += [new_code_cell("def relu(t):\n    ### BEGIN SOLUTION\n    return torch.clamp(t, min=0)\n"
                                "    ### END SOLUTION", metadata=meta("relu", solution=True)),
                  new_code_cell("assert relu(torch.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]",
                                metadata=meta("test_relu", grade=True, points=1))]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def submission(kind: str, variant: int) -> nbformat.NotebookNode:
    nb = source(kind)
    answers = {0: ("return (x - x.mean()) / x.std()", "return torch.clamp(t, min=0)"),
               1: ("return x - x.mean()", "return t"),                       # wrong
               2: ("raise ValueError('not done')", "raise ValueError('no')")}  # erroring
    norm, relu = answers[variant % 3]
    nb.cells[1].source = f"def normalise(x):\n    x = np.asarray(x, dtype=float)\n    {norm}"
    if kind == "torch":
        nb.cells[3].source = f"def relu(t):\n    {relu}"
    return nb


def build(root: Path, kind: str, n: int) -> None:
    lab = f"lab-{kind}"
    for folder in (root / "source" / lab, root / "course" / "labs" / lab):
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(source(kind), folder / f"{lab}.ipynb")
    (root / "course" / "course.yaml").write_text(yaml.safe_dump({"id": "bench", "title": "Bench", "labs": [
        {"id": lab, "title": lab, "path": f"labs/{lab}/{lab}.ipynb"}]}))
    for i in range(n):
        folder = root / "submitted" / f"s{i:04d}" / lab
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(submission(kind, i), folder / f"{lab}.ipynb")
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(root)!r}\nc.CourseDirectory.course_id = 'bench'\n"
        "c.ExecutePreprocessor.timeout = 60\n")


def nbgrader_python() -> Path:
    python = NBGRADER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(NBGRADER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "nbgrader"], check=True)
    return python


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return time.perf_counter() - start


def cold_floor(root: Path, kind: str, cores: int, count: int) -> float:
    """Seconds for every notebook of the class run cold, one plain process each, divided by the cores;
    measured on the first ``count`` (a third of each variant) and scaled to the class."""
    paths = sorted((root / "submitted").glob(f"*/lab-{kind}/*.ipynb"))
    total = 0.0
    for path in paths[:count]:
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"try:\n    exec(compile({code!r}, 'nb', 'exec'))\nexcept Exception:\n"
                        "    pass"], capture_output=True)
        total += time.perf_counter() - start
    return total * len(paths) / min(count, len(paths)) / cores


def nbgrader_time(kind: str, n: int) -> float:
    """``nbgrader autograde`` on its own generated class of ``n`` (same generator, same variants)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-nbgrader-{kind}-") as tmp:
        root = Path(tmp)
        build(root, kind, n)
        python = str(nbgrader_python())
        nb_env = {k: v for k, v in os.environ.items()
                  if k not in ("PYTHONPATH", "WORKBENCH_DB_URL", "WORKBENCH_DATA_DIR")}
        nb_env["PATH"] = f"{Path(python).parent}:{os.environ.get('PATH', '')}"  # nbgrader runs `alembic`
        timed([python, "-m", "nbgrader", "generate_assignment", f"lab-{kind}", "--force"], root, nb_env)
        return timed([python, "-m", "nbgrader", "autograde", f"lab-{kind}", "--force"], root, nb_env)


def workbench_time(root: Path, kind: str, workers: int) -> float:
    """One ``workbench autograde`` of the class into a fresh store (so nothing is skipped as graded)."""
    for stale in (root / "wb.db", root / "wb.db-wal", root / "wb.db-shm"):
        stale.unlink(missing_ok=True)
    shutil.rmtree(root / "data", ignore_errors=True)
    env = {**os.environ, "WORKBENCH_DB_URL": f"sqlite:///{root / 'wb.db'}",
           "WORKBENCH_DATA_DIR": str(root / "data"), "PYTHONPATH": str(REPO)}
    wb = [sys.executable, "-m", "workbench.cli"]
    timed([*wb, "course", "add", str(root / "course")], root, env)
    return timed([*wb, "autograde", "--course", "bench", "--lab", f"lab-{kind}", "--submissions",
                  str(root / "submitted"), "--workers", str(workers), "--no-progress", "--json"], root, env)


def service_times(root: Path, kind: str, workers: int, repeat: int) -> dict[str, Any]:
    """The class autograded through a running server's REST API: the first run on a fresh server (its
    warm pool empty), then ``repeat`` forced re-grades on the workers the first one left warm."""
    from workbench.curriculum import catalog, load_course
    from workbench.grading import autograde
    from workbench.store import open_store

    base = root / "service"
    shutil.rmtree(base, ignore_errors=True)
    for folder in ("srv", "config", "data", "runtime"):
        (base / folder).mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "JUPYTERHUB_USER"}
    env.update(WORKBENCH_DB_URL=f"sqlite:///{base / 'wb.db'}", WORKBENCH_DATA_DIR=str(base / "data"),
               JUPYTER_CONFIG_DIR=str(base / "config"), JUPYTER_RUNTIME_DIR=str(base / "runtime"),
               PYTHONPATH=str(REPO))
    store = open_store(env["WORKBENCH_DB_URL"])
    lab = f"lab-{kind}"
    catalog.register(store, load_course(root / "course"))
    source = catalog.lab_notebook(store, "bench", lab)
    found = autograde.discover(root / "submitted", lab, source.name)
    token, port = secrets.token_hex(16), free_port()
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "server", "--no-browser", f"--ServerApp.port={port}",
                               "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}", "--ServerApp.allow_root=True",
                               f"--ServerApp.root_dir={base / 'srv'}",
                               "--ServerApp.jpserver_extensions={'workbench.server': True}"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}/workbench/api/v1/"
    try:
        wait_healthy(api, token, server)
        # registered once the server runs: it would grade at its start what it finds queued (a restart's resume)
        autograde.register_found(store, "bench", lab, found, base / "data", autograde.source_digest(source))
        runs: list[float] = []
        records: list[dict[str, Any]] = []
        for i in range(1 + repeat):
            before = len(hub_call("GET", api + "grading/workers", None, token)[1]["runs"])
            start = time.perf_counter()
            status, body = hub_call("POST", api + "autograde", {"course": "bench", "lab": lab, "force": i > 0,
                                                                 "workers": workers}, token)
            if status != 202 or len(body["queued"]) != len(found):
                raise SystemExit(f"POST autograde answered {status}: {body}")
            # polled at a twentieth of the time so far (20 ms to 250 ms): the end is seen within ~5 %, and the
            # polls (each a request the server answers while it grades) cost it no more than that either
            while len(done := hub_call("GET", api + "grading/workers", None, token)[1]["runs"]) == before:
                time.sleep(min(0.25, max(0.02, (time.perf_counter() - start) / 20)))
            runs.append(round(time.perf_counter() - start, 2))
            records.append(done[-1])
        if any(r["graded"] != len(found) for r in records):
            raise SystemExit(f"the service did not grade the whole class: {records}")
        warm = [r["workers"] for r in records[1:]]
        return {"service_first_s": runs[0], "service_first_workers": records[0]["workers"],
                "service_s": statistics.median(runs[1:]), "service_runs_s": runs[1:],
                "service_server_s": statistics.median(r["seconds"] for r in records[1:]),  # the server's own timing
                "service_started_warm": sum(w["started"] + w["cloned"] for w in warm)}
    finally:
        server.terminate()
        server.wait(timeout=60)


def run(kind: str, n: int, workers: int, nbgrader_n: int, cold_n: int, repeat: int,
        service: bool) -> dict[str, Any]:
    """One lab: workbench on ``n`` submissions ``repeat`` times (the median counts: one run of a few
    seconds is at the mercy of this shared VM's neighbours, while nbgrader's minutes average them
    out), the cold floor for the same ``n`` (measured on ``cold_n``), and nbgrader on ``nbgrader_n``
    (0: not run). nbgrader runs one kernel per submission, one after another, so its time is linear
    in n; when ``nbgrader_n < n`` its time at ``n`` is extrapolated and marked so (its own start-up,
    paid once, is then counted n / nbgrader_n times: in its disfavour)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp:
        root = Path(tmp)
        build(root, kind, n)
        runs = [round(workbench_time(root, kind, workers), 2) for _ in range(repeat)]
        ours = statistics.median(runs)
        result: dict[str, Any] = {"lab": kind, "n": n, "workers": workers, "workbench_s": ours,
                                  "workbench_runs_s": runs, "workbench_ms_per_sub": round(1000 * ours / n, 1)}
        if service:
            result.update(service_times(root, kind, workers, repeat))
        if cold_n:
            result["cold_n"] = min(cold_n, n)
            result["cold_floor_s"] = round(cold_floor(root, kind, os.cpu_count() or 1, cold_n), 2)
        if nbgrader_n:
            theirs = nbgrader_time(kind, nbgrader_n)
            at_n = theirs * n / nbgrader_n
            result.update(nbgrader_n=nbgrader_n, nbgrader_s=round(theirs, 2),
                          nbgrader_ms_per_sub=round(1000 * theirs / nbgrader_n, 1),
                          nbgrader_at_n_s=round(at_n, 1), nbgrader_extrapolated=nbgrader_n != n,
                          speedup=round(at_n / ours, 1), speedup_worst=round(at_n / max(runs), 1))
            if service:
                result.update(service_speedup=round(at_n / result["service_s"], 1),
                              service_speedup_worst=round(at_n / max(result["service_runs_s"]), 1),
                              service_first_speedup=round(at_n / result["service_first_s"], 1))
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="submissions per lab (default 200)")
    parser.add_argument("--nbgrader-n", type=int, help="submissions nbgrader grades (default --n); fewer saves "
                        "minutes: its time is linear in n and is then extrapolated to --n (marked '*')")
    parser.add_argument("--lab", action="append", choices=("numpy", "torch"), help="repeatable; default both")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="grading workers, CLI and service (default: the product's, two per core)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="workbench runs per lab, each into a fresh store; the median counts (default 3)")
    parser.add_argument("--skip-nbgrader", action="store_true", help="only workbench and the cold floor")
    parser.add_argument("--skip-cold", action="store_true", help="no cold-floor measurement")
    parser.add_argument("--skip-service", action="store_true", help="no service path (running server, warm pool)")
    parser.add_argument("--cold-n", type=int, help="notebooks the cold floor runs (default --n); each is its own "
                        "process, so fewer are scaled linearly to --n")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    nbgrader_n = 0 if args.skip_nbgrader else (args.nbgrader_n or args.n)
    rows = [run(kind, args.n, args.workers, nbgrader_n, 0 if args.skip_cold else (args.cold_n or args.n),
                max(1, args.repeat), not args.skip_service) for kind in (args.lab or ["numpy", "torch"])]
    print(f"{'lab':6} {'n':>5} {'workbench s':>12} {'runs s':>18} {'ms/sub':>7} {'nbgrader n':>11} {'nbgrader s':>11} "
          f"{'ms/sub':>7} {'nbgrader s @n':>14} {'speedup':>8} {'worst run':>10} {'cold floor s':>13}")
    for r in rows:
        mark = "*" if r.get("nbgrader_extrapolated") else ""
        runs = "/".join(f"{t:g}" for t in r["workbench_runs_s"])
        print(f"{r['lab']:6} {r['n']:>5} {r['workbench_s']:>12} {runs:>18} {r['workbench_ms_per_sub']:>7} "
              f"{r.get('nbgrader_n', '-'):>11} {r.get('nbgrader_s', '-'):>11} {r.get('nbgrader_ms_per_sub', '-'):>7} "
              f"{str(r.get('nbgrader_at_n_s', '-')) + mark:>14} {r.get('speedup', '-'):>8} "
              f"{r.get('speedup_worst', '-'):>10} {r.get('cold_floor_s', '-'):>13}")
    if not args.skip_service:
        print(f"\nservice path: {'lab':6} {'n':>5} {'first run s':>12} {'speedup':>8} {'warm s':>7} "
              f"{'warm runs s':>18} {'speedup':>8} {'worst run':>10} {'starts in warm runs':>20}")
        for r in rows:
            runs = "/".join(f"{t:g}" for t in r["service_runs_s"])
            print(f"{'':14}{r['lab']:6} {r['n']:>5} {r['service_first_s']:>12} "
                  f"{r.get('service_first_speedup', '-'):>8} {r['service_s']:>7} {runs:>18} "
                  f"{r.get('service_speedup', '-'):>8} {r.get('service_speedup_worst', '-'):>10} "
                  f"{r['service_started_warm']:>20}")
    if any(r.get("nbgrader_extrapolated") for r in rows):
        print("* nbgrader ran on fewer submissions; its time at n is extrapolated linearly (one kernel per "
              "submission, one after another)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
