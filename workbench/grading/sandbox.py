"""Run the student's code in a bubblewrap sandbox: private mount, PID, network and IPC namespaces,
an unprivileged uid, rlimits, a private working directory, and a kill that reaches every descendant.

Why bubblewrap and not a home-made sandbox: it is Debian's maintained, audited tool for exactly this.
What it is given (see ../shared/notes/sandbox.md for the measurements behind each choice):
- ``--unshare-all`` (no network: a fresh loopback only) and ``--die-with-parent``; the outer bwrap is
  killed with SIGKILL at the end, which tears down the PID namespace, ``setsid`` children included.
- as root, no user namespace; ``setpriv`` drops to a per-sandbox uid with no capabilities and
  no-new-privs, so a read-only bind cannot be remounted writable and RLIMIT_NPROC is enforced.
- read-only: the Python installation, the virtual environment, system libraries, the inside runner
  (one file), the lab's data. Writable: a size-limited tmpfs for /tmp and /dev/shm and the private
  working directory holding a copy of the submission. Nothing else of the host — in particular no
  source notebook: hidden tests only ever travel through the command pipe, one cell at a time.
- secrets never go on bwrap's command line (it is readable at /proc/1/cmdline inside).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from workbench.errors import WorkbenchError

INSIDE_RUNNER = Path(__file__).with_name("_inside.py")
TEMP_PREFIX = "workbench-sandbox-"
UID_BASE = 200_000


class SandboxUnavailable(WorkbenchError):
    """bubblewrap is missing: grading refuses to run student code with the grader's rights."""


@dataclass
class Limits:
    """Per-submission limits. memory_mb bounds the address space (a bomb becomes MemoryError)."""

    cell_timeout: float = 30.0
    total_timeout: float = 300.0
    memory_mb: int = 2048
    output_bytes: int = 1 << 20
    cpu_seconds: int = 600
    file_mb: int = 64
    open_files: int = 256
    processes: int = 128
    tmp_mb: int = 256

    @classmethod
    def for_lab(cls, lab: dict[str, float], **overrides: float) -> Limits:
        """The lab's limits from its course (course.yaml `grading:`), then explicit overrides; a
        submission always gets at least one cell's time in all."""
        values: dict[str, Any] = {**lab, **overrides}
        for name in ("memory_mb", "cpu_seconds", "file_mb", "tmp_mb", "output_bytes", "open_files", "processes"):
            if name in values:
                values[name] = int(values[name])
        limits = cls(**values)
        limits.total_timeout = max(limits.total_timeout, limits.cell_timeout)
        return limits


@dataclass
class SandboxSpec:
    """What one sandboxed process gets: its limits, files to place in its workdir, data to show."""

    limits: Limits = field(default_factory=Limits)
    files: dict[str, bytes] = field(default_factory=dict)
    data_dir: Path | None = None
    preload: tuple[str, ...] = ()
    unsafe_no_sandbox: bool = False
    # Who starts the process: None is a cold bwrap per sandbox; a warm worker (warm.py) forks one.
    launcher: Callable[[SandboxSpec], SandboxProcess] | None = None


class SandboxProcess(Protocol):
    """What the runner needs of a started sandbox: its two pipe ends, liveness, a kill, a status."""

    to_child: int
    from_child: int

    def start(self) -> None: ...

    def alive(self) -> bool: ...

    def kill(self) -> None: ...

    def exit_status(self) -> int | None: ...


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def require_sandbox(unsafe: bool) -> None:
    """Refuse to grade without bubblewrap unless the instructor explicitly accepted the risk."""
    if bwrap_path() is None and not unsafe:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, so student code would run with your own rights; "
            "install it (apt-get install bubblewrap) or pass --unsafe-no-sandbox to accept that risk"
        )


def sweep_stale(max_age_s: float = 3600.0) -> None:
    """Remove host-side sandbox directories left behind by a crashed grader."""
    base = Path(tempfile.gettempdir())
    for path in base.glob(TEMP_PREFIX + "*"):
        try:
            if time.time() - path.stat().st_mtime > max_age_s:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


def _sandbox_uid() -> int:
    """A uid no other live sandbox uses (RLIMIT_NPROC is counted per uid across the machine)."""
    return UID_BASE + os.getpid() % 100_000 * 8 + _sandbox_uid.counter % 8  # type: ignore[attr-defined]


_sandbox_uid.counter = 0  # type: ignore[attr-defined]


def _ro_paths() -> list[str]:
    """Host paths the student's Python needs, read-only: system dirs, the interpreter, the venv, and the
    workbench package itself (labs import ``workbench.labs``; an editable install keeps it outside the venv)."""
    package = str(Path(__file__).resolve().parents[1])
    wanted = ["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/alternatives", "/etc/ld.so.cache",
              "/etc/ssl", "/etc/localtime", sys.base_prefix, sys.prefix, package]
    return [p for p in dict.fromkeys(wanted) if os.path.exists(p)]


