"""The warm fork server: runs inside a bubblewrap worker, imports the heavy modules once, then forks
one fresh, unprivileged sandbox per submission.

Why: numpy, torch and mindspore cost 0.2 to 2.5 s each to import; a class of 200 would pay that 200
times. This process pays it once; each child inherits the imported modules copy-on-write, then
enters *new* mount, PID, IPC, network and UTS namespaces, mounts a fresh tmpfs on its home, /tmp
and /dev/shm (so nothing one submission writes is visible to the next), a fresh /proc, sets
rlimits, drops every capability and switches to its own uid before any student code runs.

It is standalone (no ``workbench`` import): bwrap shows it only this file, ``inside.py`` (the
cell runner the child serves), the Python installation and the lab's data. Student code never runs
in this process. Protocol on the inherited Unix socket (fd ``argv[1]``): 12-digit length + JSON;
``start`` carries the child's two pipe ends as SCM_RIGHTS and is answered with its pid; ``kill``
SIGKILLs that child (PID 1 of its namespace, so every descendant dies too) and answers its status.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import gc
import json
import os
import resource
import signal
import socket
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_RDONLY = 0x2, 0x4, 0x8, 0x1
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
HOME = "/home/student"
LIBC = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(LIBC.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                      data.encode() if data else None), f"mount {target}")


def send(sock: socket.socket, obj: dict) -> None:
    data = json.dumps(obj).encode()
    sock.sendall(b"%012d" % len(data) + data)


def receive(sock: socket.socket) -> tuple[dict | None, list[int]]:
    """One message and the file descriptors that came with its first bytes."""
    head, fds, _flags, _addr = socket.recv_fds(sock, 12, 4)
    if not head:
        return None, fds
    while len(head) < 12:
        more = sock.recv(12 - len(head))
        if not more:
            return None, fds
        head += more
    size, body = int(head), b""
    while len(body) < size:
        chunk = sock.recv(min(size - len(body), 1 << 20))
        if not chunk:
            return None, fds
        body += chunk
    return json.loads(body), fds


def _vm_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _enter(cmd: dict, fd_in: int, fd_out: int) -> None:
    """In the sandbox's PID 1: fresh mounts, files, limits, then drop to the sandbox's uid for good."""
    uid, lim = int(cmd["uid"]), cmd["limits"]
    _check(LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={lim['tmp_mb']}m,mode=1777")
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777")
    _mount("tmpfs", HOME, "tmpfs", MS_NOSUID | MS_NODEV, f"size={lim['tmp_mb']}m,mode=0755")
    for name, content in cmd["files"].items():
        path = os.path.join(HOME, os.path.basename(name))
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(content))
        os.chown(path, uid, uid)
    os.chown(HOME, uid, uid)
    if os.path.isdir("/opt/workbench/data"):
        os.mkdir(f"{HOME}/data")
        _mount("/opt/workbench/data", f"{HOME}/data", None, MS_BIND | MS_REC)
        _mount("none", f"{HOME}/data", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(HOME)
    mem = _vm_bytes() + (int(lim["memory_mb"]) << 20)  # the warm image plus the submission's allowance
    for res, value in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_CPU, int(lim["cpu_seconds"])),
                       (resource.RLIMIT_FSIZE, int(lim["file_mb"]) << 20),
                       (resource.RLIMIT_NOFILE, int(lim["open_files"])), (resource.RLIMIT_CORE, 0),
                       (resource.RLIMIT_NPROC, int(lim["processes"]))):
        resource.setrlimit(res, (value, value))
    cap = 0
    while LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # from root to a non-zero uid: permitted and effective caps are cleared
    _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if os.getuid() == 0 or os.geteuid() == 0:
        os._exit(120)
    os.setsid()


def _child(cmd: dict, fd_in: int, fd_out: int, sock: socket.socket, report: int) -> None:
    """The forked child: unshare, fork the sandbox's PID 1, report its pid, and wait for it."""
    try:
        sock.close()
        _check(LIBC.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS), "unshare")
        _check(LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
        pid = os.fork()
    except BaseException:
        os._exit(121)
    if pid:
        os.write(report, b"%d\n" % pid)
        os.close(report)
        os.close(fd_in)
        os.close(fd_out)
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    try:
        os.close(report)
        _enter(cmd, fd_in, fd_out)
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        keep = sorted({0, 1, 2, fd_in, fd_out})
        for low, high in zip(keep, [*keep[1:], 65536], strict=True):
            os.closerange(low + 1, high)
        sys.path.insert(0, "/opt/workbench")
        import inside

        inside.serve(fd_in, fd_out, int(cmd["limits"]["output_bytes"]), [])
    except BaseException:
        os._exit(122)
    os._exit(0)


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    for name in [m for m in sys.argv[2].split(",") if m]:
        with contextlib.suppress(Exception):
            __import__(name)
    gc.collect()
    gc.freeze()  # keep the warm image's objects out of the children's collections (fewer copied pages)
    children: dict[int, int] = {}  # pid of the sandbox's PID 1 -> the forked child waiting on it
    send(sock, {"ready": True})
    while True:
        cmd, fds = receive(sock)
        if cmd is None:
            for pid in children.values():
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            return
        if cmd["op"] == "start":
            fd_in, fd_out = fds
            read_end, write_end = os.pipe()
            middle = os.fork()
            if middle == 0:
                os.close(read_end)
                _child(cmd, fd_in, fd_out, sock, write_end)
            os.close(write_end)
            os.close(fd_in)
            os.close(fd_out)
            with os.fdopen(read_end) as handle:
                line = handle.readline().strip()
            if not line:
                _, status = os.waitpid(middle, 0)
                send(sock, {"error": f"the sandbox did not start (status {os.waitstatus_to_exitcode(status)})"})
                continue
            children[int(line)] = middle
            send(sock, {"pid": int(line)})
        elif cmd["op"] == "kill":
            pid = int(cmd["pid"])
            middle = children.pop(pid, 0)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)  # PID 1 of its namespace: every process in it dies
            status = None
            if middle:
                with contextlib.suppress(ChildProcessError):
                    status = os.waitstatus_to_exitcode(os.waitpid(middle, 0)[1])
            send(sock, {"status": status})


if __name__ == "__main__":
    main()
