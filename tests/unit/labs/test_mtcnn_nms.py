"""MTCNN's greedy non-maximum suppression (``mtcnn.nms``), checked against what greedy NMS promises.

No second implementation to compare with: on random boxes, the kept boxes come best first, no two kept
boxes overlap beyond the threshold, and every dropped box overlaps a better kept one beyond it; for
overlap over the union (P-Net, R-Net) and over the smaller box (O-Net), with scores in the boxes or apart.
"""

from __future__ import annotations

import numpy as np
import pytest

from workbench.labs.face import mtcnn


def overlap(a: np.ndarray, b: np.ndarray, by_min: bool) -> float:
    """Two (x1, y1, x2, y2) boxes' overlap in MTCNN's inclusive pixel convention."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    area_a, area_b = (a[2] - a[0] + 1) * (a[3] - a[1] + 1), (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return iw * ih / (min(area_a, area_b) if by_min else area_a + area_b - iw * ih)


def random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` boxes crowded into a 100-pixel square (so many overlap), score in column 4."""
    corner = rng.uniform(0, 80, (n, 2))
    size = rng.uniform(5, 40, (n, 1))
    return np.concatenate([corner, corner + size, rng.uniform(0, 1, (n, 1))], 1).astype(np.float32)


@pytest.mark.parametrize("by_min", [False, True])
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_nms_keeps_the_greedy_choice(by_min: bool, threshold: float) -> None:
    rng = np.random.default_rng(int(threshold * 10) + by_min)
    for n in (0, 1, 2, 17, 60):
        boxes = random_boxes(rng, n)
        scores = rng.uniform(0, 1, n).astype(np.float32) if by_min else None
        s = boxes[:, 4] if scores is None else scores
        keep = mtcnn.nms(boxes, threshold, by_min=by_min, scores=scores)
        assert keep.dtype.kind == "i" and len(set(keep.tolist())) == len(keep)
        assert (n == 0) == (len(keep) == 0)
        assert list(s[keep]) == sorted(s[keep], reverse=True)
        for i, a in enumerate(keep):
            for b in keep[i + 1:]:
                assert overlap(boxes[a], boxes[b], by_min) <= threshold
        for dropped in sorted(set(range(n)) - set(keep.tolist())):
            assert any(s[k] >= s[dropped] and overlap(boxes[k], boxes[dropped], by_min) > threshold for k in keep)