SANDBOX_ENV = ["--hostname", "sandbox", "--clearenv",
               "--setenv", "HOME", "/home/student", "--setenv", "PATH", f"{sys.prefix}/bin:/usr/bin:/bin",
               "--setenv", "LANG", "C.UTF-8", "--setenv", "IPYTHONDIR", "/tmp/ipython",
               "--setenv", "MPLCONFIGDIR", "/tmp/mpl", "--setenv", "MPLBACKEND", "agg",
               "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1",
               "--setenv", "MKL_NUM_THREADS", "1", "--setenv", "PYTHONDONTWRITEBYTECODE", "1"]


def bwrap_view(lim: Limits) -> list[str]:
    """bwrap's namespaces and file view shared by cold sandboxes and warm workers: read-only system
    and Python, size-limited /tmp and /dev/shm, an empty /opt/workbench and /home; no host secrets
    (``--clearenv``: the grader's environment, store URL included, never reaches student code)."""
    argv = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(lim.tmp_mb << 20), "--tmpfs", "/tmp",
            "--perms", "1777", "--size", str(16 << 20), "--tmpfs", "/dev/shm"]
    made: set[str] = set()
    for path in _ro_paths():
        for parent in reversed(Path(path).parents):
            if str(parent) != "/" and str(parent) not in made:
                made.add(str(parent))
                argv += ["--perms", "0755", "--dir", str(parent)]
        argv += ["--ro-bind", path, path]
    return [*argv, "--perms", "0755", "--dir", "/opt/workbench", "--perms", "0755", "--dir", "/home"]


class Sandbox:
    """One sandboxed inside-runner process; ``start`` launches it, ``kill`` removes every trace."""

    def __init__(self, spec: SandboxSpec) -> None:
        self.spec = spec
        self.proc: subprocess.Popen[bytes] | None = None
        self.host_dir: Path | None = None
        self.to_child: int = -1
        self.from_child: int = -1

    def _argv(self, uid: int, child_in: int, child_out: int) -> list[str]:
        lim = self.spec.limits
        runner = [sys.executable, "-I", "-B", "/opt/workbench/inside.py",
                  str(child_in), str(child_out), str(lim.output_bytes), ",".join(self.spec.preload)]
        if self.spec.unsafe_no_sandbox and bwrap_path() is None:
            runner[3] = str(INSIDE_RUNNER)
            return runner
        assert self.host_dir is not None
        # No user namespace: as root that would keep capabilities; setpriv drops to a real uid instead.
        argv = bwrap_view(lim)
        argv += ["--ro-bind", str(INSIDE_RUNNER), "/opt/workbench/inside.py",
                 "--bind", str(self.host_dir / "work"), "/home/student"]
        if self.spec.data_dir is not None:
            argv += ["--ro-bind", str(self.spec.data_dir), "/home/student/data"]
        argv += ["--chdir", "/home/student", *SANDBOX_ENV]
        if os.geteuid() == 0:
            argv += ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                     "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"]
        else:
            argv += ["--cap-drop", "ALL", "--"]
        return argv + runner

    def _limit(self) -> None:
        """Runs in the child before exec: rlimits that every descendant inherits."""
        lim = self.spec.limits
        mem = lim.memory_mb << 20
        for res, value in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_CPU, lim.cpu_seconds),
                           (resource.RLIMIT_FSIZE, lim.file_mb << 20), (resource.RLIMIT_NOFILE, lim.open_files),
                           (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(res, (value, value))
        if os.geteuid() == 0:
            resource.setrlimit(resource.RLIMIT_NPROC, (lim.processes, lim.processes))
        os.setsid()

    def start(self) -> None:
        _sandbox_uid.counter += 1  # type: ignore[attr-defined]
        uid = _sandbox_uid()
        self.host_dir = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        work = self.host_dir / "work"
        work.mkdir()
        for name, content in self.spec.files.items():
            (work / Path(name).name).write_bytes(content)
        if os.geteuid() == 0:
            for path in (work, *work.iterdir()):
                os.chown(path, uid, uid)
        child_in, self.to_child = os.pipe()
        self.from_child, child_out = os.pipe()
        try:
            self.proc = subprocess.Popen(
                self._argv(uid, child_in, child_out), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(child_in, child_out),
                preexec_fn=self._limit, cwd=str(work), close_fds=True,
            )
        finally:
            os.close(child_in)
            os.close(child_out)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_status(self) -> int | None:
        return self.proc.wait(timeout=5) if self.proc is not None else None

    def kill(self) -> None:
        """SIGKILL the process group; bwrap's PID namespace dies with it, setsid children included."""
        for fd in (self.to_child, self.from_child):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.to_child = self.from_child = -1
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.host_dir is not None:
            shutil.rmtree(self.host_dir, ignore_errors=True)
            self.host_dir = None
