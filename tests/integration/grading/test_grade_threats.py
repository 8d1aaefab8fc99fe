"""``workbench grade`` against hostile submissions, in the real bubblewrap sandbox."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from workbench.grading.grade import grade_notebook
from workbench.grading.sandbox import Limits

from .attacks import DISK_FILL, FORK_FLOOD

pytestmark = pytest.mark.integration
SECRET = "HIDDEN-MARKER-7781"  # the marker inside the source's hidden test (see conftest.py)
REPO = Path(__file__).resolve().parents[3]
FAST = Limits(cell_timeout=3, total_timeout=60, memory_mb=1024)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, timeout=120)


def statuses(result) -> dict[str, tuple[str, float]]:
    return {t.id: (t.status, t.points) for t in result.tasks}


def test_correct_submission_json_contract(source_path, make_submission):
    proc = cli("grade", str(make_submission()), "--source", str(source_path), "--json", "--timeout", "5")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {"score", "max_score", "tasks", "needs_manual"}
    assert (data["score"], data["max_score"], data["needs_manual"]) == (7.0, 8.0, True)
    assert [t["status"] for t in data["tasks"]] == ["passed", "passed", "passed", "manual"]
    assert all(set(t) == {"id", "points", "max_points", "status", "message"} for t in data["tasks"])


def test_fake_output_and_fd1_writes_do_not_reach_the_json(source_path, make_submission):
    sub = make_submission({"add": "import os\nos.write(1, b'{\"score\": 99}\\n')\nprint('passed')\n"
                                  "import sys; print('ok passed', file=sys.stderr)\n"
                                  "def add(a, b):\n    print('All tests passed!')\n    return 0"})
    proc = cli("grade", str(sub), "--source", str(source_path), "--json")
    assert proc.returncode == 0
    data = json.loads(proc.stdout)  # exactly one object: a second line would fail to parse
    assert data["tasks"][0] == {"id": "test_add", "points": 0.0, "max_points": 2.0, "status": "failed",
                                "message": "AssertionError"}


def test_malformed_inputs_exit_2_with_one_line(tmp_path, source_path, make_submission):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    not_nb = tmp_path / "list.ipynb"
    not_nb.write_text("[1, 2]")
    plain = tmp_path / "plain.ipynb"
    plain.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    for sub, src, words in ((bad, source_path, "not valid JSON"), (not_nb, source_path, "not a Jupyter")):
        proc = cli("grade", str(sub), "--source", str(src), "--json")
        assert proc.returncode == 2
        assert proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and ("bad" in lines[0] or "list" in lines[0]), proc.stderr
    # A source without graded cells is graded 0 of 0, as nbgrader grades it, with one warning line.
    proc = cli("grade", str(make_submission()), "--source", str(plain), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["max_score"] == 0
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("workbench: warning: ") and "plain" in line and "no graded cells" in line


def test_refuses_without_bubblewrap_unless_told(source_path, make_submission):
    sub = str(make_submission())
    proc = cli("grade", sub, "--source", str(source_path), "--json", env={"PATH": "/nonexistent"})
    assert proc.returncode == 2 and "--unsafe-no-sandbox" in proc.stderr and "bubblewrap" in proc.stderr
    proc = cli("grade", sub, "--source", str(source_path), "--json", "--unsafe-no-sandbox",
               env={"PATH": "/nonexistent"})
    assert proc.returncode == 0 and json.loads(proc.stdout)["score"] == 7.0


def test_limits_fail_only_the_affected_tests(source_path, make_submission):
    """Infinite loop, memory bomb, os._exit: that test gets the status, the rest is still graded."""
    loop = grade_notebook(make_submission({"add": "def add(a, b):\n    while True:\n        pass"}),
                          source_path, FAST)
    assert statuses(loop)["test_add"] == ("timeout", 0.0)
    assert statuses(loop)["test_mul"] == ("passed", 3.0)
    bomb = grade_notebook(make_submission({"mul": "def mul(a, b):\n    x = bytearray(4 * 1024**3)\n"
                                                  "    return a * b"}), source_path, FAST)
    assert statuses(bomb)["test_mul"] == ("memory", 0.0)
    assert statuses(bomb)["test_add"] == ("passed", 2.0)
    exiting = grade_notebook(make_submission({"add": "import os\ndef add(a, b):\n    os._exit(0)"}),
                             source_path, FAST)
    assert statuses(exiting)["test_add"][0] == "killed"
    assert statuses(exiting)["test_mul"] == ("passed", 3.0)
    sysexit = grade_notebook(make_submission(extra=["import sys\nsys.exit(0)"]), source_path, FAST)
    assert sysexit.score == 7.0


def test_suppressed_tracebacks_and_edited_tests_earn_nothing(source_path, make_submission):
    sub = make_submission({
        "add": "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
               "ip._showtraceback = lambda *a, **k: None\ndef add(a, b):\n    return 0",
        "test_add": "pass",
        "test_mul": "pass  # worth a lot",
    })
    nb = json.loads(sub.read_text())
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade"):
            cell["metadata"]["nbgrader"]["points"] = 100
    nb["cells"].append({"cell_type": "code", "metadata": {"nbgrader": {"grade": True, "grade_id": "bonus",
                        "points": 50, "solution": False}}, "source": "pass", "outputs": [],
                        "execution_count": None})
    sub.write_text(json.dumps(nb))
    result = grade_notebook(sub, source_path, FAST)
    assert statuses(result)["test_add"] == ("failed", 0.0)
    assert statuses(result)["test_mul"] == ("passed", 3.0)  # the source's test ran, for its 3 points
    assert "bonus" not in statuses(result) and result.max_score == 8.0


def test_deleted_test_is_reinserted_and_missing_or_duplicated_answers_score_zero(source_path, make_submission):
    deleted = grade_notebook(make_submission({"test_add": None}), source_path, FAST)
    assert statuses(deleted)["test_add"] == ("passed", 2.0)
    missing = grade_notebook(make_submission({"mul": None}), source_path, FAST)
    assert statuses(missing)["test_mul"] == ("missing", 0.0)
    assert "mul" in next(t.message for t in missing.tasks if t.id == "test_mul")
    sub = make_submission()
    nb = json.loads(sub.read_text())
    nb["cells"].append(nb["cells"][0])
    sub.write_text(json.dumps(nb))
    dup = grade_notebook(sub, source_path, FAST)
    assert statuses(dup)["test_add"] == ("missing", 0.0)
    assert "2 times" in next(t.message for t in dup.tasks if t.id == "test_add")


def test_native_check_is_judged_outside_the_students_process(source_path, make_submission):
    """An int whose __eq__ always says True fools the in-kernel assert, not the grader's check."""
    sub = make_submission({"mul": "class Liar(int):\n    def __eq__(self, other):\n        return True\n"
                                  "    __hash__ = int.__hash__\n"
                                  "def mul(a, b):\n    return Liar(a + b)"})
    result = grade_notebook(sub, source_path, FAST)
    assert statuses(result)["test_mul"] == ("passed", 3.0)  # the assert cell is fooled, as documented
    assert statuses(result)["check_mul"] == ("failed", 0.0)
    partial = grade_notebook(make_submission({"mul": "def mul(a, b):\n    return 42 if a == 6 else 0"}),
                             source_path, FAST)
    assert statuses(partial)["check_mul"] == ("failed", 1.0)


