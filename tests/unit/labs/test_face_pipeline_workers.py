"""The all-MindSpore pipeline's worker processes: the sequential pipeline's faces, and a clear error when one dies.

Real processes (spawned, each loading MindSpore and the shipped weights), real photos; the dead worker is
killed with SIGKILL, as the kernel's OOM killer would, and the pipeline must say so instead of waiting forever.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from workbench.labs.face import descriptor, detect, pipeline
from workbench.labs.face.pipeline_workers import PipelineWorkerError

DATA = Path(__file__).resolve().parents[3] / "curricula" / "ai-compute-foundations" / "data"
pytest.importorskip("mindspore")


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    by_name = {p.stem: detect.read_rgb(p) for p in sorted((DATA / "faces" / "test_images").glob("*.jpg"))}
    group = np.hstack([by_name["obama"], by_name["biden"][100:100 + by_name["obama"].shape[0]]])
    blank = np.full((300, 400, 3), 128, np.uint8)
    return [by_name["obama"], group, blank, by_name["obama3"], by_name["biden"]]


@pytest.fixture(scope="module")
def run() -> pipeline.Pipeline:
    return pipeline.Pipeline(detect.Detector(DATA / "mtcnn", "mindspore"),
                             descriptor.load(DATA / "face_api", "mindspore"))


@pytest.mark.timeout(300)
def test_worker_processes_give_the_sequential_boxes_and_descriptors(run: pipeline.Pipeline,
                                                                    photos: list[np.ndarray]) -> None:
    sequential = [run.timed(rgb)[:2] for rgb in photos]
    in_workers = run.in_processes(photos)
    assert [len(v) for v, _ in in_workers] == [1, 2, 0, 1, 1]
    for (want_v, want_b), (got_v, got_b) in zip(sequential, in_workers, strict=True):
        np.testing.assert_allclose(got_v, want_v, rtol=1e-5, atol=1e-6)
        assert len(got_b) == len(want_b)
        for a, b in zip(want_b, got_b, strict=True):
            np.testing.assert_allclose([b.x, b.y, b.w, b.h, b.score], [a.x, a.y, a.w, a.h, a.score], atol=1e-4)
            np.testing.assert_allclose(b.landmarks, a.landmarks, atol=1e-4)
    # the two-face photo last: its faces are then split between the two workers (see PipelineWorkers.run)
    order = [0, 2, 3, 4, 1]
    for k, got in zip(order, run.overlapped([photos[k] for k in order]), strict=True):
        np.testing.assert_allclose(got, sequential[k][0], rtol=1e-5, atol=1e-5)
    workers = run._workers
    assert workers is not None
    if len(os.sched_getaffinity(0)) >= 2:  # each worker owns one core, not the same one
        cores = [os.sched_getaffinity(w.process.pid) for w in workers.workers if w.process.pid]
        assert len(cores) == 2 and all(len(c) == 1 for c in cores) and cores[0] != cores[1], cores
    files = [slot.path for slot in workers.slots]
    assert files, "photos went through shared files"
    run.close()
    assert not any(w.process.is_alive() for w in workers.workers)
    assert not any(os.path.exists(f) for f in files), "shared photo files must be removed on close"


@pytest.mark.timeout(300)
def test_a_dead_worker_is_an_error_naming_it_not_a_hang(run: pipeline.Pipeline, photos: list[np.ndarray]) -> None:
    run.overlapped(photos[:1])  # a live pair
    workers = run._workers
    assert workers is not None
    victim = workers.workers[-1].process
    assert victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)
    victim.join()
    with pytest.raises(PipelineWorkerError, match=r"face pipeline worker \d.* process \(pid \d+\) exited with code -9 "
                                                  r"while (being sent|working on) photo \d"):
        run.overlapped(photos)
    assert run._workers is None and not any(w.process.is_alive() for w in workers.workers), "all workers stop"
    again = run.overlapped(photos[:2])  # the next call starts new workers
    assert [len(v) for v in again] == [1, 2]
    run.close()


@pytest.mark.timeout(300)
def test_a_worker_that_cannot_load_its_stage_says_why(run: pipeline.Pipeline, photos: list[np.ndarray],
                                                      tmp_path: Path) -> None:
    broken = pipeline.Pipeline(run.detector, descriptor.Descriptor("mindspore", run.net.ops, tmp_path))
    with pytest.raises(PipelineWorkerError, match=r"worker 0.* failed while starting: .*face_recognition_model"):
        broken.overlapped(photos[:1])
    assert broken._workers is None
