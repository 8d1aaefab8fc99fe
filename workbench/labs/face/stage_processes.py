"""Detection and embedding side by side in two worker processes, one core each: the MindSpore pipeline's overlap.

Why processes: MindSpore graphs launched from two Python threads of one process ran 3x slower than one
after the other (docs/benchmarks.md, 2026-12-03), so the torch way of overlapping (detect photo i + 1 on
one thread while photo i is embedded on another) loses there; each process owns a MindSpore runtime.
Why each pinned to one core: unpinned, each runtime's threads (frontend queue, actor, kernel) spread over
both cores and wait on each other's hand-offs; run side by side, detection took 30 and embedding 25 ms
per face, each pinned to its own core 21 and 15.5 (2026-12-03, load ~1.3).

Photos travel through two shared-memory files (a 10 MB photo through a pipe costs milliseconds of
copying on each side): the detection worker reads photo i from one while the embedding worker aligns
photo i - 1 from the other. Only boxes and descriptors go through the pipes. Every wait also watches the
worker's process sentinel, so a worker that dies raises :class:`StageWorkerError` naming it, never a hang.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing import connection, get_context
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import numpy as np

from workbench.labs.face.descriptor import Descriptor
from workbench.labs.face.detect import Box, Detector

SHARED_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None  # memory-backed files where Linux has them


class StageWorkerError(RuntimeError):
    """A stage's worker process died or failed; the message names the stage, the process and what happened."""


@dataclass(frozen=True)
class Recipe:
    """What a worker process needs to load its stage itself: plain values, so they cross a spawn."""

    stage: str  # "detect" or "embed"
    framework: str
    folder: Path
    side: int = 0
    min_face: float = 0.0


def recipes(detector: Detector, net: Descriptor) -> tuple[Recipe, Recipe]:
    """The detection and embedding recipes that rebuild ``detector`` and ``net`` in another process."""
    if net.folder is None:
        raise ValueError("the descriptor was not loaded from a folder (descriptor.load); a worker cannot rebuild it")
    return (Recipe("detect", detector.mtcnn.framework, detector.folder, detector.side, detector.min_face),
            Recipe("embed", net.framework, net.folder))


class SharedPhoto:
    """An RGB photo's pixels in a memory-backed file another process maps: written here, read there."""

    def __init__(self) -> None:
        handle, name = tempfile.mkstemp(prefix="face-photo-", dir=SHARED_DIR)
        os.close(handle)
        self.path, self.capacity = name, 0
        self._map: mmap.mmap | None = None
        self._remove = weakref.finalize(self, os.unlink, name)

    def write(self, rgb: np.ndarray) -> tuple[str, tuple[int, ...]]:
        """Copy ``rgb`` in (growing the file if needed); returns what :func:`read_photo` needs."""
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


def read_photo(path: str, shape: tuple[int, ...]) -> np.ndarray:
    """A private copy-free view of the photo a :class:`SharedPhoto` holds (valid until it is rewritten)."""
    with open(path, "rb") as file:
        view = mmap.mmap(file.fileno(), int(np.prod(shape)), access=mmap.ACCESS_READ)
    return np.ndarray(shape, np.uint8, view)


def build_stage(recipe: Recipe) -> Callable[..., Any]:
    """The stage a worker runs on each request, loaded on one intra-op thread (the worker owns one core)."""
    from workbench.labs.face import align, descriptor

    if recipe.framework == "mindspore":
        import mindspore

        mindspore.set_context(runtime_num_threads=1)
    else:
        import torch

        torch.set_num_threads(1)
    if recipe.stage == "detect":
        detector = Detector(recipe.folder, recipe.framework, recipe.side, recipe.min_face)
        return lambda path, shape: detector.detect(read_photo(path, shape))
    net = descriptor.load(recipe.folder, recipe.framework)

    def embed(path: str, shape: tuple[int, ...], boxes: list[Box]) -> np.ndarray:
        if not boxes:
            return np.zeros((0, 128), np.float32)
        return net.embed(align.crops(read_photo(path, shape), [b.landmarks for b in boxes]))

    return embed


