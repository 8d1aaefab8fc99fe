"""Face detection with five landmarks (MTCNN) on a downscaled copy of the photo, and image reading.

Why downscale first: MTCNN's cost grows with the pixels its first network slides over, while a face
needs only ~32 pixels across to be found and landmarked. The photo is shrunk by a whole factor so its
longer side is about ``side`` pixels (OpenCV's area resampling has a fast path for whole factors), and
faces smaller than ``min_face`` of those pixels (1/8 of the longer side by default) are not searched
for: raise ``side`` for group photos with small faces. Boxes and landmarks come back in original pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.labs.face.mtcnn import Mtcnn


@dataclass(frozen=True, eq=False)
class Box:
    """A face box in original image pixels (may extend past the edges), its score and five landmarks.

    ``landmarks`` is (5, 2) as (x, y): left eye, right eye, nose tip, left and right mouth corner
    ("left" meaning smaller x, the subject's right).
    """

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((5, 2)))

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2


class Detector:
    """MTCNN (weights in ``folder``, networks on ``framework``) on a copy of the photo shrunk to about ``side`` px."""

    def __init__(self, folder: str | Path, framework: str = "torch", side: int = 256, min_face: float = 32.0) -> None:
        self.folder, self.side, self.min_face = Path(folder), side, min_face
        self.mtcnn = Mtcnn(folder, framework)

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """Faces in an RGB image, largest first."""
        import cv2

        h, w = rgb.shape[:2]
        k = max(1, round(max(h, w) / self.side))
        small = rgb[:h - h % k, :w - w % k]  # a view: OpenCV reads strided rows, no 10 MB copy
        if k > 1:
            small = cv2.resize(small, (small.shape[1] // k, small.shape[0] // k), interpolation=cv2.INTER_AREA)
        small = np.ascontiguousarray(small)
        boxes = [Box(float(d.box[0] * k), float(d.box[1] * k), float((d.box[2] - d.box[0]) * k),
                     float((d.box[3] - d.box[1]) * k), d.score, (d.landmarks + 0.5) * k - 0.5)
                 for d in self.mtcnn.detect(small, self.min_face)]
        return sorted(boxes, key=lambda b: -b.w * b.h)


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
