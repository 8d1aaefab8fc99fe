"""Who the student's code runs as, and whether this host can make it so, as root or as a normal user.

Two ways to run student code under an unprivileged uid with an enforced process limit, chosen by who
the grader is (measured on Linux 6.18 with bubblewrap 0.8.0; see ../shared/notes/sandbox.md):

- **The grader is root.** bwrap gets no user namespace (as root that would keep every capability);
  ``setpriv`` drops to a real host uid of its own per sandbox (``UID_BASE`` + grader pid and a
  counter; warm workers one per worker above ``WARM_UID_BASE``) with no capabilities and
  no-new-privs. RLIMIT_NPROC is counted per real uid across the machine and not enforced for uid
  0, so the uid of its own is what makes the limit bite, and concurrent sandboxes never share a count.
- **The grader is a normal user.** bwrap creates an unprivileged user namespace (``--unshare-user``)
  in which the student is uid/gid 65534 (``nobody``), mapped onto the grader's uid outside, with no
  capabilities (``--cap-drop ALL``) and no way to create further user namespaces
  (``--disable-userns``: no private mounts, no unsized tmpfs of its own). Since Linux 5.14 the
  RLIMIT_NPROC count lives in "ucounts" per (user namespace, uid) and is charged up the chain of
  namespaces: a process in a sandbox's namespace is checked against its own limit for *that
  namespace's* count, and each outer level against the limit its namespace's creator had. So the
  limit is set inside, after bwrap made the namespace (``prlimit`` wraps the runner): the
  namespace's count then holds only this sandbox's processes (a fork loop stops at the limit, e.g.
  48 forks under a limit of 50: bwrap's init and the runner count too), while the grader's own
  count outside is held to the grader's own, normal limit. Two concurrent sandboxes each got their
  full 48 here; with the limit set before bwrap (on the grader's side) the second got 3, because the
  namespace's creator limit then caps the grader's whole count. A student's nested namespace does
  not reset anything: its processes are charged to the sandbox's count as well (measured: still 48).
  Warm workers do the same one level down: the worker is uid 0 *of its own namespace* with
  capabilities there (it mounts each sandbox's tmpfs); each forked sandbox then enters a user
  namespace of its own mapping 65534 onto the worker, drops every capability and sets the limit
  (``_zygote.py``), so clones of one worker do not share a count either.

Hosts that forbid unprivileged user namespaces (Debian's ``kernel.unprivileged_userns_clone=0``,
``user.max_user_namespaces=0``, Ubuntu's AppArmor restriction) cannot sandbox a normal user's
grading at all: ``require_sandbox`` probes once and refuses with one line naming the setting.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import subprocess
from pathlib import Path

from workbench.errors import WorkbenchError

NOBODY = 65534  # the student's uid and gid inside a user namespace (the grader is not root)
UID_BASE = 200_000  # as root: cold sandboxes' host uids
WARM_UID_BASE = 2_000_000  # as root: warm workers' host uids, above the cold ones (UID_BASE + up to 800 000)
# (sysctl file, the value that forbids unprivileged user namespaces, the setting that allows them)
USERNS_SWITCHES = (
    ("/proc/sys/kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone=1"),
    ("/proc/sys/user/max_user_namespaces", "0", "user.max_user_namespaces=15000"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1", "kernel.apparmor_restrict_unprivileged_userns=0"),
)
_cold_counter = itertools.count(1)


class SandboxUnavailable(WorkbenchError):
    """bubblewrap is missing: grading refuses to run student code with the grader's rights."""


