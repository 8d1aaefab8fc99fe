"""The warm fork server: runs inside a bubblewrap worker, imports the heavy modules once, then forks
one fresh, unprivileged sandbox per submission.

Why: numpy, torch and mindspore cost 0.2 to 2.5 s each to import; a class of 200 would pay that 200
times. This process pays it once; each child inherits the imported modules copy-on-write, then
enters *new* mount, PID, IPC, network and UTS namespaces, mounts a fresh tmpfs on its home, /tmp
and /dev/shm (so nothing one submission writes is visible to the next), a fresh /proc, drops every
capability, switches to its own uid and sets rlimits before any student code runs. As root that uid
is a host uid of the worker's own; as a normal user (``"userns"`` in ``start``) the worker is uid 0
of its own user namespace, so the child enters a nested one mapping uid 65534 onto it, with no
further user namespaces allowed, and sets RLIMIT_NPROC only after that, so the count is this
sandbox's alone (see ``workbench/grading/identity.py``).

It is standalone (no ``workbench`` import): bwrap shows it only this file, ``inside.py`` (the
cell runner the child serves), the labs' Python installation (which runs it) and the lab's data. Student code never runs
in this process. Protocol on the inherited Unix socket (fd ``argv[1]``): 12-digit length + JSON;
``start`` carries the child's two pipe ends as SCM_RIGHTS and is answered with its pid; ``kill``
SIGKILLs that child (PID 1 of its namespace, so every descendant dies too) and answers its status,
or, with ``"wait": false``, answers at once and reaps it before reading the next command (so a
sandbox is entirely gone before the next one is forked, while the grader records its result).
``clone`` carries a socket: a second fork server is forked from this warm image and serves it (the
answer here is its pid; the clone says ``ready`` on its own socket and speaks this same protocol).
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
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_RDONLY = 0x2, 0x4, 0x8, 0x1
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, CAPABILITY_VERSION_3 = 47, 4, 0x20080522
MADV_COLLAPSE, HUGE_PAGE = 25, 1 << 21
HOME = "/home/student"
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


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
    """In the sandbox's PID 1: fresh mounts, files, then the sandbox's identity and limits for good."""
    uid, lim, userns = int(cmd["uid"]), cmd["limits"], bool(cmd.get("userns"))
    _check(LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    hidden = [(path, os.open(path, os.O_PATH | os.O_CLOEXEC)) for path in cmd.get("rebind", [])]
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={lim['tmp_mb']}m,mode=1777")
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777")
    _mount("tmpfs", HOME, "tmpfs", MS_NOSUID | MS_NODEV, f"size={lim['tmp_mb']}m,mode=0755")
    _rebind(hidden)
    _fill_home(cmd["files"], cmd.get("released", {}), uid, userns, int(lim["tmp_mb"]))
    if not userns:
        os.chown(HOME, uid, uid)
    if os.path.isdir("/opt/workbench/data"):
        os.mkdir(f"{HOME}/data")
        _mount("/opt/workbench/data", f"{HOME}/data", None, MS_BIND | MS_REC)
        _mount("none", f"{HOME}/data", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(HOME)
    mem = _vm_bytes() + (int(lim["memory_mb"]) << 20)  # the warm image plus the submission's allowance
    if userns:
        _become_nobody(uid)
    else:
        _drop_to(uid)
    for res, value in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_CPU, int(lim["cpu_seconds"])),
                       (resource.RLIMIT_FSIZE, int(lim["file_mb"]) << 20),
                       (resource.RLIMIT_NOFILE, int(lim["open_files"])), (resource.RLIMIT_CORE, 0),
                       (resource.RLIMIT_NPROC, int(lim["processes"]))):
        resource.setrlimit(res, (value, value))  # lowering needs no privilege
    _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if os.getuid() == 0 or os.geteuid() == 0 or _effective_caps() != 0:
        os._exit(120)
    os.setsid()


def _fill_home(files: dict, released: dict, uid: int, userns: bool, tmp_mb: int) -> None:
    """The student's files, writable and theirs; the instructor's, read-only (as ``home_layout`` in
    sandbox.py does for a cold sandbox): a released top-level file is bound read-only onto itself, a
    released top-level folder is a tmpfs of its own remounted read-only once filled, so the student
    can neither change, remove nor replace them. Paths were checked by the grader (relative, no ..)."""
    tops = sorted({rel.split("/")[0] for rel in released if "/" in rel})
    for top in tops:
        os.mkdir(f"{HOME}/{top}", 0o755)
        _mount("tmpfs", f"{HOME}/{top}", "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_mb}m,mode=0755")
    for rel, content in [*files.items(), *released.items()]:
        made = HOME
        for part in rel.split("/")[:-1]:
            made += "/" + part
            if not os.path.isdir(made):
                os.mkdir(made, 0o755)
                if not userns and rel.split("/")[0] not in tops:
                    os.chown(made, uid, uid)
        path = f"{HOME}/{rel}"
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(content))
        if rel in released:
            os.chmod(path, 0o444)
        elif not userns:  # in a user namespace they are ours, which is the student's uid once mapped
            os.chown(path, uid, uid)
    for target in [*(f"{HOME}/{rel}" for rel in released if "/" not in rel), *(f"{HOME}/{top}" for top in tops)]:
        _mount(target, target, None, MS_BIND)
        _mount("none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _rebind(hidden: list[tuple[str, int]]) -> None:
    """Show again, read-only, what the worker binds under /tmp or /dev/shm (the labs' interpreter may
    be installed there) and the fresh tmpfs just hid: bound from handles opened before it was mounted,
    onto directories made for it (root's, 0755: the student can read them, not add to them)."""
    for path, fd in hidden:
        source = f"/proc/self/fd/{fd}"
        made = ""
        for part in os.path.dirname(path).strip("/").split("/"):
            made += "/" + part
            if not os.path.isdir(made):
                os.mkdir(made)
                os.chmod(made, 0o755)
        if os.path.isdir(source):
            os.makedirs(path, exist_ok=True)
        elif not os.path.exists(path):
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        _mount(source, path, None, MS_BIND | MS_REC)
        _mount("none", path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(fd)


def _drop_bounding_set() -> None:
    cap = 0
    while LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1


def _drop_to(uid: int) -> None:
    """As root: switch to the worker's own host uid (which clears permitted and effective caps)."""
    _drop_bounding_set()
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _become_nobody(uid: int) -> None:
    """As uid 0 of the worker's user namespace: enter a nested one in which we are ``uid`` (mapped
    onto the worker's uid 0; nothing else is mapped, so uid 0 cannot be reached), forbid further user
    namespaces in it, and drop the capabilities that entering it granted."""
    _check(LIBC.unshare(CLONE_NEWUSER), "unshare user")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} 0 1"), ("gid_map", f"{uid} 0 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)
    with open("/proc/sys/user/max_user_namespaces", "w") as handle:  # this namespace's own limit
        handle.write("0")
    _drop_bounding_set()
    _check(LIBC.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "ambient caps")
    _check(LIBC.capset(ctypes.byref(_CapHeader(CAPABILITY_VERSION_3, 0)), (_CapData * 2)()), "capset")


