"""Grade a whole class: find the submissions, store them, and grade the new ones in parallel on
warm workers, committing each result as soon as it is known.

Why this shape: a class re-run after a crash or Ctrl-C must neither lose nor repeat work, so every
submission is stored and registered (hash row) before grading starts, and grades are committed as
they come (whatever the workers have finished, in one transaction); what was graded against the
same source is skipped next time. The heavy imports are paid once per class (``warm.py``: the first
worker imports, the others are cloned from it), not once per submission; in a server, once per lab
image for as long as its workers stay warm (``warm_pool.py``), not once per run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.grading import gradebook, lab_files, lab_python
from workbench.grading.grade import grade_plan
from workbench.grading.identity import bwrap_path, require_sandbox
from workbench.grading.merge import NO_GRADED_CELLS, GradingInputError, make_plan, read_notebook, source_tasks
from workbench.grading.sandbox import Limits, SandboxSpec, sweep_stale
from workbench.grading.warm import WarmWorker, preload_for
from workbench.grading.warm_pool import ImageKey, WarmPool
from workbench.grading.worker_source import Costs, OwnWorkers, WorkerSource
from workbench.store import Store

COMMIT_EVERY = 0.25  # seconds: how long finished grades may wait to be committed together


class AutogradeError(WorkbenchError):
    """The class cannot be graded as asked (no submissions found, unknown lab)."""


@dataclass
class Found:
    student: str
    path: Path
    submitted: datetime
    folder: Path | None = None  # nbgrader's submitted/<student>/<assignment>/: its other files go in too


@dataclass
class Summary:
    graded: int = 0
    skipped: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # about the source, for the instructor (stderr)
    workers: Costs = field(default_factory=Costs)  # started, cloned or reused, and the seconds that cost


def _nbgrader_timestamp(folder: Path) -> datetime | None:
    """nbgrader's ``timestamp.txt`` ("2015-02-02 14:58:23.948203 America/Los_Angeles")."""
    stamp = folder / "timestamp.txt"
    if not stamp.is_file():
        return None
    parts = stamp.read_text().split()
    try:
        when = datetime.fromisoformat(" ".join(parts[:2]))
    except (ValueError, IndexError):
        return None
    if len(parts) > 2:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            return when.replace(tzinfo=ZoneInfo(parts[2]))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return when.replace(tzinfo=timezone.utc)


def discover(root: Path, lab: str, notebook_name: str) -> list[Found]:
    """Submissions of ``lab`` under ``root``, one per student, in either layout:
    ``root/<student>/<lab>.ipynb``, or nbgrader's ``[submitted/]<student>/<assignment>/<notebook>``
    where the assignment is the lab or the lab's prefix (``ps1`` for lab ``ps1-problem1``). In
    nbgrader's layout the assignment folder is the student's hand-in: the files beside the notebook
    are graded with it (``lab_files.submitted``); a student folder of the first layout holds every lab,
    so nothing beside the notebook is taken from it."""
    if (root / "submitted").is_dir():
        root = root / "submitted"
    if not root.is_dir():
        raise AutogradeError(f"{root}: no such folder of submissions")
    found: list[Found] = []
    for student_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        candidates = [student_dir / f"{lab}.ipynb"]
        for sub in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if sub.name == lab or lab.startswith(sub.name + "-"):
                candidates += [sub / notebook_name, sub / f"{lab.removeprefix(sub.name + '-')}.ipynb"]
                inside = sorted(sub.glob("*.ipynb"))
                if sub.name == lab and len(inside) == 1:
                    candidates.append(inside[0])
        path = next((c for c in candidates if c.is_file()), None)
        if path is not None:
            when = _nbgrader_timestamp(path.parent) or datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
            found.append(Found(student_dir.name, path, when, path.parent if path.parent != student_dir else None))
    return found


def source_digest(source: Path) -> str:
    return hashlib.sha256(source.read_bytes()).hexdigest()


