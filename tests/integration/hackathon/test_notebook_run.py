"""Notebook submissions in the real bubblewrap sandbox: the sample's starter scores, a notebook that
hunts for the hidden labels and the service's secrets gets nothing, and every way a run can end
without predictions is one sentence saying which."""

from __future__ import annotations

import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from workbench.errors import ConfigError, NotebookRunError
from workbench.grading.lab_python import own
from workbench.hackathon.loader import load_event
from workbench.hackathon.model import Event
from workbench.hackathon.notebook_run import PREDICTIONS_FILE, run_notebook, visible_in_sandbox
from workbench.hackathon.scoring import score

pytestmark = pytest.mark.integration
MARKER = "HIDDENLABEL"  # in every hidden label, nowhere a team's run may look
ENV_SECRET = "SECRET-ENV-5521"
IDS = [f"q{i:03d}" for i in range(40)]

EVENT_YAML = """\
id: probe
title: Probe
window: {{opens: 2026-12-01T00:00, closes: 2027-12-01T00:00}}
phases:
  - {{id: main, opens: 2026-12-01T00:00, closes: 2027-12-01T00:00}}
task:
  starter: starter.ipynb
  train: data/train.csv
  hidden_inputs: hidden/inputs.csv
  hidden_labels: hidden/labels.csv
  metric: accuracy
split: {{public_share: 0.5, seed: 1}}
limits: {{run_timeout_s: {timeout}, memory_mb: {memory}}}
"""


