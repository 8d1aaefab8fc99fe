"""Running a PostgreSQL cluster of our own: ``initdb`` + ``pg_ctl`` on a data directory, on loopback.

Three places need one: the tests (a throwaway server per session, or per test that restarts it),
the latency bench (a throwaway server with its own settings) and ``make hub`` (a persistent,
password-protected cluster under ``.hub/pg``). What they share lives here, once: where the binaries
are, which account runs the server (PostgreSQL refuses root, so as root it is the ``postgres``
account via ``runuser``; as anyone else, that user), how ``pg_ctl`` is called, and what to install
when PostgreSQL cannot run here. Each caller keeps its own authentication and server settings.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.loopback import free_port

INSTALL = "as root, apt-get install postgresql (or `make system-packages`)"


class PostgresUnavailable(WorkbenchError):
    """PostgreSQL cannot run on this machine as it is: its binaries or the account to run it as is missing."""


class ClusterError(WorkbenchError):
    """``initdb`` or ``pg_ctl start`` failed; the message carries PostgreSQL's own words."""


def postgres_bindir() -> Path | None:
    """The newest Debian PostgreSQL's binaries (versions compared as numbers), else initdb's on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def server_account() -> pwd.struct_passwd | None:
    """The account the server runs as when we are root (``postgres``), None when we are not (ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable("running as root and there is no 'postgres' account to run PostgreSQL as "
                                  f"(it refuses root): {INSTALL}, which makes the account; or run as a normal "
                                  "user") from None


def _require_bindir() -> Path:
    """postgres_bindir, or the error saying what to install."""
    bindir = postgres_bindir()
    if bindir is None:
        raise PostgresUnavailable(f"PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH): "
                                  f"{INSTALL}")
    return bindir


@dataclass(frozen=True)
class Cluster:
    """One data directory and how its server runs: on ``127.0.0.1:port``, its Unix socket in
    ``socket_dir``, its log in ``log`` and ``settings`` as ``-c name=value`` server options.
    Made without ``bindir`` and ``account``, it finds them, raising PostgresUnavailable when it cannot."""

    data: Path
    port: int
    socket_dir: Path
    log: Path
    settings: Mapping[str, str] = field(default_factory=dict)
    bindir: Path = field(default_factory=_require_bindir)
    account: pwd.struct_passwd | None = field(default_factory=server_account)

    def url(self, database: str | None = None, password: str | None = None) -> str:
        """The SQLAlchemy URL of ``database`` (none: the server's, for callers that append one) as the
        superuser ``postgres`` over loopback TCP."""
        user = f"postgres:{password}" if password is not None else "postgres"
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}" + (f"/{database}" if database else "")

    def give(self, path: Path) -> None:
        """Make ``path`` the server account's, so the server can write there (a no-op when it runs as us)."""
        if self.account is not None:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def initialized(self) -> bool:
        """Whether initdb has made this data directory (a persistent cluster is made once, then reused)."""
        return (self.data / "PG_VERSION").exists()

    def init(self, auth: str, password: str | None = None, sync: bool = True) -> None:
        """``initdb`` with superuser ``postgres`` and ``auth`` for every connection (``trust``, ``md5``);
        ``password`` is the superuser's, passed in a file only the server's account can read.
        ``sync=False`` skips the final fsync (throwaway clusters)."""
        self.data.mkdir(parents=True, exist_ok=True)
        self.give(self.data)
        args = ["-D", str(self.data), "-U", "postgres", "-A", auth] + ([] if sync else ["--no-sync"])
        if password is None:
            self._run("initdb", *args)
            return
        fd, name = tempfile.mkstemp(prefix="wb-pw-")
        try:
            os.write(fd, password.encode())
            os.close(fd)
            self.give(Path(name))
            self._run("initdb", *args, f"--pwfile={name}")
        finally:
            os.unlink(name)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._pg_ctl("-w", "start")

    def restart(self) -> None:
        """Stop (``fast``: every client connection is closed) and start the server again."""
        self._pg_ctl("-m", "fast", "-w", "restart")

    def running(self) -> bool:
        """Whether a server runs on this data directory (``pg_ctl status``), so a reused cluster is not
        started twice."""
        return self._command("pg_ctl", "-D", str(self.data), "status").returncode == 0

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: checkpoint first; ``immediate``: none); nothing if it is not running."""
        self._command("pg_ctl", "-D", str(self.data), "-m", mode, "stop")

    def _pg_ctl(self, *args: str) -> None:
        options = " ".join([f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1",
                            *(f"-c {name}={value}" for name, value in self.settings.items())])
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), *args)

    def _run(self, program: str, *args: str) -> None:
        done = self._command(program, *args)
        if done.returncode != 0:
            said = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise ClusterError(f"PostgreSQL's {program} failed on {self.data} (port {self.port}; "
                               f"server log {self.log}): {said}")

    def _command(self, program: str, *args: str) -> subprocess.CompletedProcess[bytes]:
        prefix = ["runuser", "-u", self.account.pw_name, "--"] if self.account is not None else []
        return subprocess.run([*prefix, str(self.bindir / program), *args], capture_output=True)


@contextmanager
def throwaway_cluster(settings: Mapping[str, str], prefix: str = "wb-pg-") -> Iterator[Cluster]:
    """A started cluster in a new temporary directory on a free port, ``trust`` authentication (no
    password: whoever reaches loopback is let in, acceptable for data that is deleted afterwards),
    stopped and removed on exit. Raises PostgresUnavailable before creating anything."""
    bindir, account = _require_bindir(), server_account()
    base = Path(tempfile.mkdtemp(prefix=prefix))
    cluster = Cluster(base / "data", free_port(), base, base / "log", settings, bindir, account)
    try:
        cluster.give(base)
        cluster.init("trust", sync=False)
        cluster.start()
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
