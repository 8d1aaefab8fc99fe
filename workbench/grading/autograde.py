"""Grade a whole class: find the submissions, store them, and grade the new ones in parallel on
warm workers, committing each result as soon as it is known.

Why this shape: a class re-run after a crash or Ctrl-C must neither lose nor repeat work, so every
submission is stored and registered (hash row) before grading starts, and each one's grades are
written in their own transaction; what was graded against the same source is skipped next time.
The heavy imports are paid once per worker (``warm.py``), not once per submission.
"""

from __future__ import annotations

import hashlib
import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.grading import gradebook
from workbench.grading.grade import grade_plan
from workbench.grading.merge import GradingInputError, make_plan, read_notebook
from workbench.grading.sandbox import (
    Limits,
    SandboxSpec,
    SandboxUnavailable,
    bwrap_path,
    require_sandbox,
    sweep_stale,
)
from workbench.grading.warm import WarmWorker, preload_for
from workbench.store import Store


class AutogradeError(WorkbenchError):
    """The class cannot be graded as asked (no submissions found, unknown lab)."""


@dataclass
class Found:
    student: str
    path: Path
    submitted: datetime


@dataclass
class Summary:
    graded: int = 0
    skipped: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)


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
    where the assignment is the lab or the lab's prefix (``ps1`` for lab ``ps1-problem1``)."""
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
            found.append(Found(student_dir.name, path, when))
    return found


def _worker_loop(jobs: queue.Queue[tuple[int, Path] | None], make_worker: Callable[[int], WarmWorker | None],
                 index: int, grade_one: Callable[[int, Path, WarmWorker | None], None], stop: threading.Event,
                 errors: list[BaseException]) -> None:
    worker: WarmWorker | None = None
    try:
        worker = make_worker(index)
        while not stop.is_set():
            job = jobs.get()
            if job is None:
                return
            if worker is not None and not worker.alive():
                worker.close()
                worker = make_worker(index)
            grade_one(job[0], job[1], worker)
    except BaseException as exc:  # surfaced by the main thread
        errors.append(exc)
        stop.set()
    finally:
        if worker is not None:
            worker.close()


def source_digest(source: Path) -> str:
    return hashlib.sha256(source.read_bytes()).hexdigest()


def register_found(store: Store, course: str, lab: str, found: list[Found], storage: Path, source_sha: str,
                   force: bool = False) -> tuple[list[tuple[int, Path]], int]:
    """Store every found file (temp + rename) with its hash row; return (pending, skipped count)."""
    pending: list[tuple[int, Path]] = []
    skipped = 0
    for item in found:
        path, sha = gradebook.store_file(item.path.read_bytes(), storage, course, lab, item.student)
        sub_id, todo = gradebook.add_submission(store, course, lab, item.student, path, sha, item.submitted,
                                                source_sha)
        if todo or force:
            pending.append((sub_id, path))
        else:
            skipped += 1
    return pending, skipped


def stored_pending(store: Store, course: str, lab: str, source_sha: str,
                   force: bool = False) -> list[tuple[int, Path]]:
    """Each student's latest stored submission that is not yet graded against this source."""
    latest = gradebook.submissions(store, course, lab, latest_only=True)
    pending = []
    for sub in latest:
        if force or sub["status"] != "graded" or sub["source_sha256"] != source_sha:
            pending.append((sub["id"], Path(gradebook.stored_path(store, sub["id"]))))
    return pending


def autograde(store: Store, course: str, lab: str, source: Path, found: list[Found], storage: Path,
              workers: int = 2, limits: Limits | None = None, policy: gradebook.LatePolicy | None = None,
              unsafe_no_sandbox: bool = False, data_dir: Path | None = None, progress: bool = True,
              force: bool = False) -> Summary:
    """Store and register every submission, then grade the pending ones on ``workers`` warm workers."""
    require_sandbox(unsafe_no_sandbox)
    pending, skipped = register_found(store, course, lab, found, storage, source_digest(source), force)
    summary = grade_pending(store, lab, source, pending, workers, limits, policy, unsafe_no_sandbox, data_dir,
                            progress)
    summary.skipped = skipped
    return summary


def grade_pending(store: Store, lab: str, source: Path, pending: list[tuple[int, Path]], workers: int = 2,
                  limits: Limits | None = None, policy: gradebook.LatePolicy | None = None,
                  unsafe_no_sandbox: bool = False, data_dir: Path | None = None, progress: bool = True) -> Summary:
    """Grade registered submissions in parallel; each result is committed as soon as it is known."""
    require_sandbox(unsafe_no_sandbox)
    limits = limits or Limits()
    policy = policy or gradebook.LatePolicy()
    source_nb = read_notebook(source, "source notebook")
    source_sha = source_digest(source)
    summary = Summary()
    if not pending:
        return summary
    sweep_stale()
    preload = preload_for([c.source for c in source_nb.cells if c.cell_type == "code"])
    lock = threading.Lock()
    from tqdm import tqdm

    bar = tqdm(total=len(pending), desc=f"autograde {lab}", unit="sub", file=sys.stderr, disable=not progress)

    cold = unsafe_no_sandbox and bwrap_path() is None  # no bwrap: the accepted-risk, unsandboxed path

    def make_worker(index: int) -> WarmWorker | None:
        if cold:
            return None
        return WarmWorker(index, limits, preload, data_dir=data_dir)

    def grade_one(sub_id: int, path: Path, worker: WarmWorker | None) -> None:
        try:
            plan = make_plan(source_nb, read_notebook(path, "submission"), source)
            spec = SandboxSpec(limits=limits, files={path.name: path.read_bytes()}, data_dir=data_dir,
                               preload=preload, unsafe_no_sandbox=unsafe_no_sandbox,
                               launcher=worker.launcher if worker is not None else None)
            result = grade_plan(plan, spec)
        except GradingInputError as exc:
            gradebook.record_failure(store, sub_id, exc.message)
            with lock:
                summary.failed += 1
                summary.problems.append(exc.message)
        except SandboxUnavailable:
            raise
        else:
            gradebook.record_result(store, sub_id, result, source_sha, policy)
            with lock:
                summary.graded += 1
        bar.update(1)

    jobs: queue.Queue[tuple[int, Path] | None] = queue.Queue()
    for job in pending:
        jobs.put(job)
    count = max(1, min(workers, len(pending)))
    for _ in range(count):
        jobs.put(None)
    stop = threading.Event()
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_worker_loop, args=(jobs, make_worker, i, grade_one, stop, errors),
                                name=f"autograde-{i}", daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except KeyboardInterrupt:
        stop.set()  # finished submissions are committed; the rest stay queued for the next run
        raise
    finally:
        bar.close()
    if errors:
        raise errors[0]
    return summary


def summary_json(summary: Summary) -> dict[str, Any]:
    return {"graded": summary.graded, "skipped": summary.skipped, "failed": summary.failed,
            "problems": summary.problems}
