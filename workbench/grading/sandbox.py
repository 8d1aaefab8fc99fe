"""Run the student's code in a bubblewrap sandbox: private mount, PID, network and IPC namespaces,
an unprivileged uid, rlimits, a size-capped home, and a kill that reaches every descendant.

Why bubblewrap and not a home-made sandbox: it is Debian's maintained, audited tool for exactly this.
What it is given (see ../shared/notes/sandbox.md for the measurements behind each choice):
- ``--unshare-all`` (no network: a fresh loopback only) and ``--die-with-parent``; the outer bwrap is
  killed with SIGKILL at the end, which tears down the PID namespace, ``setsid`` children included.
- an unprivileged identity and a process limit of its own (``identity.py``): as root, no user
  namespace and ``setpriv`` to a per-sandbox host uid; as a normal user, a user namespace in which
  the student is uid 65534 without capabilities. Either way RLIMIT_NPROC is set inside (``prlimit``).
- read-only: the Python installation and virtual environment of the labs (``lab_python.py``: the
  labs' interpreter runs the student's code, by default the grader's own), system libraries, the
  workbench package, the inside runner (one file), the lab's data. Writable: size-limited tmpfs
  mounts for /tmp, /dev/shm and the home (the working directory), the submission copied into it
  from a memfd. Nothing of the host is writable, so a full disk is the sandbox's own tmpfs (ENOSPC)
  and nothing is left on the host; in particular no source notebook: hidden tests only ever travel
  through the command pipe.
- secrets never go on bwrap's command line (it is readable at /proc/1/cmdline inside), nor in its
  environment: ``--clearenv`` clears what the runner gets, but bwrap's own init (PID 1 inside) keeps
  the environment bwrap started with in /proc/1/environ, which the student can read where PID 1 runs
  under the same uid (a user namespace): bwrap is started with an empty environment (``BWRAP_ENV``).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from workbench.grading.identity import bwrap_path, cold_identity, cold_uid
from workbench.grading.lab_python import LabPython, own

INSIDE_RUNNER = Path(__file__).with_name("_inside.py")
HOME = "/home/student"
TEMP_PREFIX = "workbench-sandbox-"  # host-side working directories of the unsandboxed (unsafe) path only


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
    tmp_mb: int = 256  # each of /tmp and the home (working directory)

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
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> bytes: the student's, writable
    released: dict[str, bytes] = field(default_factory=dict)  # the instructor's (lab_files.py), read-only
    data_dir: Path | None = None
    preload: tuple[str, ...] = ()
    unsafe_no_sandbox: bool = False
    python: LabPython = field(default_factory=own)  # the labs' interpreter (Workbench.lab_python)
    # Who starts the process: None is a cold bwrap per sandbox; a warm worker (warm.py) forks one.
    launcher: Callable[[SandboxSpec], SandboxProcess] | None = None
    # A leased accelerator (hackathon/run_device.py): its device files and the driver's control nodes,
    # bound at their host paths into the sandbox's otherwise empty /dev, and the variables that name it
    # (the visibility variable). Only a cold sandbox (``launcher`` None) honours them: warm workers
    # fork from a parent started before any lease, so a run with a device never uses the warm pool.
    devices: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


class SandboxProcess(Protocol):
    """What the runner needs of a started sandbox: its two pipe ends, liveness, a kill, a status."""

    to_child: int
    from_child: int

    def start(self) -> None: ...

    def alive(self) -> bool: ...

    def kill(self) -> None: ...

    def exit_status(self) -> int | None: ...


def sweep_stale(max_age_s: float = 3600.0) -> None:
    """Remove host-side working directories a crashed grader left behind (only the unsandboxed
    path has them: a sandbox's home is a tmpfs that ends with it)."""
    base = Path(tempfile.gettempdir())
    for path in base.glob(TEMP_PREFIX + "*"):
        try:
            if time.time() - path.stat().st_mtime > max_age_s:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


def ro_paths(python: LabPython) -> list[str]:
    """Host paths the student's Python needs, read-only: system dirs, the labs' interpreter and its
    environment, and the workbench package itself (labs import ``workbench.labs``; an editable install
    keeps it outside the venv)."""
    package = str(Path(__file__).resolve().parents[1])
    wanted = ["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/alternatives", "/etc/ld.so.cache",
              "/etc/ssl", "/etc/localtime", *python.ro_paths(), package]
    return [p for p in dict.fromkeys(wanted) if os.path.exists(p)]


BWRAP_ENV: dict[str, str] = {}  # bwrap's own environment (see the module docstring); argv[0] is its full path
# What nbgrader sets while it autogrades, so notebooks that skip slow or interactive parts when graded
# (``if os.getenv("NBGRADER_EXECUTION"): ...``) behave the same under our grader.
GRADING_ENV = {"NBGRADER_EXECUTION": "autograde"}


def safe_relative(name: str) -> str:
    """A file's path inside the sandbox's home, refused if it could point anywhere else."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")):
        raise ValueError(f"not a plain relative path for a sandbox file: {name!r}")
    return str(path)


def home_layout(files: dict[str, int], released: dict[str, int], tmp_mb: int) -> list[str]:
    """bwrap arguments that fill the home (already a tmpfs): the student's files writable, the
    instructor's read-only. A released top-level file is a read-only bind of its own; a released
    top-level folder is a small tmpfs of its own, filled and then remounted read-only, so the student
    can neither change, remove nor replace what the instructor gave (rename and unlink fail on a
    mount point)."""
    tops = sorted({rel.split("/")[0] for rel in released if "/" in rel})
    argv: list[str] = []
    for top in tops:
        argv += ["--perms", "0755", "--size", str(tmp_mb << 20), "--tmpfs", f"{HOME}/{top}"]
    folders = sorted({str(parent) for rel in [*files, *released] for parent in PurePosixPath(rel).parents
                      if str(parent) != "." and str(parent) not in tops})
    for folder in folders:
        argv += ["--perms", "0755" if folder.split("/")[0] in tops else "0777", "--dir", f"{HOME}/{folder}"]
    for rel, fd in files.items():
        argv += ["--perms", "0666", "--file", str(fd), f"{HOME}/{rel}"]
    for rel, fd in released.items():
        argv += ["--perms", "0444", "--file" if "/" in rel else "--ro-bind-data", str(fd), f"{HOME}/{rel}"]
    for top in tops:
        argv += ["--remount-ro", f"{HOME}/{top}"]
    return argv


def sandbox_env(python: LabPython) -> list[str]:
    """The runner's whole environment (``--clearenv`` first), with the labs' interpreter's bin on PATH."""
    return ["--hostname", "sandbox", "--clearenv",
            "--setenv", "HOME", HOME, "--setenv", "PATH", f"{python.bin_dir}:/usr/bin:/bin",
            "--setenv", "LANG", "C.UTF-8", "--setenv", "IPYTHONDIR", "/tmp/ipython",
            "--setenv", "MPLCONFIGDIR", "/tmp/mpl", "--setenv", "MPLBACKEND", "agg",
            "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1",
            "--setenv", "MKL_NUM_THREADS", "1", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            *[arg for name, value in GRADING_ENV.items() for arg in ("--setenv", name, value)]]


def bwrap_view(lim: Limits, python: LabPython) -> list[str]:
    """bwrap's namespaces and file view shared by cold sandboxes and warm workers: read-only system
    and Python, size-limited /tmp and /dev/shm, an empty /opt/workbench and /home; no host secrets
    (``--clearenv``: the grader's environment, store URL included, never reaches student code).
    The binds come after the /tmp tmpfs, so an interpreter installed under /tmp shows through it."""
    argv = [bwrap_path() or "bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(lim.tmp_mb << 20), "--tmpfs", "/tmp",
            "--perms", "1777", "--size", str(16 << 20), "--tmpfs", "/dev/shm"]
    made: set[str] = set()
    for path in ro_paths(python):
        for parent in reversed(Path(path).parents):
            if str(parent) != "/" and str(parent) not in made:
                made.add(str(parent))
                argv += ["--perms", "0755", "--dir", str(parent)]
        argv += ["--ro-bind", path, path]
    return [*argv, "--perms", "0755", "--dir", "/opt/workbench", "--perms", "0755", "--dir", "/home"]


def device_binds(paths: tuple[str, ...]) -> list[str]:
    """bwrap arguments that show device files at their host paths: their folders made searchable
    first (bwrap would make a missing one 0700, closed to the student's uid; an existing one is left
    as it is), then each file bound with its device access (a plain bind is ``nodev``)."""
    argv: list[str] = []
    made: set[str] = set()
    for path in paths:
        for parent in reversed(PurePosixPath(path).parents):
            if str(parent) != "/" and str(parent) not in made:
                made.add(str(parent))
                argv += ["--perms", "0755", "--dir", str(parent)]
        argv += ["--dev-bind", path, path]
    return argv


def device_groups(paths: tuple[str, ...]) -> tuple[int, ...]:
    """The groups the sandbox's uid joins to open its device files: each file's group where the group
    may read and write it and others may not (Ascend's driver makes ``/dev/davinci*`` and its control
    nodes ``0660`` of ``HwHiAiUser``), never root's group. Inside, the group reaches only what is
    bound into the sandbox, read-only but for the devices themselves."""
    found = set()
    for path in paths:
        info = os.stat(path)
        if info.st_gid != 0 and info.st_mode & 0o060 == 0o060 and info.st_mode & 0o006 != 0o006:
            found.add(info.st_gid)
    return tuple(sorted(found))


class Sandbox:
    """One sandboxed inside-runner process; ``start`` launches it, ``kill`` removes every trace."""

    def __init__(self, spec: SandboxSpec) -> None:
        self.spec = spec
        self.proc: subprocess.Popen[bytes] | None = None
        self.host_dir: Path | None = None  # the unsandboxed path's working directory
        self.to_child: int = -1
        self.from_child: int = -1

    def _argv(self, child_in: int, child_out: int, files: dict[str, int], released: dict[str, int]) -> list[str]:
        lim = self.spec.limits
        runner = [self.spec.python.executable, "-I", "-B", "/opt/workbench/inside.py",
                  str(child_in), str(child_out), str(lim.output_bytes), ",".join(self.spec.preload)]
        if self._unsandboxed():
            runner[3] = str(INSIDE_RUNNER)
            return runner
        options, prefix = cold_identity(cold_uid(), lim.processes, device_groups(self.spec.devices))
        # The home is a tmpfs as large as /tmp (a host directory would let a submission fill the
        # host's disk); bwrap copies each file in from its memfd (``--file``).
        argv = [*bwrap_view(lim, self.spec.python), *options,
                "--ro-bind", str(INSIDE_RUNNER), "/opt/workbench/inside.py",
                "--perms", "0777", "--size", str(lim.tmp_mb << 20), "--tmpfs", HOME,
                *home_layout(files, released, lim.tmp_mb)]
        if self.spec.data_dir is not None:
            argv += ["--ro-bind", str(self.spec.data_dir), f"{HOME}/data"]
        argv += device_binds(self.spec.devices)
        env = [arg for name, value in self.spec.env.items() for arg in ("--setenv", name, value)]
        return [*argv, "--chdir", HOME, *sandbox_env(self.spec.python), *env, "--", *prefix, *runner]

    def _unsandboxed(self) -> bool:
        return self.spec.unsafe_no_sandbox and bwrap_path() is None

    def _limit(self) -> None:
        """Runs in the child before exec: rlimits that every descendant inherits (the process limit
        is set inside the sandbox instead, see ``identity.py``)."""
        lim = self.spec.limits
        mem = lim.memory_mb << 20
        for res, value in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_CPU, lim.cpu_seconds),
                           (resource.RLIMIT_FSIZE, lim.file_mb << 20), (resource.RLIMIT_NOFILE, lim.open_files),
                           (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(res, (value, value))
        os.setsid()

    def _files(self, contents: dict[str, bytes], readonly: bool = False) -> dict[str, int]:
        """Files for the home: in memfds for bwrap to copy in, or, unsandboxed, written into a host
        working directory (then the runner's cwd; the instructor's made read-only)."""
        named = {safe_relative(name): content for name, content in contents.items()}
        if self._unsandboxed():
            if self.host_dir is None:
                self.host_dir = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
            for name, content in named.items():
                (self.host_dir / name).parent.mkdir(parents=True, exist_ok=True)
                (self.host_dir / name).write_bytes(content)
                if readonly:
                    (self.host_dir / name).chmod(0o444)
            return {}
        fds: dict[str, int] = {}
        for name, content in named.items():
            fd = fds[name] = os.memfd_create("submission")  # the name only labels it (and is length-limited)
            os.write(fd, content)
            os.lseek(fd, 0, os.SEEK_SET)
        return fds

    def start(self) -> None:
        files = self._files(self.spec.files)
        released = self._files(self.spec.released, readonly=True)
        fds = (*files.values(), *released.values())
        child_in, self.to_child = os.pipe()
        self.from_child, child_out = os.pipe()
        try:
            self.proc = subprocess.Popen(
                self._argv(child_in, child_out, files, released), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(child_in, child_out, *fds), preexec_fn=self._limit,
                cwd=str(self.host_dir) if self.host_dir is not None else None, close_fds=True,
                env={**os.environ, **GRADING_ENV} if self._unsandboxed() else BWRAP_ENV,
            )
        finally:
            for fd in (child_in, child_out, *fds):
                os.close(fd)

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
