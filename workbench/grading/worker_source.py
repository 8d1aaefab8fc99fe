"""Where one grading run gets its warm workers, and what getting them cost.

Two sources, one surface (``lease`` a worker for a grading thread, ``give_back`` it at the end):
- ``OwnWorkers``: the run's own (``workbench autograde``): worker 0 is started and pays the imports,
  the others are cloned from its ready image, and all are closed when the run ends;
- ``warm_pool.PoolWorkers``: the server's (``WarmPool``): workers kept between runs, so a second run
  of the same lab image pays no interpreter or import start at all.
``Costs`` records which happened, so a run can say whether it paid a start (and the server's
``GET grading/workers`` can show it).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from workbench.grading.warm import WarmWorker, WorkerError

StartWorker = Callable[[int, threading.Event], "WarmWorker | None"]
"""Start a fresh worker with index ``i`` (its sandboxes' uid); the event cancels a start in progress.
None: grading runs cold (unsandboxed by the instructor's explicit choice, no bwrap here)."""


@dataclass
class Costs:
    """How a run's workers came to be: started (interpreter and imports paid), cloned from a ready
    image (milliseconds), or reused from an earlier run (nothing); ``start_s`` sums the seconds the
    run's grading threads waited for started or cloned workers."""

    started: int = 0
    cloned: int = 0
    reused: int = 0
    start_s: float = 0.0

    def add(self, how: str, seconds: float) -> None:
        if how == "reused":
            self.reused += 1
            return
        if how == "started":
            self.started += 1
        else:
            self.cloned += 1
        self.start_s = round(self.start_s + seconds, 3)


class WorkerSource(Protocol):
    costs: Costs

    def lease(self, index: int, cancel: threading.Event) -> WarmWorker | None:
        """A worker for grading thread ``index``; None when ``cancel`` is set meanwhile (or grading is cold)."""

    def give_back(self, worker: WarmWorker) -> None:
        """The run is done with ``worker`` (or found it dead)."""


class OwnWorkers:
    """A run's own workers. Only worker 0 pays the imports; the others are clones of it, or started
    afresh when it is gone or cannot be cloned. The caller gives them back clones first (in the reverse
    order of leasing), and keeps each thread that started one alive until then: bwrap's
    ``--die-with-parent`` follows the *thread* that started it."""

    def __init__(self, start: StartWorker) -> None:
        self.start = start
        self.costs = Costs()
        self.first: WarmWorker | None = None
        self.first_ready = threading.Event()
        self.lock = threading.Lock()

    def lease(self, index: int, cancel: threading.Event) -> WarmWorker | None:
        began = time.monotonic()
        worker: WarmWorker | None = None
        how = "started"
        if index == 0 and not self.first_ready.is_set():
            try:
                worker = self.first = self.start(0, cancel)
            finally:
                self.first_ready.set()
        else:
            while not self.first_ready.wait(0.1):
                if cancel.is_set():
                    return None
            first = self.first
            if first is not None and first.alive():
                with contextlib.suppress(WorkerError):
                    worker, how = first.clone(index), "cloned"
            if worker is None:
                worker = self.start(index, cancel)
        if worker is not None:
            with self.lock:
                self.costs.add(how, time.monotonic() - began)
        return worker

    def give_back(self, worker: WarmWorker) -> None:
        worker.close()
