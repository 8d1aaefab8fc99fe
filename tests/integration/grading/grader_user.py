"""Run the ``workbench`` CLI as a real, normal Unix user: the grader of a center that does not grade
as root. Under root (CI) that is a system user made once (``useradd --system``) and reached through
``runuser``; when the tests already run as a normal user, that user itself, directly.

The grader gets a workspace of its own in the host's /tmp (pytest's temporary folders belong to root
and are closed to others): its HOME, TMPDIR, store, data and Jupyter folders, so whatever grading
leaves on the host is visible there.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

USER = "wb-grader-test"
REPO = Path(__file__).resolve().parents[3]


def _account() -> tuple[pwd.struct_passwd, list[str]]:
    """The grader's account and the command prefix that runs as it (made here when root)."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.getuid()), []
    try:
        account = pwd.getpwnam(USER)
    except KeyError:
        made = subprocess.run(["useradd", "--system", "--create-home", USER], capture_output=True, text=True)
        if made.returncode not in (0, 9):  # 9: made meanwhile by a concurrent run
            raise RuntimeError(f"useradd {USER} failed: {made.stderr.strip()}") from None
        account = pwd.getpwnam(USER)
    return account, ["runuser", "-u", USER, "--"]


@dataclass
class Grader:
    uid: int
    gid: int
    work: Path
    prefix: list[str]

    @classmethod
    def make(cls) -> Grader:
        account, prefix = _account()
        work = Path(tempfile.mkdtemp(prefix="wb-grader-"))
        grader = cls(account.pw_uid, account.pw_gid, work, prefix)
        for sub in ("home", "tmp", "data", "jupyter/config", "jupyter/data", "jupyter/runtime"):
            (work / sub).mkdir(parents=True, exist_ok=True)
        grader.own()
        return grader

    @property
    def home(self) -> Path:
        return self.work / "home"

    @property
    def tmp(self) -> Path:
        return self.work / "tmp"

    @property
    def store(self) -> Path:
        return self.work / "store.db"

    def own(self) -> None:
        """Hand everything the test wrote in the workspace to the grader."""
        if os.geteuid() == 0:
            for path in [self.work, *self.work.rglob("*")]:
                os.lchown(path, self.uid, self.gid)

    def env(self) -> dict[str, str]:
        return {"HOME": str(self.home), "TMPDIR": str(self.tmp), "PATH": os.environ.get("PATH", os.defpath),
                "LANG": "C.UTF-8", "PYTHONPATH": str(REPO), "WORKBENCH_DB_URL": f"sqlite:///{self.store}",
                "WORKBENCH_DATA_DIR": str(self.work / "data"),
                "JUPYTER_CONFIG_DIR": str(self.work / "jupyter/config"),
                "JUPYTER_DATA_DIR": str(self.work / "jupyter/data"),
                "JUPYTER_RUNTIME_DIR": str(self.work / "jupyter/runtime")}

    def command(self, *args: str, wrap: Sequence[str] = ()) -> list[str]:
        """``workbench ARGS`` as the grader, with exactly ``env()`` (``wrap`` goes before it)."""
        env = [f"{key}={value}" for key, value in self.env().items()]
        return [*self.prefix, *wrap, "env", "-i", *env, sys.executable, "-m", "workbench.cli", *args]

    def cli(self, *args: str, wrap: Sequence[str] = (), timeout: float = 300) -> subprocess.CompletedProcess[str]:
        self.own()
        return subprocess.run(self.command(*args, wrap=wrap), cwd=self.work, capture_output=True, text=True,
                              timeout=timeout)

    def leftovers(self, settle_s: float = 5.0) -> list[str]:
        """Live processes of the grader's uid that grading left behind (``ps`` lines), after giving
        killed ones ``settle_s`` to go. Zombies do not count: a sandbox's PID 1 outlives its killed
        parent only as an exit status for the host's init to collect."""
        deadline = time.monotonic() + settle_s
        while True:
            listing = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-u", str(self.uid)], capture_output=True,
                                     text=True).stdout.splitlines()
            live = [line for line in listing if not line.split()[1].startswith("Z")]
            if os.geteuid() != 0:  # the tests' own uid: only sandbox processes (they run files from /opt)
                live = [line for line in live if "/opt/workbench/" in line]
            if not live or time.monotonic() > deadline:
                return live
            time.sleep(0.2)

    def remove(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