def serve(pipe: connection.Connection, recipe: Recipe, core: int | None) -> None:
    """A worker's life: pin to ``core``, load the stage, then answer requests until ``None`` or the pipe closes."""
    if core is not None:
        os.sched_setaffinity(0, {core})
    try:
        work = build_stage(recipe)
    except Exception as err:  # reported to the parent, which raises it with the stage's name
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
    """One stage's process and the parent's end of its pipe."""

    def __init__(self, recipe: Recipe, core: int | None) -> None:
        self.stage = recipe.stage
        parent_end, child_end = get_context("spawn").Pipe()
        self.pipe = parent_end
        self.process: BaseProcess = get_context("spawn").Process(
            target=serve, args=(child_end, recipe, core), name=f"face-{recipe.stage}", daemon=True)
        self.process.start()
        child_end.close()

    def send(self, request: Any) -> None:
        try:
            self.pipe.send(request)
        except (BrokenPipeError, ConnectionResetError, OSError):
            raise self.died("while being sent a photo") from None

    def receive(self, doing: str) -> Any:
        """The worker's answer; :class:`StageWorkerError` if it died first or failed on the request."""
        ready = connection.wait([self.pipe, self.process.sentinel])
        try:
            if self.pipe not in ready:
                raise EOFError
            status, payload = self.pipe.recv()
        except (EOFError, ConnectionResetError, OSError):
            raise self.died(doing) from None
        if status == "error":
            raise StageWorkerError(f"the face {self.stage} worker (pid {self.process.pid}) failed {doing}: {payload}")
        return payload

    def died(self, doing: str) -> StageWorkerError:
        self.process.join(timeout=5)
        return StageWorkerError(
            f"the face {self.stage} worker process (pid {self.process.pid}) exited with code "
            f"{self.process.exitcode} {doing}; the pipeline stopped both workers and starts new ones on its next call")

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):  # it may be exiting already
                self.pipe.send(None)
            self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.pipe.close()


class StageProcesses:
    """A detection worker and an embedding worker, each pinned to its own core when two are allowed.

    Why a long-lived pair: a worker takes seconds to start (imports, weights, compiled graphs), so it
    is started once per pipeline and kept for every later run, until :meth:`close`.
    """

    def __init__(self, detector: Detector, net: Descriptor) -> None:
        cores = sorted(os.sched_getaffinity(0))
        pinned = cores[:2] if len(cores) >= 2 else [None, None]
        self.workers = [Worker(recipe, core) for recipe, core in zip(recipes(detector, net), pinned, strict=True)]
        self.slots = [SharedPhoto(), SharedPhoto()]
        self._stop = weakref.finalize(self, stop_all, self.workers, self.slots)
        try:
            for worker in self.workers:
                worker.receive("while starting")
        except StageWorkerError:
            self.close()
            raise

    def run(self, photos: Iterable[np.ndarray]) -> list[tuple[np.ndarray, list[Box]]]:
        """Descriptors and boxes of every photo, in order; photo i + 1 is detected while photo i is embedded.

        ``photos`` may be a generator: one photo is read ahead, so a large set never sits in memory at once.
        """
        detector, embedder = self.workers
        out: list[tuple[np.ndarray, list[Box]]] = []
        photo_iter = iter(photos)
        upcoming = next(photo_iter, None)
        if upcoming is None:
            return out
        where = self.slots[0].write(np.asarray(upcoming, np.uint8))
        detector.send(where)
        i, previous = 0, list[Box]()
        while True:
            boxes = detector.receive(f"while detecting faces in photo {i}")
            if i > 0:  # photo i - 1's slot is free again once its faces are embedded
                out.append((embedder.receive(f"while embedding the faces of photo {i - 1}"), previous))
            current, upcoming = where, next(photo_iter, None)
            if upcoming is not None:  # detection is the slower stage: start it first
                where = self.slots[(i + 1) % 2].write(np.asarray(upcoming, np.uint8))
                detector.send(where)
            embedder.send((*current, boxes))
            previous = boxes
            if upcoming is None:
                break
            i += 1
        out.append((embedder.receive(f"while embedding the faces of photo {i}"), previous))
        return out

    def close(self) -> None:
        """Stop both workers and remove the shared photo files."""
        self._stop()


def stop_all(workers: list[Worker], slots: list[SharedPhoto]) -> None:
    for worker in workers:
        worker.stop()
    for slot in slots:
        slot.close()