def register_found(store: Store, course: str, lab: str, found: list[Found], storage: Path, source_sha: str,
                   force: bool = False) -> tuple[list[tuple[int, Path]], int]:
    """Store every found file (temp + rename), then register them all in one transaction; return
    (pending, skipped count)."""
    incoming = []
    for item in found:
        try:
            files, refused = lab_files.submitted(item.folder), ""
        except lab_files.LabFilesError as exc:  # that student's submission fails, not the class
            files, refused = {}, exc.message
        path, sha = gradebook.store_file(item.path.read_bytes(), storage, course, lab, item.student, files)
        if refused:
            lab_files.refuse(path, refused)
        incoming.append(gradebook.Incoming(item.student, path, sha, item.submitted))
    pending: list[tuple[int, Path]] = []
    skipped = 0
    for stored, (sub_id, todo) in zip(incoming, gradebook.add_submissions(store, course, lab, incoming, source_sha),
                                      strict=True):
        if todo or force:
            pending.append((sub_id, stored.path))
        else:
            skipped += 1
    return pending, skipped


def stored_pending(store: Store, course: str, lab: str, source_sha: str,
                   force: bool = False) -> list[tuple[int, Path]]:
    """Each student's latest stored submission that is not yet graded against this source."""
    return [(sub_id, Path(path)) for sub_id, path, status, sha in gradebook.latest_stored(store, course, lab)
            if force or status != "graded" or sha != source_sha]


class _Pool:
    """The grading threads, each leasing a warm worker from ``workers`` and taking submissions from a
    queue, plus one writer thread that commits what they finished (one transaction per batch) while
    the workers go on grading.

    Threads start as soon as the pool exists, so ``autograde`` overlaps the workers' imports (seconds
    with torch) with storing and registering the class. At the end every worker is given back, in the
    reverse order of leasing (clones before the worker they came from), and each thread stays alive,
    idle, until then: bwrap runs with --die-with-parent, and Linux ties that to the *thread* that
    started it (``OwnWorkers`` starts them on these threads; a ``WarmPool`` on its own)."""

    def __init__(self, workers: WorkerSource, count: int,
                 grade_one: Callable[[int, Path, WarmWorker | None], gradebook.Outcome],
                 commit: Callable[[list[gradebook.Outcome]], None]) -> None:
        self.source, self.grade_one, self.commit = workers, grade_one, commit
        self.jobs: queue.Queue[tuple[int, Path] | None] = queue.Queue()
        self.results: queue.Queue[gradebook.Outcome | None] = queue.Queue()
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.count = count
        self.workers: list[WarmWorker] = []
        self.idle = [threading.Event() for _ in range(count)]
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._work, args=(i,), name=f"autograde-{i}", daemon=True)
                        for i in range(count)]
        self.writer = threading.Thread(target=self._write, name="autograde-writer", daemon=True)
        for thread in [*self.threads, self.writer]:
            thread.start()

    def _worker(self, index: int) -> WarmWorker | None:
        worker = self.source.lease(index, self.stop)
        if worker is not None:
            with self.lock:
                self.workers.append(worker)
        return worker

    def _work(self, index: int) -> None:
        try:
            worker = self._worker(index)
            while not self.stop.is_set():
                job = self.jobs.get()
                if job is None:
                    return
                if worker is not None and not worker.alive():
                    with self.lock:
                        self.workers.remove(worker)
                    self.source.give_back(worker)
                    worker = self._worker(index)
                self.results.put(self.grade_one(job[0], job[1], worker))
        except BaseException as exc:  # surfaced by the main thread (unless we were told to stop)
            if not self.stop.is_set():
                self.errors.append(exc)
            self.stop.set()
        finally:
            self.idle[index].set()
            self.release.wait()

    def _write(self) -> None:
        """Commit what the workers finished, in batches: what arrives within ``COMMIT_EVERY`` of the
        first result of a batch (so a crash re-grades at most that much work)."""
        done = False
        while not done:
            batch = [self.results.get()]
            until = time.monotonic() + COMMIT_EVERY
            while batch[-1] is not None and (left := until - time.monotonic()) > 0:
                try:
                    batch.append(self.results.get(timeout=left))
                except queue.Empty:
                    break
            done = batch[-1] is None
            outcomes = [o for o in batch if o is not None]
            if not outcomes:
                continue
            try:
                self.commit(outcomes)
            except BaseException as exc:
                self.errors.append(exc)
                self.stop.set()

    def run(self, pending: list[tuple[int, Path]]) -> None:
        """Grade ``pending``, wait for every result to be committed, re-raise a worker's error."""
        for job in pending:
            self.jobs.put(job)
        self.close()

    def close(self) -> None:
        """No more jobs: let the workers finish (or stop them at Ctrl-C), then commit what is graded."""
        for _ in range(self.count):
            self.jobs.put(None)
        try:
            for idle in self.idle:
                while not idle.wait(0.2):
                    pass
        except KeyboardInterrupt:
            self.stop.set()  # finished submissions are committed; the rest stay queued for the next run
            raise
        finally:
            self.results.put(None)
            self.writer.join()
            with self.lock:
                workers, self.workers = self.workers, []
            for worker in reversed(workers):
                self.source.give_back(worker)
            self.release.set()
        if self.errors:
            raise self.errors[0]


