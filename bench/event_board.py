"""The board of a big event at the REST API: 1,000 teams x 50 scored submissions, p50/p99 per request.

    python bench/event_board.py [--teams 1000] [--per-team 50] [--requests 300] [--postgres] [--json out.json]

Builds the event in a fresh store (SQLite in a temp dir, or with ``--postgres`` a throwaway
PostgreSQL cluster started here, analysed after the fill as autovacuum would be), inserting the
rows directly (what a weekend of scored submissions leaves), starts a personal ``jupyter server``
with the workbench extension on it and times, one request at a time over loopback HTTP:
``GET events/<id>/board`` between scores (the board the server rendered last, after its version
probe), the same right after a new score (each request follows an update of one row's scoring
time, not timed: the server folds that row into each team's kept best and renders again), and, as
the peer in the same run, ``GET health`` (the API's floor: token check, JSON, one tiny store read).
The ratio to ``health`` is what the board itself costs. Goal: board p50 under 20 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fixtures.hub import hub_call, wait_healthy  # noqa: E402
from tests.integration.hackathon.tiny_event import Spec, write  # noqa: E402
from workbench.hackathon import catalog  # noqa: E402
from workbench.loopback import free_port  # noqa: E402
from workbench.store import Store  # noqa: E402
from workbench.store import events_models as e  # noqa: E402


def populate(store: Store, event_id: str, teams: int, per_team: int, opens: datetime) -> None:
    rng = random.Random(7)
    with store.session() as s:
        s.execute(e.Team.__table__.insert(), [  # type: ignore[attr-defined]
            {"event_id": event_id, "team_id": f"team{t:04d}", "name": f"Team {t}", "created": opens}
            for t in range(teams)])
        s.execute(e.TeamMember.__table__.insert(), [  # type: ignore[attr-defined]
            {"event_id": event_id, "user": f"user{t:04d}", "team_id": f"team{t:04d}", "joined": opens}
            for t in range(teams)])
        rows = []
        for t in range(teams):
            for n in range(per_team):
                public = round(rng.random(), 3)  # 3 decimals: many ties, as real accuracy boards have
                rows.append({"event_id": event_id, "team_id": f"team{t:04d}", "member": f"user{t:04d}",
                             "kind": "predictions", "phase": "main",
                             "created": opens + timedelta(seconds=t * per_team + n),
                             "sha256": "0" * 64, "path": "/nonexistent", "size": 1, "status": "scored", "reason": "",
                             "attempts": 1, "scored": opens, "public_score": public,
                             "private_score": round(rng.random(), 3), "chosen": False, "final": False})
        s.execute(e.EventSubmission.__table__.insert(), rows)  # type: ignore[attr-defined]


def timed(url: str, token: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        status, _body = hub_call("GET", url, None, token)
        times.append((time.perf_counter() - start) * 1000)
        assert status == 200, (url, status, _body)
    return times


def timed_after_scores(url: str, token: str, count: int, store: Store, event_id: str) -> list[float]:
    from sqlalchemy import update

    from workbench.store.models import utcnow

    times: list[float] = []
    for n in range(count):
        rescore = update(e.EventSubmission).where(e.EventSubmission.event_id == event_id,
                                                  e.EventSubmission.id == n + 1).values(scored=utcnow())
        store.write(lambda s, stmt=rescore: s.execute(stmt))  # type: ignore[misc]
        times += timed(url, token, 1)
    return times


def summary(name: str, times: list[float], floor: float) -> dict[str, Any]:
    ordered = sorted(times)
    p50 = statistics.median(ordered)
    return {"request": name, "n": len(ordered), "p50_ms": round(p50, 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
            "x_health": round(p50 / floor, 1)}


def run(teams: int, per_team: int, requests: int, postgres: bool) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="wb-board-"))
    url = f"sqlite:///{work / 'workbench.db'}"
    if postgres:
        from workbench.service.trial import start_postgres

        os.chmod(work, 0o755)  # the postgres account runs the cluster under it
        url = start_postgres(work / "state", free_port())
    store = Store(url)
    store.upgrade()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    event = catalog.load(write(work / "events", Spec(opens=now - timedelta(days=2), closes=now + timedelta(days=1),
                                                     event_id="big")))
    catalog.register(store, event)
    started = time.perf_counter()
    populate(store, event.id, teams, per_team, event.opens)
    if postgres:  # what autovacuum does within a minute of such a fill: table statistics for the planner
        from sqlalchemy import text

        with store.engine.connect() as conn:
            conn.execute(text("ANALYZE event_submissions"))
            conn.commit()
    filled = time.perf_counter() - started
    token, port = secrets.token_hex(16), free_port()
    env = {**os.environ, "WORKBENCH_DB_URL": url, "WORKBENCH_DATA_DIR": str(work / "data"),
           "JUPYTER_CONFIG_DIR": str(work / "jcfg"), "JUPYTER_RUNTIME_DIR": str(work / "jrt"),
           "JUPYTERHUB_USER": "user0001"}
    log = open(work / "server.log", "wb")  # noqa: SIM115 - lives with the server
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "server", "--no-browser", f"--ServerApp.port={port}",
                               "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}", "--ServerApp.allow_root=True",
                               f"--ServerApp.root_dir={work}", "--Workbench.default_role=student",
                               "--ServerApp.jpserver_extensions={'workbench.server': True}"],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    api = f"http://127.0.0.1:{port}/workbench/api/v1/"
    try:
        wait_healthy(api, token, server)
        board = hub_call("GET", api + "events/big/board", None, token)[1]
        assert len(board["rows"]) == teams + 1, len(board["rows"])
        timed(api + "events/big/board", token, 20)  # warm: the event's YAML and the hidden set are cached
        health = timed(api + "health", token, requests)
        public = timed(api + "events/big/board", token, requests)
        missed = timed_after_scores(api + "events/big/board", token, requests, store, event.id)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if postgres:
            from workbench.service.trial import hub_cluster

            hub_cluster(work / "state").stop("fast")
    floor = statistics.median(health)
    return {"store": store.kind, "teams": teams, "per_team": per_team, "rows": teams * per_team,
            "fill_s": round(filled, 1), "machine": f"{platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
            "results": [summary("GET health (peer)", health, floor),
                        summary("GET events/big/board (between scores)", public, floor),
                        summary("GET events/big/board (after a new score)", missed, floor)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, default=1000)
    parser.add_argument("--per-team", type=int, default=50)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL cluster (default: SQLite)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    result = run(args.teams, args.per_team, args.requests, args.postgres)
    print(f"{result['store']}: {result['teams']} teams x {result['per_team']} submissions = {result['rows']} rows "
          f"(filled in {result['fill_s']} s); {result['machine']}")
    print(f"{'request':44} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'x health':>9}")
    for row in result["results"]:
        print(f"{row['request']:44} {row['n']:5} {row['p50_ms']:8} {row['p99_ms']:8} {row['x_health']:9}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
