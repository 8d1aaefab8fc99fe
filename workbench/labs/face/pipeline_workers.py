"""The face pipeline in worker processes, one per core (two at most), each taking the next detection or embedding.

Why processes: MindSpore graphs launched from two Python threads of one process ran 3x slower than one
after the other (docs/benchmarks.md, 2026-12-03), so the torch way of using two cores (detect photo i + 1
on one thread while photo i is embedded on another) loses there; each process owns a MindSpore runtime.
Why every worker can run both stages rather than one stage each: one stage per process was tried first,
and on MindSpore the stages are unbalanced (detection 21.7 CPU ms per face, alignment and embedding 18.8),
so the detection process set the pace: 26.6 ms per face over the lab's seven photos (2026-12-03, load 2.2).
Workers that take whichever task comes next (:meth:`PipelineWorkers.run`) keep both cores busy whatever
the split between the stages.
Why each pinned to one core: unpinned, each runtime's threads (frontend queue, actor, kernel) spread over
both cores and wait on each other's hand-offs; two MindSpore processes side by side took 30 and 25 ms per
face for detection and embedding unpinned, 21 and 15.5 pinned (2026-12-03, load ~1.3).

Photos travel through shared-memory files (a 10 MB photo through a pipe costs milliseconds of copying on
each side), one per photo in flight; only boxes and descriptors go through the pipes. Every wait also watches each
worker's process sentinel, so a worker that dies raises :class:`PipelineWorkerError` naming it, never a hang.
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
import os
import tempfile
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing import connection, get_context
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import numpy as np

from workbench.labs.face.descriptor import Descriptor
from workbench.labs.face.detect import Box, Detector

SHARED_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None  # memory-backed files where Linux has them
MAX_WAITING = 2  # detected photos waiting for a worker to embed them, at most


class PipelineWorkerError(RuntimeError):
    """A pipeline worker process died or failed; the message names the process, the photo and what happened."""


@dataclass(frozen=True)
class Recipe:
    """What a worker process needs to load the pipeline itself: plain values, so they cross a spawn."""

    detect_framework: str
    mtcnn_folder: Path
    side: int
    min_face: float
    embed_framework: str
    face_api_folder: Path


def recipe(detector: Detector, net: Descriptor) -> Recipe:
    """The recipe that rebuilds ``detector`` and ``net`` in another process."""
    if net.folder is None:
        raise ValueError("the descriptor was not loaded from a folder (descriptor.load); a worker cannot rebuild it")
    return Recipe(detector.mtcnn.framework, detector.folder, detector.side, detector.min_face, net.framework,
                  net.folder)


class SharedPhoto:
    """An RGB photo's pixels in a memory-backed file another process maps: written here, read there."""

    def __init__(self) -> None:
        handle, name = tempfile.mkstemp(prefix="face-photo-", dir=SHARED_DIR)
        os.close(handle)
        self.path, self.capacity = name, 0
        self._map: mmap.mmap | None = None
        self._remove = weakref.finalize(self, os.unlink, name)

    def write(self, rgb: np.ndarray) -> tuple[str, tuple[int, ...]]:
        """Copy ``rgb`` in (growing the file if needed); returns what :meth:`PhotoViews.view` needs."""
        if rgb.nbytes > self.capacity:
            if self._map is not None:
                self._map.close()
                self._map = None
            with open(self.path, "r+b") as file:
                try:  # space taken now: a full tmpfs is then this clear error, not a SIGBUS on the copy
                    os.posix_fallocate(file.fileno(), 0, rgb.nbytes)
                except OSError as err:
                    raise OSError(err.errno, f"no room for a {rgb.nbytes / 1e6:.1f} MB photo in "
                                  f"{os.path.dirname(self.path)} ({err.strerror}): free space there") from None
                self._map, self.capacity = mmap.mmap(file.fileno(), rgb.nbytes), rgb.nbytes
        np.copyto(np.ndarray(rgb.shape, np.uint8, self._map), rgb)
        return self.path, rgb.shape

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        self._remove()


class PhotoViews:
    """A worker's mappings of the shared files, kept across photos: views of the photos :class:`SharedPhoto` writes.

    Why kept: mapping a file afresh for every task made each read of its pages a page fault, ~1.1 ms of CPU
    for a 10 MB photo (one pinned core, 2026-12-03); a kept shared mapping sees each rewrite as it is. A file
    only grows, so a mapping smaller than the photo is replaced.
    """

    def __init__(self) -> None:
        self._maps: dict[str, mmap.mmap] = {}

    def view(self, path: str, shape: tuple[int, ...]) -> np.ndarray:
        """A copy-free view of the photo in ``path`` (valid until it is rewritten)."""
        size, held = int(np.prod(shape)), self._maps.get(path)
        if held is None or len(held) < size:
            with open(path, "rb") as file:
                self._maps[path] = held = mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ)
        return np.ndarray(shape, np.uint8, held)


