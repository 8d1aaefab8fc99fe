"""MTCNN face detection with 5 landmarks (eye centres, nose tip, mouth corners), on torch or MindSpore.

Why MTCNN: it gives the five points alignment needs from the detector itself (Haar needed a second,
unreliable eye cascade), its three networks are tiny (P-Net 7 k, R-Net 100 k, O-Net 390 k weights),
and their weights ship inside a package (facenet-pytorch's wheel, MIT; see the course data's
PROVENANCE.md). The package itself is not a dependency: it pins torch < 2.3 and imports torchvision,
so the weights are extracted into the course data and the algorithm is written here, following
Zhang et al. 2016 and facenet-pytorch's ``detect_face``, except that crops reaching past the image
are zero-padded (as the original MTCNN does) rather than clipped and stretched.

Stages: P-Net slides over an image pyramid and proposes boxes; R-Net rejects most of them on
24 x 24 crops; O-Net scores 48 x 48 crops and places the landmarks. Boxes are (x1, y1, x2, y2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.labs.face import mtcnn_nets

THRESHOLDS = (0.6, 0.7, 0.7)
PYRAMID_FACTOR = 0.709
NORMALISED = (np.arange(256, dtype=np.float32) - 127.5) / 128.0  # (pixel - 127.5) / 128 by lookup: same floats


@dataclass(frozen=True)
class Detection:
    """One face: ``box`` (x1, y1, x2, y2), O-Net's ``score``, ``landmarks`` (5, 2) as (x, y) in the image."""

    box: np.ndarray
    score: float
    landmarks: np.ndarray


class Mtcnn:
    """The three networks (``<net>.pt`` in ``folder``) on ``framework``, "torch" or "mindspore" (:mod:`.mtcnn_nets`).

    Only the networks change with the framework; the pyramid, crops, NMS and box arithmetic are this
    module's NumPy, so both frameworks' detections differ only by their networks' float rounding.
    """

    def __init__(self, folder: str | Path, framework: str = "torch") -> None:
        self.framework, self.nets = framework, mtcnn_nets.load(folder, framework)

    def detect(self, rgb: np.ndarray, min_face: float = 40.0) -> list[Detection]:
        """Faces of at least ``min_face`` pixels in an RGB uint8 image, highest score first."""
        boxes = self._propose(rgb, min_face)
        if len(boxes):
            prob, reg = self.nets.crops("rnet", self._crops(rgb, boxes, 24))
            keep = prob > THRESHOLDS[1]
            boxes, reg = boxes[keep], reg[keep]
            keep = nms(boxes, 0.7)
            boxes = square(regress(boxes[keep], reg[keep]))
        if not len(boxes):
            return []
        prob, reg, marks = self.nets.crops("onet", self._crops(rgb, boxes, 48))
        keep = prob > THRESHOLDS[2]
        boxes, prob, reg, marks = boxes[keep], prob[keep], reg[keep], marks[keep]
        size = boxes[:, 2:4] - boxes[:, 0:2] + 1
        points = np.stack([size[:, :1] * marks[:, :5] + boxes[:, :1] - 1,
                           size[:, 1:] * marks[:, 5:] + boxes[:, 1:2] - 1], axis=2)
        boxes = regress(boxes, reg)
        keep = nms(boxes, 0.7, by_min=True, scores=prob)
        return [Detection(boxes[i], float(prob[i]), points[i]) for i in keep]

    def _propose(self, rgb: np.ndarray, min_face: float) -> np.ndarray:
        """P-Net over the pyramid: candidate boxes, regressed and squared, after NMS within and across scales."""
        import cv2

        h, w = rgb.shape[:2]
        scales, levels, found = [], [], []
        scale = 12.0 / min_face
        while min(h, w) * scale >= 12:
            small = cv2.resize(rgb, (int(w * scale + 1), int(h * scale + 1)), interpolation=cv2.INTER_AREA)
            scales.append(scale)
            levels.append(NORMALISED[small].transpose(2, 0, 1))
            scale *= PYRAMID_FACTOR
        for scale, (prob, reg) in zip(scales, self.nets.pnet(levels), strict=True):
            ys, xs = np.nonzero(prob >= THRESHOLDS[0])
            if len(ys):
                cells = np.stack([xs, ys], 1).astype(np.float32)
                boxes = np.concatenate([np.floor((2 * cells + 1) / scale), np.floor((2 * cells + 12) / scale),
                                        prob[ys, xs, None], reg[:, ys, xs].T], 1)
                found.append(boxes[nms(boxes, 0.5)])
        if not found:
            return np.zeros((0, 5), np.float32)
        boxes = np.concatenate(found)
        boxes = boxes[nms(boxes, 0.7)]
        wh = boxes[:, 2:4] - boxes[:, 0:2]
        corners = boxes[:, :4] + boxes[:, 5:9] * np.tile(wh, 2)
        return square(np.concatenate([corners, boxes[:, 4:5]], 1))

    def _crops(self, rgb: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
        """``size`` x ``size`` crops of each (integer-rounded) box, zero outside the image, normalised NCHW.

        A box inside the image is resized from a view of it; only one reaching past an edge is first copied
        onto a zero patch (the same pixels either way, without a patch per box).
        """
        import cv2

        h, w = rgb.shape[:2]
        out = np.empty((len(boxes), size, size, 3), np.uint8)
        for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4].astype(int)):
            sx, sy, ex, ey = max(x1, 0), max(y1, 0), min(x2 + 1, w), min(y2 + 1, h)
            if (sx, sy, ex, ey) == (x1, y1, x2 + 1, y2 + 1):
                patch = rgb[y1:y2 + 1, x1:x2 + 1]
            else:
                patch = np.zeros((y2 - y1 + 1, x2 - x1 + 1, 3), np.uint8)
                if ex > sx and ey > sy:
                    patch[sy - y1:ey - y1, sx - x1:ex - x1] = rgb[sy:ey, sx:ex]
            out[k] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
        return NORMALISED[out].transpose(0, 3, 1, 2)


def regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Boxes moved by the networks' offsets (fractions of the box size); scores kept."""
    size = boxes[:, 2:4] - boxes[:, 0:2] + 1
    return np.concatenate([boxes[:, :4] + reg[:, :4] * np.tile(size, 2), boxes[:, 4:5]], 1)


def square(boxes: np.ndarray) -> np.ndarray:
    """Each box grown to a square about its centre (the networks see square crops)."""
    side = np.max(boxes[:, 2:4] - boxes[:, 0:2], 1, keepdims=True)
    centre = (boxes[:, 0:2] + boxes[:, 2:4]) / 2
    return np.concatenate([centre - side / 2, centre + side / 2, boxes[:, 4:5]], 1)


def nms(boxes: np.ndarray, threshold: float, by_min: bool = False, scores: np.ndarray | None = None) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best first; overlap over the union or the smaller box.

    Every pair's overlap is computed at once (a few array operations on n x n, n being tens of boxes here),
    then the greedy pass only reads rows: one array operation per kept box instead of ten per box.
    """
    order = np.argsort(-(boxes[:, 4] if scores is None else scores), kind="stable")
    x1, y1, x2, y2 = (boxes[order, c] for c in range(4))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    iw = np.maximum(0.0, np.minimum(x2[:, None], x2) - np.maximum(x1[:, None], x1) + 1)
    ih = np.maximum(0.0, np.minimum(y2[:, None], y2) - np.maximum(y1[:, None], y1) + 1)
    inter = iw * ih
    overlap = inter / (np.minimum(area[:, None], area) if by_min else area[:, None] + area - inter)
    suppresses = ~(overlap <= threshold)  # a NaN overlap suppresses, as a comparison with it fails
    alive, keep = np.ones(len(order), bool), []
    for i in range(len(order)):
        if alive[i]:
            keep.append(i)
            alive &= ~suppresses[i]
    return order[np.asarray(keep, int)]
