"""The server's warm grading workers: kept between grading runs, per lab image, closed when idle.

Why: a run's own workers (``worker_source.OwnWorkers``) pay the interpreter start and the lab's
imports (numpy ~0.2 s, torch ~1.5 s) every run, which dominates an instructor's re-grade of a class
of 40 and every single student's Submit. The server process (a personal server, or the hub's
workbench service) owns one ``WarmPool``; a run leases workers from the *family* of its lab image
(``ImageKey``: what a worker was built with) and gives them back when it ends. A family is one
started worker (the *origin*, which paid the imports) and the clones forked from its ready image.

Isolation is the warm path's own, unchanged: a worker never runs student code; every submission
gets a fresh sandbox forked from it (``_zygote.py``), so keeping the worker longer keeps nothing of
any student. A family unused for ``idle_s`` is closed (clones first); a worker found dead (killed,
out of memory) is dropped and the next lease starts or clones a new one; ``close`` ends them all.

Workers are started on the pool's own thread, which lives until the pool closes: bwrap's
``--die-with-parent`` follows the *thread* that started it, and a grading run's threads end with it.
The same thread reclaims idle families.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.grading.lab_python import LabPython
from workbench.grading.sandbox import Limits
from workbench.grading.warm import WarmWorker, WorkerError
from workbench.grading.worker_source import Costs, StartWorker


@dataclass(frozen=True)
class ImageKey:
    """Everything a worker is built with: a family serves only runs that would build the same one
    (the labs' interpreter, the modules imported before forking, the course data bound into it, and
    the limits it was started under)."""

    python: str
    preload: tuple[str, ...]
    data_dir: str
    limits: tuple[Any, ...]

    @classmethod
    def of(cls, python: LabPython, preload: tuple[str, ...], data_dir: Path | None, limits: Limits) -> ImageKey:
        return cls(python.executable, preload, str(data_dir or ""), dataclasses.astuple(limits))


@dataclass(eq=False)
class _Family:
    """One image's workers: ``origin`` (started, the one clones are forked from), idle and leased ones."""

    origin: WarmWorker | None = None
    idle: list[WarmWorker] = field(default_factory=list)
    busy: set[WarmWorker] = field(default_factory=set)
    pending: int = 0  # starts and clones in flight: the family is not reclaimed under them
    last_used: float = field(default_factory=time.monotonic)
    started: int = 0  # how many times this family paid the interpreter and imports