def build_pipeline(recipe: Recipe) -> Callable[..., Any]:
    """What a worker runs: ``("detect", path, shape)`` -> boxes, ``("embed", path, shape, boxes)`` -> descriptors.

    Both stages are loaded in every worker, on one intra-op thread per framework (the worker owns one core).
    """
    from workbench.labs.face import align, descriptor

    if "mindspore" in (recipe.detect_framework, recipe.embed_framework):
        import mindspore

        # GRAPH_MODE is safe here (this process is ours) and calls compiled graphs 0.8 ms faster (graph_batches)
        mindspore.set_context(runtime_num_threads=1, mode=mindspore.GRAPH_MODE)
    if "torch" in (recipe.detect_framework, recipe.embed_framework):
        import torch

        torch.set_num_threads(1)
    detector = Detector(recipe.mtcnn_folder, recipe.detect_framework, recipe.side, recipe.min_face)
    net = descriptor.load(recipe.face_api_folder, recipe.embed_framework)
    photos = PhotoViews()

    def work(task: str, path: str, shape: tuple[int, ...], boxes: list[Box] | None = None) -> Any:
        rgb = photos.view(path, shape)
        if task == "detect":
            return detector.detect(rgb)
        return net.embed(align.crops(rgb, [b.landmarks for b in boxes or []]))

    return work


def serve(pipe: connection.Connection, recipe: Recipe, core: int | None) -> None:
    """A worker's life: pin to ``core``, load the pipeline, then answer photos until ``None`` or the pipe closes."""
    if core is not None:
        os.sched_setaffinity(0, {core})
    try:
        work = build_pipeline(recipe)
    except Exception as err:  # reported to the parent, which raises it with the worker's name
        pipe.send(("error", f"{type(err).__name__}: {err}"))
        return
    pipe.send(("ready", None))
    while True:
        try:
            request = pipe.recv()
        except EOFError:  # the parent has gone
            return
        if request is None:
            return
        try:
            pipe.send(("ok", work(*request)))
        except Exception as err:
            pipe.send(("error", f"{type(err).__name__}: {err}"))


class Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, recipe: Recipe, number: int, core: int | None) -> None:
        self.name = f"face pipeline worker {number}" + ("" if core is None else f" (core {core})")
        parent_end, child_end = get_context("spawn").Pipe()
        self.pipe = parent_end
        self.process: BaseProcess = get_context("spawn").Process(
            target=serve, args=(child_end, recipe, core), name=f"face-pipeline-{number}", daemon=True)
        self.process.start()
        child_end.close()

    def send(self, request: tuple[Any, ...], doing: str) -> None:
        try:
            self.pipe.send(request)
        except (BrokenPipeError, ConnectionResetError):
            raise self.died(doing) from None

    def receive(self, doing: str) -> Any:
        """The worker's answer; :class:`PipelineWorkerError` if it died first or failed on the request."""
        ready = connection.wait([self.pipe, self.process.sentinel])
        try:
            if self.pipe not in ready:
                raise EOFError
            status, payload = self.pipe.recv()
        except (EOFError, ConnectionResetError, OSError):
            raise self.died(doing) from None
        if status == "error":
            raise PipelineWorkerError(f"the {self.name}, pid {self.process.pid}, failed {doing}: {payload}")
        return payload

    def died(self, doing: str) -> PipelineWorkerError:
        self.process.join(timeout=5)
        return PipelineWorkerError(
            f"the {self.name} process (pid {self.process.pid}) exited with code {self.process.exitcode} {doing}; "
            "the pipeline stopped its workers and starts new ones on its next call")

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):  # it may be exiting already
                self.pipe.send(None)
            self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.pipe.close()


@dataclass
class Photo:
    """A photo in flight: its number, the shared file holding it, where that is, its boxes once detected, and
    the descriptors of its embedding tasks (by first face) once done, out of ``tasks``."""

    number: int
    slot: SharedPhoto
    where: tuple[str, tuple[int, ...]]
    boxes: list[Box] | None = None
    parts: dict[int, np.ndarray] = field(default_factory=dict)
    tasks: int = 0


