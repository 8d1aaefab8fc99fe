"""``make hub``'s own PostgreSQL cluster (``trial.start_postgres``): password login only, kept across runs.

Runs as root, as ``make hub`` does (the cluster runs as the ``postgres`` account); skipped, saying
why, when not root or when PostgreSQL cannot run here (the same reasons the postgres fixture gives).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from workbench.loopback import free_port
from workbench.service.postgres_cluster import PostgresUnavailable
from workbench.service.trial import hub_cluster, start_postgres

# What a student logged in on the center's machine tries, as their own account: read the stored
# password, then log in as the superuser without one, over TCP and over the cluster's Unix socket.
STUDENT = """
import json, sys
import psycopg

state, port = sys.argv[1], int(sys.argv[2])
tried = {}
try:
    tried["password file"] = open(state + "/db-password").read()
except OSError as error:
    tried["password file"] = f"refused: {error}"
for name, host in (("tcp", "127.0.0.1"), ("socket", state + "/pg")):
    try:
        psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", connect_timeout=5).close()
        tried[name] = "connected"
    except psycopg.OperationalError as error:
        tried[name] = f"refused: {error}"
print(json.dumps(tried))
"""


@pytest.fixture
def hub_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, int]]:
    """A state directory that does not exist yet, in one laid out as ``make hub``'s checkout (root's,
    others may pass through), and a free port; the cluster started there is stopped and removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("make hub runs as root (its cluster runs as the 'postgres' account); run this test as root")
    base, port = Path(tempfile.mkdtemp(prefix="wb-hub-pg-")), free_port()
    base.chmod(0o711)
    state = base / "state"  # not made yet: start_postgres makes it
    try:
        cluster = hub_cluster(state, port)
    except PostgresUnavailable as error:
        shutil.rmtree(base)
        pytest.skip(error.message)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(base / "no-pgpass"))
    try:
        yield state, port
    finally:
        cluster.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


def _plain(url: str) -> str:
    return url.replace("+psycopg", "")


def test_the_url_logs_in_with_its_password_and_nobody_gets_in_without_it(hub_state: tuple[Path, int]) -> None:
    state, port = hub_state
    url = start_postgres(state, port)
    password = (state / "db-password").read_text()
    assert url == f"postgresql+psycopg://postgres:{password}@127.0.0.1:{port}/postgres"
    assert (state / "db-password").stat().st_mode & 0o777 == 0o600
    with psycopg.connect(_plain(url)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)

    for host in ("127.0.0.1", str(state / "pg")):  # even root, over TCP or the socket, needs the password
        with pytest.raises(psycopg.OperationalError, match="no password supplied"):
            psycopg.connect(host=host, port=port, user="postgres", dbname="postgres")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", password=password + "x")

    student = subprocess.run(["runuser", "-u", "nobody", "--", "env", "-i", "HOME=/nonexistent", sys.executable,
                              "-c", STUDENT, str(state), str(port)], capture_output=True, text=True, check=True)
    tried = json.loads(student.stdout)
    assert tried["password file"].startswith("refused: [Errno 13] Permission denied"), tried
    assert tried["tcp"].startswith("refused:") and "no password supplied" in tried["tcp"], tried
    assert tried["socket"].startswith("refused:") and password not in json.dumps(tried), tried


def test_a_second_run_reuses_the_cluster_and_its_password(hub_state: tuple[Path, int]) -> None:
    state, port = hub_state
    url = start_postgres(state, port)
    with psycopg.connect(_plain(url), autocommit=True) as conn:
        conn.execute("CREATE DATABASE kept")
    initialized = (state / "pg" / "PG_VERSION").stat().st_mtime_ns

    assert start_postgres(state, port) == url  # running: left as it is
    hub_cluster(state, port).stop()  # the machine restarted: the next `make hub` starts it again
    assert not hub_cluster(state, port).running()
    assert start_postgres(state, port) == url

    assert (state / "pg" / "PG_VERSION").stat().st_mtime_ns == initialized
    with psycopg.connect(_plain(url)) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'kept'").fetchone() == (1,)