class WarmPool:
    """Warm workers per lab image, shared by the grading runs of one server process."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self.cond = threading.Condition()
        self.families: dict[ImageKey, _Family] = {}
        self.slots: dict[WarmWorker, int] = {}  # the index each worker's sandboxes take their uid from
        self.taken: set[int] = set()  # those, and the ones reserved by starts and clones in flight
        self.calls: queue.Queue[tuple[Callable[[], WarmWorker | None], concurrent.futures.Future[Any]] | None]
        self.calls = queue.Queue()
        self.closed = False
        self.thread = threading.Thread(target=self._keep, name="workbench-warm-pool", daemon=True)
        self.thread.start()

    def workers(self, key: ImageKey, start: StartWorker) -> PoolWorkers:
        """A grading run's view of the family of ``key``; ``start`` builds a worker when none is left."""
        return PoolWorkers(self, key, start)

    def lease(self, key: ImageKey, start: StartWorker, cancel: threading.Event) -> tuple[WarmWorker | None, str]:
        """An idle worker of the family (``"reused"``), else a clone of its origin (``"cloned"``), else
        a fresh one started on the pool's thread (``"started"``; concurrent leases wait for it)."""
        while True:
            with self.cond:
                if self.closed:
                    raise WorkerError("the grading pool is closed: the server is stopping")
                family = self.families.setdefault(key, _Family())
                self._drop_dead(family)
                if family.idle:
                    idle = family.idle.pop()
                    family.busy.add(idle)
                    return idle, "reused"
                origin: WarmWorker | None = family.origin
                if origin is None and family.pending:  # the origin is being started: clone it once ready
                    if cancel.is_set():
                        return None, "started"
                    self.cond.wait(0.1)
                    continue
                family.pending += 1
                slot = min(set(range(len(self.taken) + 1)) - self.taken)
                self.taken.add(slot)
            worker: WarmWorker | None = None
            how = "started"
            try:
                if origin is not None and origin.alive():
                    try:
                        worker, how = origin.clone(slot), "cloned"
                    except WorkerError:
                        worker = None
                if worker is None:
                    worker, how = self._on_own_thread(functools.partial(start, slot, cancel)), "started"
            finally:
                with self.cond:
                    family.pending -= 1
                    if worker is None:
                        self.taken.discard(slot)
                    else:
                        self.slots[worker] = slot
                        family.busy.add(worker)
                        if how == "started":
                            family.started += 1
                            if family.origin is None or not family.origin.alive():
                                family.origin = worker
                    self.cond.notify_all()
            return worker, how

    def give_back(self, key: ImageKey, worker: WarmWorker) -> None:
        """Idle again, or closed when it died or the pool is closing."""
        with self.cond:
            family = self.families.get(key)
            if family is not None:
                family.busy.discard(worker)
                family.last_used = time.monotonic()
            keep = family is not None and not self.closed and worker.alive()
            if keep and family is not None:
                family.idle.append(worker)
            else:
                self._close(worker)
            self.cond.notify_all()

    def describe(self) -> list[dict[str, Any]]:
        """Each family for ``GET grading/workers``: the image, its workers (an origin's pid is its bwrap's
        on this host; a clone shares it), whether each is grading, and how long the family has been idle."""
        now = time.monotonic()
        with self.cond:
            return [{"python": key.python, "imports": list(key.preload),
                     "limits": dataclasses.asdict(Limits(*key.limits)), "started": family.started,
                     "idle_s": 0.0 if family.busy else round(now - family.last_used, 1),
                     "workers": [{"slot": self.slots.get(w), "pid": _pid(w), "clone": w.origin is not None,
                                  "busy": w in family.busy}
                                 for w in sorted([*family.busy, *family.idle], key=lambda w: self.slots.get(w, 0))]}
                    for key, family in self.families.items() if family.busy or family.idle]

    def close(self) -> None:
        """Close every worker (clones before their origins) and stop the pool's thread."""
        with self.cond:
            self.closed = True
            doomed = list(self.families.values())
            self.families = {}
        for family in doomed:
            self._close_family(family)
        self.calls.put(None)
        self.thread.join(timeout=30)

    def _on_own_thread(self, start: Callable[[], WarmWorker | None]) -> WarmWorker | None:
        future: concurrent.futures.Future[WarmWorker | None] = concurrent.futures.Future()
        self.calls.put((start, future))
        return future.result()

    def _keep(self) -> None:
        """The pool's thread: start workers when asked, reclaim idle families between requests."""
        while True:
            try:
                call = self.calls.get(timeout=min(5.0, max(0.05, self.idle_s / 4)))
            except queue.Empty:
                self._reclaim()
                continue
            if call is None:
                return
            start, future = call
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(start())
                except BaseException as exc:
                    future.set_exception(exc)
            self._reclaim()

    def _reclaim(self) -> None:
        now = time.monotonic()
        with self.cond:
            stale = [key for key, family in self.families.items()
                     if not family.busy and not family.pending and now - family.last_used >= self.idle_s]
            doomed = [self.families.pop(key) for key in stale]
        for family in doomed:
            self._close_family(family)

    def _close_family(self, family: _Family) -> None:
        with self.cond:
            workers = sorted([*family.idle, *family.busy], key=lambda w: w.origin is None)  # clones first
            family.idle, family.busy = [], set()
            for worker in workers:
                self._close(worker)

    def _drop_dead(self, family: _Family) -> None:
        """Idle workers that died (a clone dies with its origin) are closed; a dead origin is forgotten."""
        dead = sorted((w for w in family.idle if not w.alive()), key=lambda w: w.origin is None)
        for worker in dead:
            family.idle.remove(worker)
            self._close(worker)
        if family.origin is not None and not family.origin.alive():
            family.origin = None

    def _close(self, worker: WarmWorker) -> None:
        self.taken.discard(self.slots.pop(worker, -1))
        worker.close()


def _pid(worker: WarmWorker) -> int | None:
    origin = worker
    while origin.origin is not None:
        origin = origin.origin
    return origin.proc.pid if origin.proc is not None else None


class PoolWorkers:
    """One grading run's source of workers from a ``WarmPool`` (see ``worker_source.WorkerSource``)."""

    def __init__(self, pool: WarmPool, key: ImageKey, start: StartWorker) -> None:
        self.pool, self.key, self.start = pool, key, start
        self.costs = Costs()
        self.lock = threading.Lock()

    def lease(self, index: int, cancel: threading.Event) -> WarmWorker | None:
        began = time.monotonic()
        worker, how = self.pool.lease(self.key, self.start, cancel)
        if worker is not None:
            with self.lock:
                self.costs.add(how, time.monotonic() - began)
        return worker

    def give_back(self, worker: WarmWorker) -> None:
        self.pool.give_back(self.key, worker)