class PipelineWorkers:
    """Up to ``count`` worker processes, one per core this process may use, each pinned to its core.

    Why long-lived: a worker takes seconds to start (imports, weights, compiled graphs), so they are
    started once per pipeline and kept for every later run, until :meth:`close`.
    """

    def __init__(self, detector: Detector, net: Descriptor, count: int = 2) -> None:
        allowed = sorted(os.sched_getaffinity(0))[:count]
        cores: list[int | None] = [*allowed] if len(allowed) >= 2 else [None]  # one core: one worker, unpinned
        plan = recipe(detector, net)
        self.workers = [Worker(plan, number, core) for number, core in enumerate(cores)]
        self.slots: list[SharedPhoto] = []  # every shared file made; the free ones are lent again
        self._stop = weakref.finalize(self, stop_all, self.workers, self.slots)
        try:
            for worker in self.workers:
                worker.receive("while starting")
        except PipelineWorkerError:
            self.close()
            raise

    def run(self, photos: Iterable[np.ndarray]) -> list[tuple[np.ndarray, list[Box]]]:
        """Descriptors and boxes of every photo, in order.

        Each photo is a detection task, then alignment-and-embedding tasks, and a free worker takes the next
        photo's detection while fewer than :data:`MAX_WAITING` embedding tasks wait, else the oldest waiting
        embedding (a photo may be detected in one worker and embedded in another: both read its shared
        file). Once every photo has been taken, a photo's faces are split into one embedding task per worker,
        so none idles while the last photo's faces are embedded. Why tasks, not whole photos: whole photos
        dealt to two workers left one idle while the other finished the last photo (25.3 ms per face over
        the lab's seven photos against the ~19.5 their CPU time allowed). ``photos`` may be a generator: a
        photo is read only when a worker is free to detect it, so few photos are held at once.
        """
        numbered = enumerate(photos)
        upcoming = next(numbered, None)  # read one ahead, to know when the last photo has been taken
        free_slots = list(self.slots)
        waiting: list[tuple[Photo, slice]] = []  # embedding tasks (a photo, which of its faces), oldest first
        busy: dict[Worker, tuple[Photo, slice | None]] = {}  # None: detecting
        done: dict[int, tuple[np.ndarray, list[Box]]] = {}

        def give(worker: Worker) -> None:
            nonlocal upcoming
            if upcoming is not None and len(waiting) < MAX_WAITING:
                (number, rgb), upcoming = upcoming, next(numbered, None)
                if not free_slots:
                    self.slots.append(SharedPhoto())
                    free_slots.append(self.slots[-1])
                slot = free_slots.pop()
                photo = Photo(number, slot, slot.write(np.asarray(rgb, np.uint8)))
                worker.send(("detect", *photo.where), f"while being sent photo {number}")
                busy[worker] = (photo, None)
                return
            if waiting:
                photo, faces = waiting.pop(0)
                request = ("embed", *photo.where, (photo.boxes or [])[faces])
                worker.send(request, f"while being sent photo {photo.number}'s faces")
                busy[worker] = (photo, faces)

        def detected(photo: Photo, boxes: list[Box]) -> None:
            photo.boxes = boxes
            pieces = min(len(boxes), 1 if upcoming is not None else len(self.workers))
            bounds = np.linspace(0, len(boxes), pieces + 1).astype(int)
            photo.tasks = pieces
            waiting.extend((photo, slice(a, b)) for a, b in itertools.pairwise(bounds))
            if not boxes:
                finish(photo)

        def finish(photo: Photo) -> None:
            vectors = [photo.parts[k] for k in sorted(photo.parts)] or [np.zeros((0, 128), np.float32)]
            done[photo.number] = (np.concatenate(vectors), photo.boxes or [])
            free_slots.append(photo.slot)

        for worker in self.workers:
            give(worker)
        while busy:
            ready = connection.wait([w.pipe for w in busy] + [w.process.sentinel for w in busy])
            for worker in [w for w in busy if w.pipe in ready or w.process.sentinel in ready]:
                photo, faces = busy.pop(worker)
                if faces is None:
                    detected(photo, worker.receive(f"while detecting faces in photo {photo.number}"))
                else:
                    photo.parts[faces.start] = worker.receive(f"while embedding the faces of photo {photo.number}")
                    if len(photo.parts) == photo.tasks:
                        finish(photo)
            for worker in [w for w in self.workers if w not in busy]:
                give(worker)
        return [done[i] for i in range(len(done))]

    def pids(self) -> list[int]:
        """The workers' process ids (to read their CPU time from outside)."""
        return [w.process.pid for w in self.workers if w.process.pid is not None]

    def close(self) -> None:
        """Stop the workers and remove the shared photo files."""
        self._stop()


def stop_all(workers: list[Worker], slots: list[SharedPhoto]) -> None:
    for worker in workers:
        worker.stop()
    for slot in slots:
        slot.close()
