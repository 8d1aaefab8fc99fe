"""MTCNN face detection with 5 landmarks (eye centres, nose tip, mouth corners), on torch, CPU.

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
from typing import Any

import numpy as np

THRESHOLDS = (0.6, 0.7, 0.7)
PYRAMID_FACTOR = 0.709


@dataclass(frozen=True)
class Detection:
    """One face: ``box`` (x1, y1, x2, y2), O-Net's ``score``, ``landmarks`` (5, 2) as (x, y) in the image."""

    box: np.ndarray
    score: float
    landmarks: np.ndarray


class Mtcnn:
    """P-Net, R-Net and O-Net with facenet-pytorch's weights (``pnet.pt``, ``rnet.pt``, ``onet.pt`` in ``folder``)."""

    def __init__(self, folder: str | Path) -> None:
        import torch
        import torch.nn.functional as fn

        self.torch, self.fn = torch, fn
        self.w = {net: torch.load(Path(folder) / f"{net}.pt", weights_only=True) for net in ("pnet", "rnet", "onet")}

    def _conv(self, net: str, x: Any, i: int, pool: tuple[int, int] | None) -> Any:
        w = self.w[net]
        x = self.fn.prelu(self.fn.conv2d(x, w[f"conv{i}.weight"], w[f"conv{i}.bias"]), w[f"prelu{i}.weight"])
        return self.fn.max_pool2d(x, pool[0], pool[1], ceil_mode=True) if pool else x

    def _dense(self, net: str, x: Any, name: str) -> Any:
        return self.fn.linear(x, self.w[net][f"{name}.weight"], self.w[net][f"{name}.bias"])

    def pnet(self, x: Any) -> tuple[Any, Any]:
        """Face probability map and box offsets (stride 2, 12 x 12 windows)."""
        x = self._conv("pnet", x, 1, (2, 2))
        x = self._conv("pnet", self._conv("pnet", x, 2, None), 3, None)
        w = self.w["pnet"]
        prob = self.fn.softmax(self.fn.conv2d(x, w["conv4_1.weight"], w["conv4_1.bias"]), 1)[:, 1]
        return prob, self.fn.conv2d(x, w["conv4_2.weight"], w["conv4_2.bias"])

    def rnet(self, x: Any) -> tuple[Any, Any]:
        x = self._conv("rnet", self._conv("rnet", x, 1, (3, 2)), 2, (3, 2))
        x = self._conv("rnet", x, 3, None).permute(0, 3, 2, 1).reshape(len(x), -1)  # Caffe's flatten order
        x = self.fn.prelu(self._dense("rnet", x, "dense4"), self.w["rnet"]["prelu4.weight"])
        return self.fn.softmax(self._dense("rnet", x, "dense5_1"), 1)[:, 1], self._dense("rnet", x, "dense5_2")

    def onet(self, x: Any) -> tuple[Any, Any, Any]:
        x = self._conv("onet", self._conv("onet", x, 1, (3, 2)), 2, (3, 2))
        x = self._conv("onet", self._conv("onet", x, 3, (2, 2)), 4, None).permute(0, 3, 2, 1).reshape(len(x), -1)
        x = self.fn.prelu(self._dense("onet", x, "dense5"), self.w["onet"]["prelu5.weight"])
        return (self.fn.softmax(self._dense("onet", x, "dense6_1"), 1)[:, 1], self._dense("onet", x, "dense6_2"),
                self._dense("onet", x, "dense6_3"))

    def detect(self, rgb: np.ndarray, min_face: float = 40.0) -> list[Detection]:
        """Faces of at least ``min_face`` pixels in an RGB uint8 image, highest score first."""
        with self.torch.no_grad():
            boxes = self._propose(rgb, min_face)
            if len(boxes):
                prob, reg = self.rnet(self._crops(rgb, boxes, 24))
                keep = prob.numpy() > THRESHOLDS[1]
                boxes, reg = boxes[keep], reg.numpy()[keep]
                keep = nms(boxes, 0.7)
                boxes = square(regress(boxes[keep], reg[keep]))
            if not len(boxes):
                return []
            prob, reg, marks = (t.numpy() for t in self.onet(self._crops(rgb, boxes, 48)))
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
        scale, found = 12.0 / min_face, []
        while min(h, w) * scale >= 12:
            size = (int(w * scale + 1), int(h * scale + 1))
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA).astype(np.float32)
            x = self.torch.from_numpy(((small - 127.5) / 128.0).transpose(2, 0, 1)[None].copy())
            prob, reg = (t[0].numpy() for t in self.pnet(x))
            ys, xs = np.nonzero(prob >= THRESHOLDS[0])
            if len(ys):
                cells = np.stack([xs, ys], 1).astype(np.float32)
                boxes = np.concatenate([np.floor((2 * cells + 1) / scale), np.floor((2 * cells + 12) / scale),
                                        prob[ys, xs, None], reg[:, ys, xs].T], 1)
                found.append(boxes[nms(boxes, 0.5)])
            scale *= PYRAMID_FACTOR
        if not found:
            return np.zeros((0, 5), np.float32)
        boxes = np.concatenate(found)
        boxes = boxes[nms(boxes, 0.7)]
        wh = boxes[:, 2:4] - boxes[:, 0:2]
        corners = boxes[:, :4] + boxes[:, 5:9] * np.tile(wh, 2)
        return square(np.concatenate([corners, boxes[:, 4:5]], 1))

    def _crops(self, rgb: np.ndarray, boxes: np.ndarray, size: int) -> Any:
        """``size`` x ``size`` crops of each (integer-rounded) box, zero outside the image, normalised NCHW."""
        import cv2

        h, w = rgb.shape[:2]
        out = np.empty((len(boxes), size, size, 3), np.float32)
        for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4].astype(int)):
            patch = np.zeros((y2 - y1 + 1, x2 - x1 + 1, 3), np.uint8)
            sx, sy, ex, ey = max(x1, 0), max(y1, 0), min(x2 + 1, w), min(y2 + 1, h)
            if ex > sx and ey > sy:
                patch[sy - y1:ey - y1, sx - x1:ex - x1] = rgb[sy:ey, sx:ex]
            out[k] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
        x = self.torch.from_numpy((out - 127.5) / 128.0).permute(0, 3, 1, 2)
        return x.contiguous(memory_format=self.torch.channels_last)  # 10x faster ceil-mode max-pool on CPU


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
    """Indices kept by greedy non-maximum suppression, best first; overlap over the union or the smaller box."""
    s = boxes[:, 4] if scores is None else scores
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order, keep = np.argsort(-s, kind="stable"), []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(i)
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = iw * ih
        overlap = inter / (np.minimum(area[i], area[rest]) if by_min else area[i] + area[rest] - inter)
        order = rest[overlap <= threshold]
    return np.asarray(keep, int)
