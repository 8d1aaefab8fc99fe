"""Warm workers: a long-lived bubblewrap process (``_zygote.py``) per worker that has imported the
lab's heavy modules once and forks a fresh sandbox per submission.

The grader side is the same as for cold sandboxes (``Runner`` and the cell protocol over two
pipes); only who starts the process differs: ``WarmWorker.launcher`` plugs into
``SandboxSpec.launcher``. The pipes are created here and handed to the fork server as SCM_RIGHTS
over a Unix socket, so no path or secret crosses a command line, and the grader keeps its ends.
The worker itself holds capabilities inside its namespaces (it must mount and change uid for each
child) but runs only this project's code; the children drop everything before student code runs.
As root the worker is root without a user namespace and each child switches to the worker's own host
uid; as a normal user the worker is uid 0 of a user namespace of its own and each child enters a
nested one as uid 65534 (``identity.py`` says why, and how the process limit is kept per sandbox).
The worker runs the labs' interpreter (``lab_python.py``), so the images it forks have the labs'
frameworks imported, whatever the grader itself has installed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import select
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from workbench.grading.identity import (
    SandboxUnavailable,
    as_root,
    bwrap_path,
    require_user_namespaces,
    worker_identity,
    worker_uid,
)
from workbench.grading.lab_python import LabPython, own
from workbench.grading.sandbox import (
    BWRAP_ENV,
    HOME,
    INSIDE_RUNNER,
    Limits,
    SandboxSpec,
    bwrap_view,
    ro_paths,
    safe_relative,
    sandbox_env,
)

ZYGOTE = Path(__file__).with_name("_zygote.py")
HEAVY = ("torch", "mindspore")
FRESH_TMPFS = ("/tmp", "/dev/shm")  # each forked sandbox mounts its own there (_zygote.py)
_IMPORT = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_][\w]*)", re.MULTILINE)


class WorkerError(SandboxUnavailable):
    """A warm worker could not start or stopped answering; grading cannot go on with it."""


def preload_for(sources: list[str]) -> tuple[str, ...]:
    """What a worker imports before forking: always IPython and numpy (every lab's grader needs
    them), plus torch / mindspore when the lab's code imports them (each ~2.5 s, paid once)."""
    found = {m for code in sources for m in _IMPORT.findall(code)}
    if "workbench" in found:  # labs use workbench.labs.frameworks, which may import either
        found.update(HEAVY)
    heavy = tuple(m for m in HEAVY if m in found)
    return ("numpy", "IPython.core.interactiveshell", "IPython.utils.capture", *heavy)


def _hidden_by_fresh_tmpfs(python: LabPython) -> list[str]:
    """The worker's read-only paths under /tmp or /dev/shm (an interpreter may be installed there, as
    in tests), which a forked sandbox's fresh tmpfs would hide: the sandbox binds them again."""
    return [p for p in ro_paths(python) if any(p == t or p.startswith(t + "/") for t in FRESH_TMPFS)]