def _effective_caps() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1], 16) for line in status if line.startswith("CapEff:"))


def _child(cmd: dict, fd_in: int, fd_out: int) -> None:
    """The forked child, PID 1 of its own PID namespace: the other namespaces, then serve the cells.
    (The fork server's death kills it: PR_SET_PDEATHSIG in _enter, and bwrap's namespace going away.)"""
    try:
        _check(LIBC.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS), "unshare")
        _enter(cmd, fd_in, fd_out)
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        keep = sorted({0, 1, 2, fd_in, fd_out})  # the fork server's socket and namespace handle close here
        for low, high in zip(keep, [*keep[1:], 65536], strict=True):
            os.closerange(low + 1, high)
        import inside  # already imported (and its shell made) by main(): nothing is loaded here

        gc.enable()  # off in the fork server (see main); the submission's own garbage is collected as usual
        inside.serve(fd_in, fd_out, int(cmd["limits"]["output_bytes"]), [])
    except BaseException:
        os._exit(122)
    os._exit(0)


def _fork_sandbox(cmd: dict, fd_in: int, fd_out: int, own_pid_ns: int) -> int:
    """Fork one sandbox straight into a new PID namespace (one fork of the warm image, not two):
    ``unshare(CLONE_NEWPID)`` applies to this process's next child only, and ``setns`` back to our
    own PID namespace right after lets the next submission get a new one again."""
    _check(LIBC.unshare(CLONE_NEWPID), "unshare")
    try:
        pid = os.fork()
    except BaseException:
        _check(LIBC.setns(own_pid_ns, CLONE_NEWPID), "setns")
        raise
    if pid == 0:
        _child(cmd, fd_in, fd_out)
    _check(LIBC.setns(own_pid_ns, CLONE_NEWPID), "setns")
    return pid


