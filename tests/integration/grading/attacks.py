"""Student submissions that attack the sandbox, shared by the grading tests (as root and as a normal
user): each attack is an answer cell (``add`` or ``mul``) that must fail inside the sandbox."""

from __future__ import annotations

NOBODY = 65534

FORK_FLOOD = """import os, time
def add(a, b):
    try:
        for _ in range(2000):
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
    except OSError:
        time.sleep(4)  # hold the processes a while: a neighbour grading meanwhile must not starve
        raise
    return a + b
"""
# 40 children at once, while a flooding neighbour holds its limit's worth: a shared count would fail.
NEIGHBOUR = """import os, time
def add(a, b):
    time.sleep(1)
    children = []
    for _ in range(40):
        pid = os.fork()
        if pid == 0:
            time.sleep(2)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    return a + b
"""
FILL = """import os
def fill(folder):
    for i in range(100000):  # files of 32 MB: under the file size limit, until the tmpfs is full
        with open(os.path.join(folder, f'fill{i}'), 'wb') as handle:
            for _ in range(32):
                handle.write(bytes(1 << 20))
"""
DISK_FILL = {"add": FILL + "def add(a, b):\n    fill('/tmp')\n    return a + b",
             "mul": FILL + "def mul(a, b):\n    fill(os.getcwd())\n    return a * b"}


def escape(paths: list[str], marker: str, grader_uid: int) -> str:
    """An answer that looks for the grader's files (``paths``), its environment and ``marker`` in any
    process's command line or environment, becomes root or creates a user namespace; ``add`` raises
    with what it found, so the task's message says which defence failed. The student must be
    ``NOBODY`` (the grader is not root), never the grader's uid."""
    return f"""import ctypes, os
found = [p for p in {paths!r} if os.path.exists(p)]
for pid in (p for p in os.listdir('/proc') if p.isdigit()):
    for part in ('cmdline', 'environ'):
        try:
            data = open(f'/proc/{{pid}}/{{part}}', 'rb').read()
        except OSError:
            continue
        if {marker.encode()!r} in data or b'WORKBENCH' in data:
            found.append(f'/proc/{{pid}}/{{part}}')
try:
    os.setuid(0)
    found.append('setuid(0)')
except OSError:
    pass
caps = [int(line.split()[1], 16) for line in open('/proc/self/status') if line.startswith('CapEff')][0]
nested = ctypes.CDLL(None, use_errno=True).unshare(0x10000000) == 0  # would allow an unsized tmpfs
who = (os.getuid(), os.geteuid(), os.getgid())
def add(a, b):
    if found or who != ({NOBODY}, {NOBODY}, {NOBODY}) or who[0] == {grader_uid} or caps or nested:
        raise ValueError(f'escaped: found={{found}} ids={{who}} caps={{caps}} nested_userns={{nested}}')
    return a + b
"""