def _worker_count(workers: int | None, submissions: int) -> int:
    """How many workers a run starts: the asked (else the default) number, no more than submissions."""
    return max(1, min(workers or default_workers(), submissions))


def default_workers() -> int:
    """Two sandboxes per core. A warm sandbox's life is not all CPU: it waits for its predecessor to
    be reaped and for each cell's reply, so with one per core the cores idle between submissions;
    measured on two cores, a torch class of 40 took 0.47 s warm on 2 workers, 0.41 s on 3 and 0.37 s
    on 4, and a class of 200 was faster too (docs/benchmarks.md, "Two workers per core")."""
    return 2 * (os.cpu_count() or 1)


def autograde(store: Store, course: str, lab: str, source: Path, found: list[Found], storage: Path,
              workers: int | None = None, limits: Limits | None = None, policy: gradebook.LatePolicy | None = None,
              unsafe_no_sandbox: bool = False, data_dir: Path | None = None, progress: bool = True,
              force: bool = False, python: str = "") -> Summary:
    """Store and register every submission, then grade the pending ones on ``workers`` warm workers
    (started first, so their imports overlap the registration); ``python`` as in ``grade_pending``."""
    require_sandbox(unsafe_no_sandbox)
    grading = _Grading(store, lab, source, limits, policy, unsafe_no_sandbox, data_dir, python)
    pool = grading.pool(_worker_count(workers, len(found))) if found else None
    try:
        pending, skipped = register_found(store, course, lab, found, storage, grading.source_sha, force)
    except BaseException:
        if pool is not None:
            pool.stop.set()
            with contextlib.suppress(BaseException):
                pool.close()
        raise
    summary = grading.run(pool, pending, progress)
    summary.skipped = skipped
    return summary


def grade_pending(store: Store, lab: str, source: Path, pending: list[tuple[int, Path]],
                  workers: int | None = None,
                  limits: Limits | None = None, policy: gradebook.LatePolicy | None = None,
                  unsafe_no_sandbox: bool = False, data_dir: Path | None = None, progress: bool = True,
                  python: str = "", warm: WarmPool | None = None) -> Summary:
    """Grade registered submissions in parallel; each result is committed as soon as it is known.
    ``python`` is the setting ``Workbench.effective_lab_python``: the labs' interpreter, '' for ours.
    ``warm``: the server's pool, whose workers outlive this run (else the run starts and closes its own)."""
    require_sandbox(unsafe_no_sandbox)
    grading = _Grading(store, lab, source, limits, policy, unsafe_no_sandbox, data_dir, python)
    if not pending:
        return grading.summary
    return grading.run(grading.pool(_worker_count(workers, len(pending)), warm), pending, progress)


