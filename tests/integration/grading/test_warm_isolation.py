"""Warm workers: one fork server grades submission after submission; nothing one leaves behind
(files in home or /tmp, processes, environment, patched modules) reaches the next, and the child
runs without privileges even though the worker holds them."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from workbench.grading.runner import Runner
from workbench.grading.sandbox import Limits, SandboxSpec
from workbench.grading.warm import WarmWorker, preload_for

pytestmark = pytest.mark.integration
LIMITS = Limits(cell_timeout=5, total_timeout=60, memory_mb=512)
PROBE = """import os, subprocess, numpy
def probe():
    home = sorted(os.listdir('/home/student')); tmp = sorted(os.listdir('/tmp'))
    procs = sorted(p for p in os.listdir('/proc') if p.isdigit())
    return {'home': home, 'tmp': tmp, 'procs': procs, 'uid': os.getuid(), 'euid': os.geteuid(),
            'env': os.environ.get('LEFT_BEHIND'), 'startup': 'PLANTED' in globals(),
            'patched': hasattr(numpy, 'planted'), 'gc': __import__('gc').isenabled(),
            'caps': [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0]}
"""
MESS = """import os, subprocess, numpy
open('/home/student/planted.txt', 'w').write('x'); open('/tmp/planted', 'w').write('x')
os.makedirs('/tmp/ipython/profile_default/startup', exist_ok=True)
open('/tmp/ipython/profile_default/startup/00.py', 'w').write('PLANTED = 1')
os.environ['LEFT_BEHIND'] = '1'; numpy.planted = True
subprocess.Popen(['sleep', '300'], start_new_session=True)
if os.fork() == 0:
    import time; time.sleep(300)
"""


def run(worker: WarmWorker, code: str) -> dict:
    """One fresh sandbox from the worker: run ``code``, return what ``probe()`` reports."""
    spec = SandboxSpec(limits=LIMITS, files={"lab.ipynb": b"{}"}, launcher=worker.launcher)
    runner = Runner(spec)
    try:
        assert runner.start(time.monotonic() + 30).status == "ok"
        assert runner.run_cell(code, time.monotonic() + 10).status == "ok"
        outcome = runner.call("probe", [], {}, time.monotonic() + 10)
        assert outcome.status == "ok", outcome.evalue
        return dict(outcome.value)
    finally:
        runner.close()



def student_uid(uid: int) -> bool:
    """Whether student code ran as it should: as root under a per-sandbox host uid (2,000,000 and
    up), as a normal user as uid 65534 in the sandbox's own user namespace (identity.py)."""
    return uid >= 2_000_000 if os.geteuid() == 0 else uid == 65534


def test_nothing_crosses_from_one_submission_to_the_next() -> None:
    worker = WarmWorker(0, LIMITS, preload_for(["import numpy"]))
    try:
        first, second, third = run(worker, MESS + PROBE), run(worker, PROBE), run(worker, PROBE)
        assert "planted.txt" in first["home"] and "planted" in first["tmp"] and first["env"] == "1"
        assert first["patched"] is True
        assert first["gc"] is True  # the collector is off only while the worker builds its image
        for later in (second, third):
            assert later["home"] == ["lab.ipynb"] and "planted" not in later["tmp"], later
            assert later["startup"] is False  # the IPython startup file planted in /tmp is gone
            assert later["env"] is None and later["patched"] is False
            assert later["procs"] == ["1"]  # a PID namespace of its own: no sleeper from before
            assert student_uid(later["uid"]) and later["euid"] == later["uid"] and int(later["caps"], 16) == 0
        leftovers = subprocess.run(["pgrep", "-u", str(first["uid"])], capture_output=True, text=True).stdout
        assert leftovers.strip() == ""  # the sleepers died with their sandbox's PID namespace
    finally:
        worker.close()


def test_limits_apply_to_forked_sandboxes() -> None:
    worker = WarmWorker(1, LIMITS, preload_for(["import numpy"]))
    try:
        spec = SandboxSpec(limits=LIMITS, files={"lab.ipynb": b"{}"}, launcher=worker.launcher)
        runner = Runner(spec)
        assert runner.start(time.monotonic() + 30).status == "ok"
        assert runner.run_cell("b = bytearray(2 << 30)", time.monotonic() + 10).status == "memory"
        wrote = runner.run_cell("open('/usr/planted', 'w')", time.monotonic() + 10)
        assert (wrote.status, wrote.ename) == ("error", "PermissionError") or wrote.ename == "OSError"
        net = runner.run_cell("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)",
                              time.monotonic() + 10)
        assert net.status == "error" and net.ename in ("OSError", "TimeoutError", "ConnectionRefusedError")
        assert runner.run_cell("while True: pass", time.monotonic() + 1).status == "timeout"
        assert not runner.alive()
    finally:
        worker.close()


def test_a_clone_shares_the_warm_image_but_nothing_else() -> None:
    """``clone`` forks a second fork server from a ready worker (no second import of the heavy
    modules): its sandboxes run under their own uid and see nothing the origin's sandboxes left."""
    origin = WarmWorker(2, LIMITS, preload_for(["import numpy"]))
    try:
        twin = origin.clone(3)
        try:
            messy = run(origin, MESS + PROBE)
            clean = run(twin, PROBE)
            assert twin.alive() and student_uid(clean["uid"])
            if os.geteuid() == 0:  # as root each sandbox has a host uid of its own; else a user namespace of its own
                assert clean["uid"] != messy["uid"]
            assert clean["home"] == ["lab.ipynb"] and "planted" not in clean["tmp"] and clean["patched"] is False
            assert clean["procs"] == ["1"] and int(clean["caps"], 16) == 0
        finally:
            twin.close()
    finally:
        origin.close()
