"""workbench.service.postgres_cluster on a real PostgreSQL: a throwaway cluster's settings and
cleanup, a start that fails naming its log, and what is said when PostgreSQL cannot run here
(a bubblewrap view of this machine without the binaries, or without the ``postgres`` account).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from workbench.loopback import free_port
from workbench.service.postgres_cluster import (
    Cluster,
    ClusterError,
    PostgresUnavailable,
    throwaway_cluster,
)

REPO = Path(__file__).resolve().parents[3]
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
THROWAWAY = "from workbench.service.postgres_cluster import throwaway_cluster\nwith throwaway_cluster({}): pass\n"


def _plain(url: str) -> str:
    return url.replace("+psycopg", "")


def test_a_throwaway_cluster_runs_with_its_settings_and_leaves_nothing_behind(postgres_server: str) -> None:
    with throwaway_cluster({"max_connections": "37", "synchronous_commit": "off"}, prefix="wb-pg-test-") as cluster:
        with psycopg.connect(_plain(cluster.url("postgres"))) as conn:
            assert conn.execute("SHOW max_connections").fetchone() == ("37",)
            assert conn.execute("SHOW synchronous_commit").fetchone() == ("off",)
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        runs_as = cluster.account.pw_uid if cluster.account is not None else os.geteuid()
        assert cluster.data.stat().st_uid == runs_as != 0  # never root: PostgreSQL refuses it
    assert not cluster.data.parent.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(_plain(cluster.url("postgres")), connect_timeout=3)
    with psycopg.connect(_plain(postgres_server) + "/postgres") as conn:  # the tests' fixture's settings
        assert conn.execute("SHOW max_connections").fetchone() == ("200",)
        assert conn.execute("SHOW fsync").fetchone() == ("off",)


def test_a_start_on_a_taken_port_fails_naming_the_port_and_the_log() -> None:
    base = Path(tempfile.mkdtemp(prefix="wb-pg-test-"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            cluster = Cluster(base / "data", port, base, base / "log")
        except PostgresUnavailable as error:
            base.rmdir()
            pytest.skip(error.message)
        try:
            cluster.give(base)
            cluster.init("trust", sync=False)
            with pytest.raises(ClusterError) as refused:
                cluster.start()
        finally:
            cluster.stop("immediate")
            shutil.rmtree(base, ignore_errors=True)
    assert f"port {port}" in refused.value.message and str(base / "log") in refused.value.message
    assert "could not start server" in refused.value.message


def _without(hidden: list[str], code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with this machine seen through bubblewrap, ``hidden`` arguments applied."""
    return subprocess.run(["bwrap", "--bind", "/", "/", *hidden, "--dev", "/dev", "--proc", "/proc",
                           "--chdir", str(REPO), sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)


@needs_bwrap
def test_without_the_binaries_it_says_what_to_install_and_creates_nothing(tmp_path: Path) -> None:
    before = set(Path(tempfile.gettempdir()).glob("wb-pg-*"))
    run = _without(["--tmpfs", "/usr/lib/postgresql", "--setenv", "PATH", "/usr/bin:/bin"], THROWAWAY)
    assert run.returncode != 0
    assert "PostgresUnavailable: PostgreSQL is not installed" in run.stderr
    assert "as root, apt-get install postgresql (or `make system-packages`)" in run.stderr
    assert set(Path(tempfile.gettempdir()).glob("wb-pg-*")) == before


@needs_bwrap
def test_as_root_without_a_postgres_account_it_says_so(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the 'postgres' account is needed only by root; run this test as root")
    passwd = tmp_path / "passwd"
    passwd.write_text("".join(line for line in Path("/etc/passwd").read_text().splitlines(keepends=True)
                              if not line.startswith("postgres:")))
    run = _without(["--ro-bind", str(passwd), "/etc/passwd"], THROWAWAY)
    assert run.returncode != 0
    assert "running as root and there is no 'postgres' account to run PostgreSQL as" in run.stderr
    assert "apt-get install postgresql" in run.stderr


@needs_bwrap
def test_the_fixture_skips_with_that_message() -> None:
    run = _without(["--tmpfs", "/usr/lib/postgresql", "--setenv", "PATH", "/usr/bin:/bin"],
                   "import sys, pytest\nsys.exit(pytest.main(['tests/integration/devices/test_store_restart.py', "
                   "'-q', '-rs', '-p', 'no:cacheprovider']))")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 skipped" in run.stdout
    assert "PostgreSQL is not installed" in run.stdout and "apt-get install postgresql" in run.stdout
