"""Face detection with OpenCV's Haar cascades and alignment to a canonical 150 x 150 crop.

Why pad before detecting: a Haar cascade only fires when its whole window fits in the image, so a
face cut by the image edge (two of the shipped photos) is missed; replicating the border gives the
window room, and boxes may then reach outside the image. Why align on the eyes: the descriptor was
trained on upright faces; rotating so the eyes are level removes head roll, the one pose change
a 2-D warp can undo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

CROP = 150


@dataclass(frozen=True)
class Box:
    """A face box in original image pixels (may extend past the edges); ``eyes`` as ((x, y), (x, y)) or None."""

    x: float
    y: float
    w: float
    h: float
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2


def cascade(name: str = "haarcascade_frontalface_alt2.xml") -> object:
    """A cascade shipped inside opencv-python-headless < 5 (``cv2.data.haarcascades``)."""
    import cv2

    path = Path(cv2.data.haarcascades) / name  # type: ignore[attr-defined]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: install opencv-python-headless<5 (5.x ships no cascades)")
    return cv2.CascadeClassifier(str(path))


class Detector:
    """Frontal faces (alt2 cascade, few false positives) and eyes, on a downscaled, border-padded image."""

    def __init__(self, max_side: int = 600, pad: float = 0.2, min_neighbors: int = 3) -> None:
        self.faces, self.eyes = cascade(), cascade("haarcascade_eye.xml")
        self.max_side, self.pad, self.min_neighbors = max_side, pad, min_neighbors

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """Faces in an RGB image, largest first, with eye centres where both eyes were found."""
        import cv2

        gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        s = min(1.0, self.max_side / max(gray.shape))
        small = cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else gray
        p = int(self.pad * max(small.shape))
        padded = cv2.copyMakeBorder(small, p, p, p, p, cv2.BORDER_REPLICATE)
        found = self.faces.detectMultiScale(padded, 1.05, self.min_neighbors, minSize=(40, 40))  # type: ignore[attr-defined]
        boxes = []
        for x, y, w, h in sorted((tuple(int(v) for v in f) for f in found), key=lambda f: -f[2]):
            eyes = self._eyes(padded[y:y + h // 2, x:x + w], w)
            if eyes is not None:
                eyes = tuple(((ex + x - p) / s, (ey + y - p) / s) for ex, ey in eyes)  # type: ignore[assignment]
            boxes.append(Box((x - p) / s, (y - p) / s, w / s, h / s, eyes))
        return boxes

    def _eyes(self, upper: np.ndarray, face_w: int) -> tuple[tuple[float, float], tuple[float, float]] | None:
        found = self.eyes.detectMultiScale(upper, 1.1, 5, minSize=(face_w // 8, face_w // 8))  # type: ignore[attr-defined]
        centres = sorted((x + w / 2, y + h / 2) for x, y, w, h in found)
        if len(centres) < 2:
            return None
        left, right = centres[0], centres[-1]
        if right[0] - left[0] < face_w * 0.25:  # two hits on the same eye
            return None
        return left, right


def align(rgb: np.ndarray, box: Box, size: int = CROP, margin: float = 0.1, use_eyes: bool = True) -> np.ndarray:
    """A ``size`` x ``size`` RGB crop of ``box`` (plus ``margin``), rotated so the eyes are level.

    One affine warp maps the canonical crop into the image; outside the image the border is
    replicated, so faces cut by the edge still give a full crop.
    """
    import cv2

    cx, cy = box.centre
    angle = 0.0
    if use_eyes and box.eyes is not None:
        (lx, ly), (rx, ry) = box.eyes
        angle = float(np.degrees(np.arctan2(ry - ly, rx - lx)))
    side = max(box.w, box.h) * (1 + 2 * margin)
    matrix = np.asarray(cv2.getRotationMatrix2D((cx, cy), angle, size / side), np.float64)
    matrix[:, 2] = matrix[:, 2] + np.array([size / 2 - cx, size / 2 - cy])
    return cv2.warpAffine(np.ascontiguousarray(rgb), matrix, (size, size), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_REPLICATE)


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as an RGB uint8 array (OpenCV reads BGR)."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def face_nonface(seed: int = 0, test_fraction: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-image's ``lfw_subset`` (100 faces, then 100 non-faces, 25 x 25): x_train, y_train, x_test, y_test.

    Images come as (n, 1, 25, 25) float32 in [0, 1]; label 1 is a face. The split is stratified.
    """
    from skimage.data import lfw_subset

    images = lfw_subset().astype(np.float32)
    labels = np.r_[np.ones(100, np.int64), np.zeros(100, np.int64)]
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:round(100 * test_fraction)] for c in (0, 1)])
    train = np.setdiff1d(np.arange(len(labels)), test)
    x = images[:, None]
    return x[train], labels[train], x[np.sort(test)], labels[np.sort(test)]
