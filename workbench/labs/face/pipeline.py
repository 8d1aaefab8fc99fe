"""The whole per-photo pipeline (detect, align, embed every face in one batch) and its stage timings.

Why one place: the lab's reference, its speed check and ``bench/face_latency.py`` must time the same
thing, stage by stage, so a student's pipeline is compared with this one on the same machine in the
same run, never with a number measured elsewhere.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from workbench.labs.face import align
from workbench.labs.face.descriptor import Descriptor
from workbench.labs.face.detect import Box, Detector
from workbench.labs.face.pipeline_workers import PipelineWorkerError, PipelineWorkers

STAGES = ("detect", "align", "embed")


@dataclass
class Pipeline:
    """Detect every face, align each to the canonical crop, embed them all in one batch."""

    detector: Detector
    net: Descriptor
    _workers: PipelineWorkers | None = field(default=None, init=False, repr=False, compare=False)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """(n, 128) descriptors of the ``n`` faces in ``rgb``, largest face first (n may be 0)."""
        return self.timed(rgb)[0]

    def timed(self, rgb: np.ndarray) -> tuple[np.ndarray, list[Box], dict[str, float]]:
        """Descriptors, boxes and milliseconds per stage for one photo."""
        t0 = time.perf_counter()
        boxes = self.detector.detect(rgb)
        t1 = time.perf_counter()
        crops = align.crops(rgb, [b.landmarks for b in boxes])
        t2 = time.perf_counter()
        vectors = self.net.embed(crops) if boxes else np.zeros((0, 128), np.float32)
        t3 = time.perf_counter()
        return vectors, boxes, dict(zip(STAGES, (1e3 * (t1 - t0), 1e3 * (t2 - t1), 1e3 * (t3 - t2)), strict=True))

    def overlapped(self, photos: Iterable[np.ndarray]) -> list[np.ndarray]:
        """Descriptors of every photo (a sequence or a generator), using both cores.

        Why: on two cores, two single-threaded stages side by side keep both busy without the
        intra-op thread barriers that make a 2-thread convolution crawl when another process
        takes a core; per face, the time is then the slower stage's, not the sum.
        On torch the two stages are two threads of this process. When both stages run on MindSpore, the
        photos go to two worker processes instead, one pinned to each core, each taking the next
        detection or embedding task (:mod:`.pipeline_workers`; started on the first call, kept until
        :meth:`close`): MindSpore graphs launched from two Python threads of one process at once ran 3x
        slower than one after the other (2026-12-03, docs/benchmarks.md).
        """
        if self.detector.mtcnn.framework == self.net.framework == "mindspore":
            return [vectors for vectors, _ in self.in_processes(photos)]
        out: list[np.ndarray] = []
        with ThreadPoolExecutor(1) as pool:
            pending: Future[np.ndarray] | None = None
            for rgb in photos:
                boxes = self.detector.detect(rgb)
                crops = align.crops(rgb, [b.landmarks for b in boxes])
                if pending is not None:
                    out.append(pending.result())
                pending = pool.submit(self.net.embed, crops) if boxes else None
                if pending is None:
                    out.append(np.zeros((0, 128), np.float32))
            if pending is not None:
                out.append(pending.result())
        return out

    def in_processes(self, photos: Iterable[np.ndarray]) -> list[tuple[np.ndarray, list[Box]]]:
        """Descriptors and boxes of every photo from this pipeline's worker processes (one per core, two at most).

        A worker that dies raises :class:`.PipelineWorkerError`; the workers are then stopped, and the next
        call starts new ones.
        """
        if self._workers is None:
            self._workers = PipelineWorkers(self.detector, self.net)
        try:
            return self._workers.run(photos)
        except PipelineWorkerError:
            self.close()
            raise

    def worker_pids(self) -> list[int]:
        """The process ids of the workers :meth:`overlapped` started (none on torch, or before its first call)."""
        return [] if self._workers is None else self._workers.pids()

    def close(self) -> None:
        """Stop the worker processes :meth:`overlapped` started, if any."""
        if self._workers is not None:
            self._workers.close()
            self._workers = None


def stage_ms_per_face(pipeline: Pipeline, photos: Sequence[np.ndarray], repeats: int = 3) -> dict[str, float]:
    """Median over ``repeats`` rounds of each stage's milliseconds per face, summed over ``photos``.

    One warm-up round first (MindSpore compiles a graph per batch size on its first call).
    """
    for rgb in photos:
        pipeline(rgb)
    rounds: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for _ in range(repeats):
        totals, faces = dict.fromkeys(STAGES, 0.0), 0
        for rgb in photos:
            vectors, _, ms = pipeline.timed(rgb)
            faces += len(vectors)
            for stage in STAGES:
                totals[stage] += ms[stage]
        for stage in STAGES:
            rounds[stage].append(totals[stage] / max(faces, 1))
    out = {stage: statistics.median(v) for stage, v in rounds.items()}
    return {**out, "total": sum(out.values())}


def overlapped_ms_per_face(pipeline: Pipeline, photos: Sequence[np.ndarray], repeats: int = 3,
                           warmups: int = 1) -> float:
    """Median over rounds of wall milliseconds per face for :meth:`Pipeline.overlapped` over ``photos``.

    ``warmups`` rounds first: on MindSpore each worker process compiles its own graph for each photo size
    and batch bucket it meets, and which worker meets which photo varies from round to round.
    """
    faces = 0
    for _ in range(warmups):
        faces = sum(len(v) for v in pipeline.overlapped(photos))
    rounds = []
    for _ in range(repeats):
        start = time.perf_counter()
        pipeline.overlapped(photos)
        rounds.append(1e3 * (time.perf_counter() - start) / max(faces, 1))
    return statistics.median(rounds)


def relative_time(candidate: Callable[[int], object], reference: Callable[[int], object], count: int,
                  repeats: int = 3) -> float:
    """Median over rounds of candidate time / reference time, both called on items ``0..count-1``, interleaved.

    Why interleaved and a ratio: on a shared machine load changes by the second; timing both in the
    same round lets the load fall on both, and the ratio is what a budget can be set on.
    """
    for i in range(count):
        candidate(i), reference(i)
    ratios = []
    for _ in range(repeats):
        spent = [0.0, 0.0]
        for i in range(count):
            for k, fn in enumerate((candidate, reference)):
                start = time.perf_counter()
                fn(i)
                spent[k] += time.perf_counter() - start
        ratios.append(spent[0] / spent[1])
    return statistics.median(ratios)
