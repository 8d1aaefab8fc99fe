"""Device isolation that is enforced, not advisory: a kernel runs in a mount namespace in which only
its leased device files exist — none for a CPU lease.

Why: ``ASCEND_RT_VISIBLE_DEVICES`` / ``CUDA_VISIBLE_DEVICES`` are read by the runtime from the
kernel's own environment, so one line of student code (``os.environ[...] = "0,1,2,3"``) reaches
every device on the machine. A device file that does not exist in the kernel's file system cannot be
opened whatever the environment says; that is how container runtimes confine accelerators (Ascend
Docker Runtime and ``docker --device`` pass ``/dev/davinciN`` plus the driver's control nodes;
nvidia-container-toolkit the same for ``/dev/nvidiaN``), and the runtimes then number what they find
from 0 — which is why the visibility variable becomes ``0..n-1`` here (CANN refuses ids outside
``[0, found)``) and the real ids travel in ``WORKBENCH_DEVICE_IDS``.

How: bubblewrap, the tool the grading sandbox already uses, with only what this needs — the kernel
is a notebook kernel, not a sandbox:

- ``--dev-bind / /``: the host file system as it is, read-write (home, virtual environment, /tmp,
  the Jupyter runtime directory with the connection file); the kernel keeps its uid, and the network
  namespace is not touched, so the ZMQ ports on 127.0.0.1 work as before.
- ``--dev /dev``: a fresh /dev (null, zero, random, tty, pts, ...) into which only the leased device
  files and the control nodes that exist are bound, plus the host's /dev/shm (DataLoader workers share
  memory there), /dev/mqueue and /dev/hugepages. A directory of device files outside /dev (an
  inventory ``path:`` such as the tests' temporary one) is replaced by an empty tmpfs in the same way.
- ``--unshare-pid --proc /proc``: without a PID namespace, ``/proc/<pid>/root`` of any process of the
  same user outside (the user's own Jupyter server) leads back to the host's /dev.
- as root, ``--cap-drop ALL`` (the uid stays 0): a capable root could ``mknod`` the device again or
  mount a devtmpfs. bwrap sets no-new-privs in every case, so setuid programs (sudo) do not work in
  an isolated kernel. A non-root kernel gets bwrap's user namespace, with no capabilities, and mounts
  it inherits are locked, so unsharing again cannot uncover the host's /dev.
- the kernel's life stays Jupyter's: bwrap is the process Jupyter started, interrupts go to its
  process group and so reach the kernel (bwrap itself is started with SIGINT ignored, since it would
  die of it and take the kernel along). ``--die-with-parent`` kills everything inside when bwrap or
  bwrap's parent, the server, dies — the job of ipykernel's own parent poll, which cannot see the
  server from inside a PID namespace (``JPY_PARENT_PID`` becomes 1, which ipykernel takes for "never
  poll"; the server's pid would make the kernel take the namespace's init for a new parent and exit
  at once). That death signal follows the server *thread* that started the kernel, which for
  jupyter_server and jupyter_client is their event loop's thread, alive as long as the server.

CPU leases are isolated too, with no device files at all: the visibility variables are the only
thing between a CPU kernel and every NPU otherwise, and a kernel that fell back to ``cpu:1`` because
the NPUs were busy is exactly the one whose user wants one.

``Workbench.isolate_devices``: None (default) isolates wherever bwrap works and this machine has an
accelerator device file to hide (a laptop with an inventory of fake NPUs has none, and its kernels run
as before); a leased device whose file is missing then only earns a warning, and the kernel keeps
its real ids. True requires isolation for every kernel: a kernel start fails with one line naming the
fix when bwrap cannot, or when a leased device's file is missing. False turns it off. Slurm kernels
are confined by the allocation's device cgroup instead (docs/devices.md).
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from workbench.devices.inventory import CONTROL_NODES, DEFAULT_PATHS, Device
from workbench.errors import WorkbenchError

VISIBLE = {"npu": "ASCEND_RT_VISIBLE_DEVICES", "gpu": "CUDA_VISIBLE_DEVICES"}
PASS_THROUGH = ("/dev/shm", "/dev/mqueue", "/dev/hugepages")  # host /dev mounts a kernel uses; no devices
# Jupyter interrupts a kernel by SIGINT to its process group, and bwrap dies of SIGINT (taking the
# namespace with it): bwrap is started with SIGINT ignored, which exec keeps; the kernel is unchanged,
# since ipykernel ignores SIGINT itself when idle and installs its handler around each cell.
IGNORE_SIGINT = ["/bin/sh", "-c", 'trap "" INT; exec "$@"', "workbench-isolation"]
FIX = "install bubblewrap (apt-get install bubblewrap) or set c.Workbench.isolate_devices = False"
log = logging.getLogger("workbench.devices.isolation")


class IsolationUnavailable(WorkbenchError):
    """Device isolation is required (or its device files are wrong) and the kernel cannot be started so."""


@dataclass(frozen=True)
class Nodes:
    """The device files of one lease: its own (must exist), its drivers' control nodes (bound where they
    exist) and every directory of device files outside /dev that must look empty but for these."""

    devices: tuple[tuple[str, str], ...]  # (path, "npu 3")
    control: tuple[str, ...]
    dirs: tuple[str, ...]


def lease_nodes(lease: dict[str, Any], known: Sequence[Device] = ()) -> Nodes:
    """Where the lease's devices are, from the inventory (``known``) or the kind's default paths; the
    directories to empty are those of the lease's files and of every accelerator the inventory knows,
    so a device whose file the admin moved out of /dev is hidden as well."""
    by_id = {(d.kind, d.ident): d for d in known}
    devices: list[tuple[str, str]] = []
    control: list[str] = []
    for entry in lease.get("devices", []):
        if entry.get("kind") not in DEFAULT_PATHS:
            continue
        where = by_id.get((entry["kind"], str(entry["id"])), Device(entry["kind"], str(entry["id"]))).nodes()
        devices.append((where["path"], f"{entry['kind']} {entry['id']}"))
        control.extend(c for c in where["control"] if c not in control)
    files = [p for p, _ in devices] + control
    for device in known:
        where = device.nodes()
        files += [where["path"], *where["control"]] if where else []
    dirs = {str(PurePosixPath(f).parent) for f in files}
    return Nodes(tuple(devices), tuple(control), tuple(sorted((d for d in dirs if not _under(d, "/dev")),
                                                              key=lambda d: (d.count("/"), d))))


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.cache  # success only: a failure raises, so a host fixed later is seen at the next kernel start
def _namespaces_work(bwrap: str) -> None:
    """Raise unless bwrap can make the namespaces used here (unprivileged user namespaces forbidden,
    or a container without CAP_SYS_ADMIN, fail here with bwrap's own words)."""
    done = subprocess.run([bwrap, "--dev-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "--dev", "/dev",
                           "--", "true"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
                          check=False)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[0]
        allow = ("run the server where root may create namespaces (a container needs CAP_SYS_ADMIN)"
                 if os.geteuid() == 0 else "allow unprivileged user namespaces (sysctl "
                 "kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)")
        raise IsolationUnavailable(f"device isolation needs bubblewrap namespaces and bwrap could not make them "
                                   f"({first}); {allow}, or set c.Workbench.isolate_devices = False")


def require() -> str:
    """bwrap's path when it can isolate a kernel here, else ``IsolationUnavailable`` with the fix."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise IsolationUnavailable(f"device isolation is on (Workbench.isolate_devices) but bubblewrap (bwrap) "
                                   f"is not on PATH; {FIX}")
    _namespaces_work(bwrap)
    return bwrap


def accelerator_files(known: Sequence[Device] = ()) -> list[str]:
    """Every accelerator device file this machine may have: the inventory's, the default ones."""
    files = [f for d in known if (where := d.nodes()) for f in (where["path"], *where["control"])]
    files += glob.glob("/dev/davinci[0-9]*") + glob.glob("/dev/nvidia[0-9]*")
    return files + [c for nodes in CONTROL_NODES.values() for c in nodes]


def applies(lease: dict[str, Any], setting: bool | None, known: Sequence[Device] = ()) -> bool:
    """Whether this lease's kernel runs isolated; required (True) and impossible raises (one line, the fix)."""
    if setting is False or lease.get("backend", "local") != "local":
        return False
    if setting is True:
        require()
        return True
    if not any(os.path.exists(f) for f in accelerator_files(known)):
        return False  # nothing to hide on this machine
    try:
        require()
    except IsolationUnavailable as exc:
        log.warning("workbench: kernel of lease %s is NOT isolated: %s", lease.get("lease"), exc.message)
        return False
    return True


def environment(lease: dict[str, Any], known: Sequence[Device] = ()) -> dict[str, str]:
    """The visibility variable as the runtime inside counts — the leased devices, from 0 — when their
    files are there to be found (fake devices keep their ids; a CPU lease changes nothing)."""
    nodes = lease_nodes(lease, known)
    if lease.get("kind") not in VISIBLE or not nodes.devices or not all(os.path.exists(p) for p, _ in nodes.devices):
        return {}
    return {VISIBLE[lease["kind"]]: ",".join(str(i) for i in range(len(nodes.devices)))}


def wrap(lease: dict[str, Any], argv: list[str], known: Sequence[Device] = (), strict: bool = False) -> list[str]:
    """``argv`` inside a mount and PID namespace that holds only the lease's device files; a leased
    file that is missing is an error when ``strict`` (isolation required), else a warning."""
    bwrap = require()
    nodes = lease_nodes(lease, known)
    for path, name in nodes.devices:
        if os.path.exists(path):
            continue
        message = (f"the device file of {name}, {path}, does not exist; fix its 'path:' in the inventory file "
                   "(docs/devices.md)")
        if strict:
            raise IsolationUnavailable(f"{message} or set c.Workbench.isolate_devices = False")
        log.warning("workbench: lease %s: %s; the kernel starts without it", lease.get("lease"), message)
    needed = [a for a in argv if a.startswith("/")] + [os.environ.get("HOME", "/")]
    for directory in nodes.dirs:
        hidden = next((a for a in needed if _under(a, directory)), None)
        if directory == "/" or hidden is not None:
            raise IsolationUnavailable(f"device files in {directory} cannot be isolated: the directory is emptied "
                                       f"inside the kernel, which needs {hidden or 'all of /'}; keep device files "
                                       "in a directory of their own (inventory 'path:' / 'control:')")
    args = [bwrap, "--dev-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "--dev", "/dev"]
    for mount in PASS_THROUGH:
        if os.path.isdir(mount):
            args += ["--bind", mount, mount]
    for directory in nodes.dirs:
        if os.path.isdir(directory):
            args += ["--tmpfs", directory]
    for path in [p for p, _ in nodes.devices] + list(nodes.control):
        if os.path.exists(path):
            args += ["--dev-bind", path, path]
    args += ["--die-with-parent", "--setenv", "JPY_PARENT_PID", "1"]  # the kernel's parent here: no poll
    if os.geteuid() == 0:
        args += ["--cap-drop", "ALL"]
    return [*IGNORE_SIGINT, *args, "--", *argv]