class WarmWorker:
    """One fork server; ``launcher`` gives ``SandboxSpec`` a factory of sandboxes forked from it.

    Made either by starting a bwrap worker (the constructor) or by ``clone``: a second fork server
    forked from a ready one's warm image, inside the same bwrap, without paying the imports again.
    A clone lives as long as the worker it came from, so close clones first."""

    def __init__(self, index: int, limits: Limits, preload: tuple[str, ...], data_dir: Path | None = None,
                 start_timeout: float = 120.0, cancel: threading.Event | None = None,
                 python: LabPython | None = None) -> None:
        if bwrap_path() is None:
            raise WorkerError("bubblewrap (bwrap) is not installed; warm workers need it "
                              "(apt-get install bubblewrap), or grade with --unsafe-no-sandbox")
        if not as_root():
            require_user_namespaces()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        python = python or own()
        self._attach(index, limits, ours, origin=None, rebind=_hidden_by_fresh_tmpfs(python))
        argv = [*bwrap_view(limits, python), *worker_identity()]
        argv += ["--ro-bind", str(INSIDE_RUNNER), "/opt/workbench/inside.py",
                 "--ro-bind", str(ZYGOTE), "/opt/workbench/zygote.py",
                 "--perms", "0755", "--dir", HOME]
        if data_dir is not None:
            argv += ["--ro-bind", str(data_dir), "/opt/workbench/data"]
        argv += ["--chdir", HOME, *sandbox_env(python), "--",
                 python.executable, "-I", "-B", "/opt/workbench/zygote.py", str(theirs.fileno()), ",".join(preload)]
        self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(theirs.fileno(),), close_fds=True, start_new_session=True, env=BWRAP_ENV)
        theirs.close()
        reply = self._read(time.monotonic() + start_timeout, cancel)
        if not reply.get("ready"):
            if cancel is not None and cancel.is_set():  # nobody needs it any more: no orderly exit
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, 9)
            self.close()
            raise WorkerError(f"warm worker {index} did not start ({reply.get('error', 'no answer')}); "
                              "check that bubblewrap works here (`bwrap --ro-bind / / true`)")

    def _attach(self, index: int, limits: Limits, sock: socket.socket, origin: WarmWorker | None,
                rebind: list[str]) -> None:
        self.index, self.limits, self.sock, self.origin, self.rebind = index, limits, sock, origin, rebind
        self.uid = worker_uid(index)
        self.userns = not as_root()  # each sandbox then enters a user namespace of its own
        self.lock = threading.Lock()
        self.proc = None

    def clone(self, index: int, timeout: float = 60.0) -> WarmWorker:
        """A second worker forked from this one's warm image (same imports, same limits, own uid)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            reply = self.request({"op": "clone"}, [theirs.fileno()], timeout)
        finally:
            theirs.close()
        twin = WarmWorker.__new__(WarmWorker)
        twin._attach(index, self.limits, ours, origin=self, rebind=self.rebind)
        ready = twin._read(time.monotonic() + timeout) if "pid" in reply else reply
        if not ready.get("ready"):
            twin.close()
            raise WorkerError(f"warm worker {index} could not be cloned from worker {self.index} "
                              f"({ready.get('error', 'no answer')})")
        return twin

    def _read(self, deadline: float, cancel: threading.Event | None = None) -> dict[str, Any]:
        buf = b""
        want = 12
        while len(buf) < want:
            if cancel is not None and cancel.is_set():
                return {"error": "cancelled"}
            left = deadline - time.monotonic()
            if left <= 0:
                return {"error": "timed out"}
            if not select.select([self.sock], [], [], min(left, 0.1) if cancel is not None else left)[0]:
                continue
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                return {"error": "the worker exited"}
            buf += chunk
            if want == 12 and len(buf) >= 12:
                want = 12 + int(buf[:12])
        return dict(json.loads(buf[12:want]))

    def request(self, cmd: dict[str, Any], fds: list[int] | None = None, timeout: float = 60.0) -> dict[str, Any]:
        """One command and its answer; serialized, since a worker runs one sandbox at a time."""
        data = json.dumps(cmd).encode()
        payload = b"%012d" % len(data) + data
        with self.lock:
            try:
                socket.send_fds(self.sock, [payload[:12]], fds or [])
                self.sock.sendall(payload[12:])
            except OSError as exc:
                return {"error": f"the worker is gone ({exc})"}
            return self._read(time.monotonic() + timeout)

    def launcher(self, spec: SandboxSpec) -> WarmSandbox:
        return WarmSandbox(self, spec)

    def alive(self) -> bool:
        if self.origin is not None:  # a clone: its origin's bwrap is up and it has not hung up
            if not self.origin.alive():
                return False
            try:
                return self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
            except BlockingIOError:
                return True  # nothing to read: still there, waiting for a command
            except OSError:
                return False
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        """Closing the socket makes the fork server kill its children and exit; bwrap follows (a
        clone, a child of the worker it came from, is collected when that worker's bwrap ends)."""
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=10)


class WarmSandbox:
    """A sandbox forked by a warm worker; the same surface ``Runner`` uses for a cold one."""

    def __init__(self, worker: WarmWorker, spec: SandboxSpec) -> None:
        self.worker, self.spec = worker, spec
        self.to_child = self.from_child = -1
        self.pid: int | None = None
        self.status: int | None = None
        self.ended = False

    def start(self) -> None:
        lim = self.spec.limits
        child_in, self.to_child = os.pipe()
        self.from_child, child_out = os.pipe()
        cmd = {"op": "start", "uid": self.worker.uid, "userns": self.worker.userns, "rebind": self.worker.rebind,
               "files": {safe_relative(name): base64.b64encode(content).decode()
                         for name, content in self.spec.files.items()},
               "released": {safe_relative(name): base64.b64encode(content).decode()
                            for name, content in self.spec.released.items()},
               "limits": {"memory_mb": lim.memory_mb, "cpu_seconds": lim.cpu_seconds, "file_mb": lim.file_mb,
                          "open_files": lim.open_files, "processes": lim.processes, "tmp_mb": lim.tmp_mb,
                          "output_bytes": lim.output_bytes}}
        try:
            reply = self.worker.request(cmd, [child_in, child_out])
        finally:
            os.close(child_in)
            os.close(child_out)
        if "pid" not in reply:
            self.ended = True
            raise WorkerError(f"warm worker {self.worker.index}: {reply.get('error', 'no answer')}")
        self.pid = int(reply["pid"])

    def alive(self) -> bool:
        return not self.ended and self.pid is not None and self.worker.alive()

    def exit_status(self) -> int | None:
        """How the sandbox ended (it died on its own): kill what is left and wait for its status."""
        self._end(wait=True)
        return self.status

    def kill(self) -> None:
        """SIGKILL the sandbox's PID 1 (its whole namespace dies) and close the grader's pipe ends. The
        worker answers at once and reaps the sandbox before it reads its next command, so the grader
        records this result while the sandbox's namespaces are torn down."""
        self._end(wait=False)

    def _end(self, wait: bool) -> None:
        for fd in (self.to_child, self.from_child):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.to_child = self.from_child = -1
        if not self.ended and self.pid is not None:
            self.ended = True
            status = self.worker.request({"op": "kill", "pid": self.pid, "wait": wait}).get("status")
            self.status = int(status) if status is not None else None