class _Grading:
    """One lab's grading run: the source, the limits, the summary, and how one submission is graded."""

    def __init__(self, store: Store, lab: str, source: Path, limits: Limits | None,
                 policy: gradebook.LatePolicy | None, unsafe_no_sandbox: bool, data_dir: Path | None,
                 python: str) -> None:
        self.store, self.lab, self.source, self.data_dir = store, lab, source, data_dir
        self.python = lab_python.resolve(python)  # before anything is stored: a wrong setting stops here
        self.limits = limits or Limits()
        self.policy = policy or gradebook.LatePolicy()
        self.unsafe = unsafe_no_sandbox
        self.source_nb = read_notebook(source, "source notebook")
        self.source_sha = source_digest(source)
        self.released = lab_files.released(source)  # read once per class; read-only in every sandbox
        lab_files.check_clash(self.released, data_dir, source.parent)
        self.preload = preload_for([c.source for c in self.source_nb.cells if c.cell_type == "code"])
        self.summary = Summary()
        with contextlib.suppress(GradingInputError):  # a bad source fails each submission, with the reason
            if not source_tasks(self.source_nb, source):
                self.summary.warnings.append(f"{source}: {NO_GRADED_CELLS}")
        self.lock = threading.Lock()
        self.bar: Any = None
        self.cold = unsafe_no_sandbox and bwrap_path() is None  # no bwrap: the accepted-risk, unsandboxed path
        self.workers: WorkerSource = OwnWorkers(self.start_worker)  # or the server's pool (``pool``)

    def pool(self, count: int, warm: WarmPool | None = None) -> _Pool:
        sweep_stale()
        if warm is not None and not self.cold:
            self.workers = warm.workers(ImageKey.of(self.python, self.preload, self.data_dir, self.limits),
                                        self.start_worker)
        return _Pool(self.workers, count, self.grade_one, self.commit)

    def start_worker(self, index: int, cancel: threading.Event | None = None) -> WarmWorker | None:
        if self.cold:
            return None
        return WarmWorker(index, self.limits, self.preload, data_dir=self.data_dir, cancel=cancel,
                          python=self.python)

    def grade_one(self, sub_id: int, path: Path, worker: WarmWorker | None) -> gradebook.Outcome:
        """Grade on the worker's thread; the pool's writer thread commits the outcome."""
        try:
            plan = make_plan(self.source_nb, read_notebook(path, "submission"), self.source)
            files = {**lab_files.for_sandbox(self.released, lab_files.stored_files(path), self.data_dir),
                     path.name: path.read_bytes()}
            spec = SandboxSpec(limits=self.limits, files=files, released=self.released, data_dir=self.data_dir,
                               preload=self.preload, unsafe_no_sandbox=self.unsafe, python=self.python,
                               launcher=worker.launcher if worker is not None else None)
            return gradebook.Outcome(sub_id, result=grade_plan(plan, spec))
        except (GradingInputError, lab_files.LabFilesError) as exc:
            return gradebook.Outcome(sub_id, failure=exc.message)

    def commit(self, outcomes: list[gradebook.Outcome]) -> None:
        gradebook.record(self.store, outcomes, self.source_sha, self.policy)
        with self.lock:
            for outcome in outcomes:
                if outcome.result is None:
                    self.summary.failed += 1
                    self.summary.problems.append(outcome.failure)
                else:
                    self.summary.graded += 1
        if self.bar is not None:
            self.bar.update(len(outcomes))

    def run(self, pool: _Pool | None, pending: list[tuple[int, Path]], progress: bool) -> Summary:
        if pool is None:
            return self.summary
        if not pending:
            pool.stop.set()  # nothing to grade: the workers that were starting are closed
            pool.close()
            return self.summary
        from tqdm import tqdm

        self.bar = tqdm(total=len(pending), desc=f"autograde {self.lab}", unit="sub", file=sys.stderr,
                        disable=not progress)
        try:
            pool.run(pending)
        finally:
            self.bar.close()
            self.summary.workers = self.workers.costs
        return self.summary


def summary_json(summary: Summary) -> dict[str, Any]:
    return {"graded": summary.graded, "skipped": summary.skipped, "failed": summary.failed,
            "problems": summary.problems}