class UserNamespacesUnavailable(SandboxUnavailable):
    """The grader is not root and the kernel forbids unprivileged user namespaces, so student code
    cannot be given a uid and a process count of its own."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def as_root() -> bool:
    return os.geteuid() == 0


def require_sandbox(unsafe: bool) -> None:
    """Refuse to grade without bubblewrap unless the instructor explicitly accepted the risk; as a
    normal user, also refuse (one line) where the kernel forbids unprivileged user namespaces."""
    if bwrap_path() is None:
        if not unsafe:
            raise SandboxUnavailable(
                "bubblewrap (bwrap) is not installed, so student code would run with your own rights; "
                "install it (apt-get install bubblewrap) or pass --unsafe-no-sandbox to accept that risk"
            )
        return
    if not as_root():
        require_user_namespaces()


@functools.cache  # success only: an exception is not cached, so a fixed host is seen at the next grading
def require_user_namespaces() -> None:
    """Raise ``UserNamespacesUnavailable`` unless bwrap can make the cold sandbox's user namespace."""
    failure = _userns_probe()
    if failure is not None:
        raise UserNamespacesUnavailable(
            f"the grading sandbox needs unprivileged user namespaces when the grader is not root, and bwrap "
            f"could not create one ({failure}): enable them with `sysctl -w {_userns_switch(failure)}` as root "
            "(and in /etc/sysctl.d/ to keep it), or run the grader as root")


def _userns_probe() -> str | None:
    """bwrap's first error line when it cannot make a sandbox-like user namespace, else None (a few
    milliseconds)."""
    proc = subprocess.run([bwrap_path() or "bwrap", "--unshare-user", "--disable-userns", "--uid", str(NOBODY), "--gid",
                           str(NOBODY), "--cap-drop", "ALL", "--ro-bind", "/", "/", "--", "true"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    if proc.returncode == 0:
        return None
    lines = proc.stderr.strip().splitlines()
    return lines[0] if lines else f"exit status {proc.returncode}"


def _userns_switch(failure: str) -> str:
    """The sysctl that allows unprivileged user namespaces here: the one that is off, else the one
    bwrap's error points at (ENOSPC: a namespace count limit, here or in an enclosing namespace)."""
    for path, off, switch in USERNS_SWITCHES:
        try:
            if Path(path).read_text().strip() == off:
                return switch
        except OSError:
            continue
    if "ENOSPC" in failure or "max_" in failure:
        return USERNS_SWITCHES[1][2]
    return USERNS_SWITCHES[0][2]


def cold_uid() -> int:
    """The student's uid in a new cold sandbox: as root a host uid no other live sandbox uses
    (RLIMIT_NPROC counts per uid machine-wide); as a normal user ``NOBODY`` in its own namespace."""
    if not as_root():
        return NOBODY
    return UID_BASE + os.getpid() % 100_000 * 8 + next(_cold_counter) % 8


def worker_uid(index: int) -> int:
    """The uid of warm worker ``index``'s sandboxes (one sandbox at a time per worker)."""
    return WARM_UID_BASE + (os.getpid() % 20_000) * 32 + index % 32 if as_root() else NOBODY


def cold_identity(uid: int, processes: int, groups: tuple[int, ...] = ()) -> tuple[list[str], list[str]]:
    """(bwrap options, command prefix) that run a cold sandbox's runner as ``uid`` with at most
    ``processes`` processes, set inside the sandbox (see the module docstring for why inside), and, as
    root, in the supplementary ``groups`` only (a leased device's group); a normal user's sandbox
    keeps the grader's own groups, which the kernel still checks inside its user namespace."""
    limit = ["prlimit", f"--nproc={processes}:{processes}", "--"]
    if as_root():
        joined = f"--groups={','.join(map(str, groups))}" if groups else "--clear-groups"
        return [], ["setpriv", f"--reuid={uid}", f"--regid={uid}", joined, "--no-new-privs",
                    "--inh-caps=-all", "--bounding-set=-all", *limit]
    return ["--unshare-user", "--disable-userns", "--uid", str(uid), "--gid", str(uid), "--cap-drop", "ALL"], limit


def worker_identity() -> list[str]:
    """bwrap options for a warm worker: as root none (the worker is root and drops per sandbox); as a
    normal user uid 0 of a user namespace of its own, with the capabilities it needs to mount."""
    if as_root():
        return []
    return ["--unshare-user", "--uid", "0", "--gid", "0", "--cap-add", "ALL"]