def make_event(parent: Path, timeout: float = 60, memory: int = 1024) -> Event:
    root = parent / "probe"
    for folder in ("data", "hidden"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    train = "".join(f"t{i},{i % 2},{'ab'[i % 2]}\n" for i in range(8))
    (root / "data" / "train.csv").write_text("id,x,label\n" + train)
    (root / "hidden" / "inputs.csv").write_text("id,x\n" + "".join(f"{q},{n % 2}\n" for n, q in enumerate(IDS)))
    (root / "hidden" / "labels.csv").write_text("id,label\n" + "".join(
        f"{q},{MARKER}-{'ab'[n % 2]}\n" for n, q in enumerate(IDS)))
    nbformat.write(new_notebook(cells=[new_code_cell("pass")]), root / "starter.ipynb")
    (root / "event.yaml").write_text(EVENT_YAML.format(timeout=timeout, memory=memory))
    return load_event(root)


def notebook(parent: Path, *cells: str, name: str = "team.ipynb") -> Path:
    path = parent / name
    nbformat.write(new_notebook(cells=[new_markdown_cell("A team's notebook"),
                                       *(new_code_cell(textwrap.dedent(c)) for c in cells)]), path)
    return path


@pytest.mark.parametrize("framework", ["torch", "mindspore"])
def test_the_sample_starter_runs_in_the_sandbox_and_beats_the_baseline(repo_root: Path, tmp_path: Path,
                                                                      framework: str) -> None:
    """On both frameworks: the sandbox's environment is empty, so a team picks MindSpore in the notebook."""
    event = load_event(repo_root / "events" / "digits-sprint")
    starter = nbformat.read(event.task.starter, as_version=4)
    starter.cells.insert(0, new_code_cell(f"import os\nos.environ['FRAMEWORK'] = {framework!r}"))
    starter.cells.append(new_code_cell(f"assert fw.name == {framework!r}, fw.name"))  # a failure fails the run
    nbformat.write(starter, tmp_path / "starter.ipynb")
    data = run_notebook(event, tmp_path / "starter.ipynb")
    assert data.startswith(b"id,label\n") and data.count(b"\n") == 1001
    scores = score(event, data)
    baseline = score(event, event.baselines[0].predictions.read_bytes())
    assert scores.public > baseline.public and scores.private > baseline.private


ATTACK = """
import glob, os
found = []

def note(what, how):
    found.append(f"{what}: {how}")

def attempt(what, read):
    try:
        note(what, "READ " + repr(read())[:20000])
    except Exception as exc:
        note(what, type(exc).__name__)

attempt("labels by path", lambda: open(LABELS).read())
attempt("event dir", lambda: sorted(os.listdir(EVENT_ROOT)))
for top in ("/", "/tmp", "/home", "/opt", "/root", "/srv", "/mnt", "/var", "/work", os.path.dirname(EVENT_ROOT)):
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in ("/proc", "/sys", "/usr", "/dev")
                   and "site-packages" not in folder]
        for name in files:
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as handle:
                    if b"HIDDEN" + b"LABEL" in handle.read(1 << 20):
                        note("walk", "FOUND " + path)
            except Exception:
                pass
for path in ["/proc/1/environ", "/proc/self/environ", *glob.glob("/proc/[0-9]*/environ")]:
    attempt(path, lambda: open(path, "rb").read())
for path in glob.glob("/proc/[0-9]*/cmdline"):
    attempt(path, lambda: open(path, "rb").read())
attempt("inputs (allowed)", lambda: len(open("hidden/inputs.csv").read().splitlines()))
attempt("write inputs", lambda: open("hidden/inputs.csv", "a").write("x"))
"""


def test_a_notebook_hunting_for_the_labels_and_secrets_gets_nothing(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_DB_URL", f"postgresql://wb:{ENV_SECRET}@db/wb")
    event = make_event(tmp_path)
    setup = f"LABELS = {str(event.task.hidden_labels)!r}\nEVENT_ROOT = {str(event.root)!r}"
    exfiltrate = ("import csv\nwith open('predictions.csv', 'w', newline='') as out:\n"
                  "    w = csv.writer(out)\n    w.writerow(['id', 'label'])\n"
                  "    for n, line in enumerate(found):\n        w.writerow([f'x{n}', line])\n")
    data = run_notebook(event, notebook(tmp_path, setup, ATTACK, exfiltrate)).decode()
    report = dict(line.split(": ", 1) for line in data.splitlines()[1:] if ": " in line)
    report = {k.split(",", 1)[1]: v for k, v in report.items()}
    assert MARKER not in data and ENV_SECRET not in data and "FOUND" not in data
    assert "/usr/bin/bwrap" in report["/proc/1/cmdline"]  # bwrap's argv is readable, and names no event path
    assert str(event.root) not in data
    assert report["labels by path"] == "FileNotFoundError"
    assert report["event dir"] == "FileNotFoundError"
    assert report["/proc/1/environ"] in ("READ b''", "PermissionError")  # bwrap started with no environment
    assert report["inputs (allowed)"] == f"READ {len(IDS) + 1}"  # what the contract gives: the hidden inputs
    assert report["write inputs"] in ("OSError", "PermissionError")  # read-only


def test_a_notebook_that_never_ends_stops_at_the_events_time_limit(tmp_path: Path) -> None:
    event = make_event(tmp_path, timeout=3)
    with pytest.raises(NotebookRunError) as caught:
        run_notebook(event, notebook(tmp_path, "x = 1", "while True:\n    x += 1"))
    assert caught.value.message == ("the run took longer than the event's time limit of 3 s (limits.run_timeout_s) "
                                    "and was stopped in cell 3; make it faster or train for less")


def test_memory_crash_and_missing_predictions_each_say_which(tmp_path: Path) -> None:
    event = make_event(tmp_path, memory=600)
    with pytest.raises(NotebookRunError, match=r"over the event's memory limit of 600 MB \(limits.memory_mb\) in "
                                               r"cell 2 \(MemoryError\)"):
        run_notebook(event, notebook(tmp_path, "hog = bytearray(4 << 30)"))
    with pytest.raises(NotebookRunError) as caught:
        run_notebook(event, notebook(tmp_path, "import numpy as np", "np.zeros((3, 2)) @ np.zeros((3, 2))"))
    assert caught.value.message.startswith("the run failed in cell 3: ValueError: matmul: Input operand 1 has a "
                                           "mismatch in its core dimension 0")
    with pytest.raises(NotebookRunError) as caught:
        run_notebook(event, notebook(tmp_path, "print('forgot to write it')"))
    assert caught.value.message.startswith(f"the run ended without writing {PREDICTIONS_FILE} in its working "
                                           "directory")
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{this is not json")
    with pytest.raises(NotebookRunError, match=r"bad\.ipynb is not a Jupyter notebook"):
        run_notebook(event, bad)


def test_a_script_writes_predictions_that_score(tmp_path: Path) -> None:
    event = make_event(tmp_path)
    script = tmp_path / "solution.py"
    script.write_text("rows = open('hidden/inputs.csv').read().splitlines()[1:]\n"
                      "with open('predictions.csv', 'w') as out:\n"
                      "    out.write('id,label\\n')\n"
                      f"    out.writelines(f'{{r.split(\",\")[0]}},{MARKER}-{{\"ab\"[int(r.split(\",\")[1])]}}\\n' "
                      "for r in rows)\n"
                      "import os; os.chdir('/tmp')  # predictions.csv is read from where the run started\n")
    scores = score(event, run_notebook(event, script))
    assert (scores.public, scores.private) == (1.0, 1.0)


def test_labels_where_the_sandbox_can_see_them_are_refused_before_any_run(tmp_path: Path) -> None:
    event = make_event(tmp_path)
    assert visible_in_sandbox(event.task.hidden_labels, own()) is None
    exposed = Path(sys.prefix) / "share" / "labels.csv"  # the Python installation is bound read-only
    assert visible_in_sandbox(exposed, own()) == sys.prefix
    moved = replace(event, task=replace(event.task, hidden_labels=exposed))
    with pytest.raises(ConfigError) as caught:
        run_notebook(moved, notebook(tmp_path, "open('predictions.csv', 'w').write('id,label\\n')"))
    assert caught.value.message == (f"the hidden labels {exposed} lie under {sys.prefix}, which every notebook run "
                                    "can read; move the event directory out of it")