def _warm(preload: list[str]) -> None:
    """Everything a child would otherwise pay for per submission, paid once here: the lab's imports,
    the cell runner and its IPython shell (warmed up), torch limited to one thread per worker."""
    for name in preload:
        with contextlib.suppress(Exception):
            __import__(name)
    torch = sys.modules.get("torch")
    if torch is not None:  # before any thread pool exists: a pool's threads do not survive fork
        with contextlib.suppress(Exception):
            torch.set_num_threads(1)
            torch.set_num_interop_threads(1)
            torch.clamp(torch.tensor([-1.0, 2.0]), min=0).tolist()  # first-op dispatch setup
    sys.path.insert(0, "/opt/workbench")
    import inside

    inside.prepare(warm=True)


def _collapse_to_huge_pages() -> None:
    """Back the warm image's anonymous memory (the heap and the large anonymous maps torch makes)
    with 2 MiB pages. Why: fork copies one page-table entry per 4 KiB page and exit drops them
    again; a torch image has ~150 MB of them, which made fork + exit of each sandbox cost ~15 ms.
    With huge pages that is ~6 ms; a child that writes to one gets its own 4 KiB copy as before.
    Best effort: MADV_COLLAPSE needs Linux 6.1+; elsewhere the calls fail and nothing changes."""
    with open("/proc/self/maps") as maps:
        regions = [line.split() for line in maps]
    for fields in regions:
        if fields[1].startswith("rw") and (len(fields) < 6 or fields[5] == "[heap]"):
            start, end = (int(x, 16) for x in fields[0].split("-"))
            start, end = (start + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1), end & ~(HUGE_PAGE - 1)
            if end - start >= HUGE_PAGE:
                LIBC.madvise(start, end - start, MADV_COLLAPSE)


def _clone(sock: socket.socket, fd: int, own_pid_ns: int) -> int:
    """Fork a second fork server from this warm image, serving the socket ``fd``. Why: a worker's
    imports (torch: ~2.5 s of CPU) would otherwise be paid again per worker, competing for the
    cores with the class being registered; the clone shares this image copy-on-write (huge pages
    included) and is ready in milliseconds. It lives in the same bwrap namespaces as this process."""
    pid = os.fork()
    if pid == 0:
        try:
            _check(LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
            sock.close()
            twin = socket.socket(fileno=fd)
            send(twin, {"ready": True})
            serve(twin, own_pid_ns)
        except BaseException:
            os._exit(1)
        os._exit(0)
    return pid


def serve(sock: socket.socket, own_pid_ns: int) -> None:
    """Answer the grader's commands until it closes the socket; then kill the sandboxes left."""
    children: set[int] = set()  # each sandbox's PID 1 (our child; killing it ends its whole namespace)
    while True:
        cmd, fds = receive(sock)
        if cmd is None:
            for pid in children:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            return
        if cmd["op"] == "clone":
            try:
                send(sock, {"pid": _clone(sock, fds[0], own_pid_ns)})
            except OSError as exc:
                send(sock, {"error": f"the worker could not be cloned ({exc})"})
            finally:
                os.close(fds[0])
        elif cmd["op"] == "start":
            fd_in, fd_out = fds
            try:
                pid = _fork_sandbox(cmd, fd_in, fd_out, own_pid_ns)
            except OSError as exc:
                send(sock, {"error": f"the sandbox did not start ({exc})"})
                continue
            finally:
                os.close(fd_in)
                os.close(fd_out)
            children.add(pid)
            send(sock, {"pid": pid})
        elif cmd["op"] == "kill":
            pid = int(cmd["pid"])
            known = pid in children
            children.discard(pid)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)  # PID 1 of its namespace: every process in it dies
            if not cmd.get("wait", True):
                send(sock, {"status": None})  # the grader goes on; we reap before the next command
            status = None
            if known:
                with contextlib.suppress(ChildProcessError):
                    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            if cmd.get("wait", True):
                send(sock, {"status": status})


def main() -> None:
    """Python's recipe for fork servers: the collector stays off while the image is built (it would
    traverse torch's million objects again and again: ~0.3 s of a worker's start, and freed holes in
    pages every child then copies), and ``gc.freeze`` keeps the image out of the children's
    collections, which each child turns back on."""
    gc.disable()
    sock = socket.socket(fileno=int(sys.argv[1]))
    _warm([m for m in sys.argv[2].split(",") if m])
    own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    gc.freeze()
    _collapse_to_huge_pages()
    send(sock, {"ready": True})
    serve(sock, own_pid_ns)


if __name__ == "__main__":
    main()
