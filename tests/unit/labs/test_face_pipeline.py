"""The per-photo pipeline: every face embedded, one batch per photo, the same descriptors overlapped or not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.labs.face import descriptor, detect, pipeline

DATA = Path(__file__).resolve().parents[3] / "curricula" / "ai-compute-foundations" / "data"


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    by_name = {p.stem: detect.read_rgb(p) for p in sorted((DATA / "faces" / "test_images").glob("*.jpg"))}
    group = np.hstack([by_name["obama"], by_name["biden"][100:100 + by_name["obama"].shape[0]]])
    blank = np.full((300, 400, 3), 128, np.uint8)
    return [by_name["obama"], group, blank, by_name["biden"]]


@pytest.mark.parametrize("framework", ["torch", "mindspore"])
def test_overlapped_run_gives_the_sequential_descriptors(photos: list[np.ndarray], framework: str) -> None:
    run = pipeline.Pipeline(detect.Detector(DATA / "mtcnn"), descriptor.load(DATA / "face_api", framework))
    one_by_one = [run(rgb) for rgb in photos]
    assert [len(v) for v in one_by_one] == [1, 2, 0, 1]
    for a, b in zip(one_by_one, run.overlapped(photos), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the group photo's two faces are the single photos' faces, whatever their order
    group = one_by_one[1]
    singles = (one_by_one[0][0], one_by_one[3][0])
    best = [max(float(v @ g / np.linalg.norm(v) / np.linalg.norm(g)) for g in group) for v in singles]
    assert min(best) > 0.99, best


def test_stage_timings_cover_every_stage(photos: list[np.ndarray]) -> None:
    run = pipeline.Pipeline(detect.Detector(DATA / "mtcnn"), descriptor.load(DATA / "face_api", "torch"))
    ms = pipeline.stage_ms_per_face(run, photos[:2], repeats=1)
    assert set(ms) == {*pipeline.STAGES, "total"}
    assert ms["total"] == pytest.approx(sum(ms[s] for s in pipeline.STAGES))
