"""The server's grading thread: stored submissions are graded one run at a time, off the event loop.

One queue per process that holds the store (a personal server, or the hub's workbench service).
A run that fails as a whole marks its still-queued submissions failed with the reason, and a
start re-queues what a killed predecessor left queued (``queue_state.resume``), so the
Feedback panel always ends on "graded" or "failed", never on a "queued" that nobody works on.
The runs share the process's ``WarmPool``: a lab image's warm workers outlive one run (closed after
``Workbench.grading_idle_s`` unused, and when the server stops), and ``runs`` keeps what the last
ones cost (``GET grading/workers``).
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from workbench.curriculum import catalog
from workbench.errors import WorkbenchError
from workbench.grading import autograde, queue_state
from workbench.grading.sandbox import Limits
from workbench.grading.warm_pool import WarmPool
from workbench.store import Store

RUNS_KEPT = 20  # the last grading runs ``GET grading/workers`` shows


class GradingQueue:
    def __init__(self, store: Store, log: logging.Logger | logging.LoggerAdapter, lab_python: str = "",
                 idle_s: float = 600.0) -> None:
        self.store = store
        self.lab_python = lab_python  # the server's own settings, command line included
        self.log = log
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbench-grading")
        self.warm = WarmPool(idle_s)
        self.runs: collections.deque[dict[str, Any]] = collections.deque(maxlen=RUNS_KEPT)

    def queue(self, course: str, lab: str, pending: list[tuple[int, Path]], workers: int | None = None) -> None:
        if not pending:
            return
        future = self.executor.submit(self._grade, course, lab, pending, workers)

        def done(f: concurrent.futures.Future[None]) -> None:
            if f.cancelled():  # shutting down: left queued, the next start resumes it
                return
            exc = f.exception()
            if exc is None:
                return
            reason = exc.message if isinstance(exc, WorkbenchError) else f"the grader failed: {exc!r}"
            failed = queue_state.fail_queued(self.store, [sub_id for sub_id, _ in pending], reason)
            self.log.error("workbench: grading %s/%s failed (%d submissions marked failed): %s",
                           course, lab, failed, reason)

        future.add_done_callback(done)

    def _grade(self, course: str, lab: str, pending: list[tuple[int, Path]], workers: int | None) -> None:
        began = time.monotonic()
        queue_state.begin(self.store, [sub_id for sub_id, _ in pending])
        source = catalog.lab_notebook(self.store, course, lab)
        data = Path(catalog.get_course_path(self.store, course)) / "data"
        summary = autograde.grade_pending(self.store, lab, source, pending, workers=workers, progress=False,
                                          limits=Limits.for_lab(catalog.lab_limits(self.store, course, lab)),
                                          data_dir=data if data.is_dir() else None,
                                          python=self.lab_python, warm=self.warm)
        self.runs.append({"course": course, "lab": lab, "submissions": len(pending), "graded": summary.graded,
                          "failed": summary.failed, "seconds": round(time.monotonic() - began, 3),
                          "workers": dataclasses.asdict(summary.workers)})

    def resume(self) -> int:
        """Queue again what a previous run of this server left queued; returns how many."""
        again = queue_state.resume(self.store)
        for (course, lab), pending in again.items():
            self.log.info("workbench: re-grading %d submission(s) of %s/%s left queued by a restart",
                          len(pending), course, lab)
            self.queue(course, lab, pending)
        return sum(len(p) for p in again.values())

    def close(self) -> None:
        """Let the run in progress finish; drop the rest (still queued: the next start resumes them);
        then close the warm workers."""
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.warm.close()
