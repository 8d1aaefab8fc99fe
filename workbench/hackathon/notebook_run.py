"""Run a team's notebook (or script) in the grading sandbox on the hidden inputs; return its predictions.

The contract a submitted notebook is written to (the sample's starter.ipynb follows it):

- It runs in a fresh working directory holding the notebook itself (writable) and, read-only, the
  event's public training data and the hidden *inputs*, each at the path event.yaml gives it
  relative to the event directory (``task.train``, ``task.hidden_inputs``; the sample's
  ``data/train.csv`` and ``hidden/inputs.csv``). A notebook that reads those relative paths runs
  unchanged in a team's lab (where the event's public files sit beside it), under nbval and here.
- It writes ``predictions.csv`` (``PREDICTIONS_FILE``) into its working directory: the id column and
  the target column, one row per hidden id, as for a predictions-file submission.
- The whole run (all cells) gets the event's ``limits.run_timeout_s``; its address space is capped
  at ``limits.memory_mb``. No network, no host files but the Python installation (read-only), and an
  empty environment (nothing to read at /proc/1/environ), as for graded labs (``grading/sandbox.py``).

What it cannot read: the hidden labels. Only the two files above are copied in; the event
directory is not bound, and the sandbox shows only system directories, the labs' Python and the
workbench package, so ``run_notebook`` refuses to run (ConfigError) an event whose labels file lies
under any of those. Labels are read by the trusted scorer (``scoring.py``) after the run has ended.
Every way a run ends without predictions is a NotebookRunError saying why, which, like a malformed
file, does not count against the team's limits.

On the team's device class: for an event whose quota kind is npu or gpu, the scorer
(``scoring_runs.score``) leases one device of that kind as the team for the run (``run_device.py``)
and passes it here as ``device``: the sandbox then holds that device's file and the driver's control
nodes (no other accelerator file exists inside, whatever the environment says) and the visibility
variable (``ASCEND_RT_VISIBLE_DEVICES`` / ``CUDA_VISIBLE_DEVICES``) counting it from 0. Such a run uses a
cold sandbox, never a warm worker. Without ``device`` (a cpu event) the run has no accelerator at all.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import nbformat

from workbench.errors import ConfigError, NotebookRunError
from workbench.grading import causes, lab_python
from workbench.grading.identity import require_sandbox
from workbench.grading.lab_python import LabPython
from workbench.grading.runner import CellOutcome, Runner
from workbench.grading.sandbox import HOME, Limits, SandboxSpec, ro_paths
from workbench.hackathon.model import Event
from workbench.hackathon.run_device import RunDevice

PREDICTIONS_FILE = "predictions.csv"
MAX_PREDICTIONS_BYTES = 64 << 20
CHUNK_BYTES = 1 << 20  # one reply from the sandbox carries at most this much of predictions.csv
READ_TIMEOUT_S = 30.0  # for reading predictions.csv back after the run
START_TIMEOUT_S = 60.0
OUTPUT = f"{HOME}/{PREDICTIONS_FILE}"  # in the directory the run started in, wherever it chdir'ed to since
_SIZE = f"__import__('os').path.getsize({OUTPUT!r})"
_CHUNK = "(lambda f: (f.seek({offset}), f.read({size}), f.close())[1])(open({name!r}, 'rb'))"


def released_files(event: Event) -> dict[str, bytes]:
    """What a run gets besides its notebook: the training data and the hidden inputs, by their paths
    relative to the event directory (read-only in the sandbox)."""
    task = event.task
    return {str(path.relative_to(event.root)): path.read_bytes() for path in (task.train, task.hidden_inputs)}


def visible_in_sandbox(path: Path, python: LabPython) -> str | None:
    """The directory the sandbox shows read-only that holds ``path``, or None when no run can see it."""
    target = str(path.resolve())
    for shown in ro_paths(python):
        real = os.path.realpath(shown)
        if target == real or target.startswith(real.rstrip("/") + "/"):
            return shown
    return None


def _cells(notebook: Path) -> list[tuple[int, str]]:
    """(cell number as the team sees it, code) for each code cell; a script is one cell."""
    try:
        text = notebook.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookRunError(f"{notebook.name} cannot be read as UTF-8 text ({exc}); save it again") from exc
    if notebook.suffix != ".ipynb":
        return [(1, text)]
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several kinds for a file that is not a notebook
        raise NotebookRunError(f"{notebook.name} is not a Jupyter notebook ({type(exc).__name__}: {exc}); "
                               "submit the .ipynb file saved from JupyterLab") from exc
    return [(i + 1, cell.source) for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and cell.source.strip()]


def _reason(outcome: CellOutcome, cell: int, limits: Limits) -> str:
    """Why the run stopped in ``cell``, in the team's words: the limit it hit or the error it raised."""
    where = f"in cell {cell}"
    if outcome.status == "timeout":
        return (f"the run took longer than the event's time limit of {limits.total_timeout:g} s "
                f"(limits.run_timeout_s) and was stopped {where}; make it faster or train for less")
    if outcome.status == "memory" or causes.means_memory(outcome.ename, outcome.evalue):
        return (f"the run went over the event's memory limit of {limits.memory_mb} MB (limits.memory_mb) "
                f"{where} ({outcome.ename or 'MemoryError'}); use less memory, e.g. smaller batches")
    if outcome.status == "killed":
        return f"the run's process ended {where}: {outcome.evalue or 'killed'}"
    lines = [line for line in outcome.traceback.strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else f"{outcome.ename}: {causes.first_line(outcome.evalue)}"
    return f"the run failed {where}: {last[:500]}"


def _read_predictions(runner: Runner) -> bytes:
    """predictions.csv from the sandbox's working directory, in chunks the reply protocol carries."""
    until = time.monotonic() + READ_TIMEOUT_S
    sized = runner.ask({"op": "eval", "code": _SIZE}, until)
    if sized.status != "ok" or type(sized.value) is not int:
        missing = sized.ename == "FileNotFoundError"
        raise NotebookRunError(
            f"the run ended without writing {PREDICTIONS_FILE} in its working directory; finish with e.g. "
            f"np.savetxt('{PREDICTIONS_FILE}', ...) or df.to_csv('{PREDICTIONS_FILE}', index=False)"
            if missing else f"{PREDICTIONS_FILE} could not be read after the run ({sized.ename or sized.status})")
    if sized.value > MAX_PREDICTIONS_BYTES:
        raise NotebookRunError(f"{PREDICTIONS_FILE} is {sized.value / 2**20:.0f} MB, over the "
                               f"{MAX_PREDICTIONS_BYTES >> 20} MB a predictions file may have")
    data = b""
    while len(data) < sized.value:
        code = _CHUNK.format(offset=len(data), size=CHUNK_BYTES, name=OUTPUT)
        chunk = runner.ask({"op": "eval", "code": code}, until)
        value = chunk.value if isinstance(chunk.value, dict) else {}
        if chunk.status != "ok" or value.get("t") != "bytes" or not value.get("v"):
            raise NotebookRunError(f"{PREDICTIONS_FILE} could not be read after the run "
                                   f"({chunk.ename or chunk.status}); write it once and leave it in place")
        data += base64.b64decode(value["v"])
    return data


def run_notebook(event: Event, notebook: Path, python: str = "", device: RunDevice | None = None) -> bytes:
    """Run ``notebook`` (.ipynb, or a .py script) in a sandbox under the event's limits; return the bytes of
    the predictions.csv it wrote. ``python`` is ``Workbench.lab_python`` ('' for the grader's own);
    ``device`` the team's leased device the sandbox is given (``run_device.team_device``)."""
    require_sandbox(False)  # team code never runs unsandboxed
    interpreter = lab_python.resolve(python)
    shown = visible_in_sandbox(event.task.hidden_labels, interpreter)
    if shown is not None:
        raise ConfigError(f"the hidden labels {event.task.hidden_labels} lie under {shown}, which every "
                          "notebook run can read; move the event directory out of it")
    cells = _cells(notebook)
    released = released_files(event)
    seconds = event.limits.run_timeout_s
    data_mb = sum(len(b) for b in released.values()) >> 20
    limits = Limits(cell_timeout=seconds, total_timeout=seconds, memory_mb=event.limits.memory_mb,
                    cpu_seconds=int(seconds) * (os.cpu_count() or 1) + 60, tmp_mb=max(256, 2 * data_mb + 64),
                    file_mb=max(64, MAX_PREDICTIONS_BYTES >> 20))
    spec = SandboxSpec(limits=limits, files={f"submission{notebook.suffix}": notebook.read_bytes()},
                       released=released, python=interpreter,
                       devices=device.nodes if device else (), env=dict(device.env) if device else {})
    runner = Runner(spec)
    deadline = time.monotonic() + seconds
    try:
        started = runner.start(min(deadline, time.monotonic() + START_TIMEOUT_S))  # starting counts as running
        if started.status != "ok":
            raise NotebookRunError(f"the sandbox did not start ({started.evalue or started.status}); submit again, "
                                   "and tell the organiser if it keeps failing")
        for number, code in cells:
            outcome = runner.run_cell(code, deadline)
            if outcome.status != "ok":
                raise NotebookRunError(_reason(outcome, number, limits))
        return _read_predictions(runner)
    finally:
        runner.close()