def test_hidden_tests_are_invisible_and_detached_children_die(source_path, make_submission):
    hunt = (
        "import os\nfound = []\nmarker = b'HIDDEN-' + b'MARKER-7781'\n"
        "for root in ('/home', '/tmp', '/opt', '/etc', '/root', '/work'):\n"
        "    for d, dirs, files in os.walk(root):\n"
        "        dirs[:] = [x for x in dirs if os.path.join(d, x) not in "
        f"{(sys.prefix, sys.base_prefix, '/root/.pyenv')!r}]\n"  # the read-only interpreter: gigabytes
        "        for f in files:\n"
        "            try:\n"
        "                if marker in open(os.path.join(d, f), 'rb').read(10**7): found.append(d + '/' + f)\n"
        "            except OSError:\n                pass\n"
        "for pid in os.listdir('/proc'):\n"
        "    for part in ('cmdline', 'environ'):\n"
        "        try:\n"
        "            if marker in open(f'/proc/{pid}/{part}', 'rb').read() or b'source' in "
        "open(f'/proc/{pid}/{part}', 'rb').read(): found.append(pid + part)\n"
        "        except (OSError, ValueError):\n            pass\n"
        "print('FOUND', found, os.getuid())\n"
        "import subprocess\nsubprocess.Popen(['sleep', '317'], start_new_session=True)\n"
        "if os.fork() == 0:\n    os.setsid()\n    subprocess.Popen(['sleep', '318'])\n    os._exit(0)\n"
        "def add(a, b):\n    return a + b if not found else -1"
    )
    result = grade_notebook(make_submission({"add": hunt}), source_path, FAST)
    printed = "".join(o["stdout"] for o in result.outputs)
    assert "FOUND [] " in printed and "FOUND [] 0" not in printed  # nothing found, and not root
    assert statuses(result)["test_add"] == ("passed", 2.0)
    assert SECRET not in json.dumps(result.outputs)  # feedback never carries hidden-test source
    leftovers = subprocess.run(["pgrep", "-f", "sleep 31[78]"], capture_output=True, text=True).stdout
    assert leftovers.strip() == ""


def test_no_connection_to_the_graders_loopback(source_path, make_submission):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    accepted: list[object] = []
    server.settimeout(10)

    def accept() -> None:
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    reached = True\n"
            "except OSError:\n    reached = False\ndef add(a, b):\n    return -1 if reached else a + b")
    result = grade_notebook(make_submission({"add": code}), source_path, FAST)
    assert statuses(result)["test_add"] == ("passed", 2.0)
    assert accepted == []
    server.close()


def test_fork_flood_and_disk_fill_end_at_their_limits(source_path, make_submission, tmp_path, monkeypatch):
    """A fork loop stops at the process limit; filling /tmp or the home (the working directory, a
    tmpfs, not a host folder) stops at its size; each costs its task only and the host keeps nothing."""
    host_tmp = tmp_path / "host-tmp"
    host_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(host_tmp))
    limits = Limits(cell_timeout=10, total_timeout=60, memory_mb=1024, tmp_mb=32, processes=40)
    flood = grade_notebook(make_submission({"add": FORK_FLOOD}), source_path, limits)
    status, points = statuses(flood)["test_add"]
    assert (status, points) == ("error", 0.0)
    assert "process limit reached: 40 processes" in next(t.message for t in flood.tasks if t.id == "test_add")
    assert statuses(flood)["test_mul"] == ("passed", 3.0)
    filled = grade_notebook(make_submission(DISK_FILL), source_path, limits)
    for task in ("test_add", "test_mul"):
        assert statuses(filled)[task] == ("error", 0.0)
        message = next(t.message for t in filled.tasks if t.id == task)
        assert "No space left on device" in message and "the home and /tmp hold 32 MB each" in message, message
    assert list(host_tmp.iterdir()) == []
