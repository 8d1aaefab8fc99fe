"""Five-point alignment: a similarity transform from MTCNN's landmarks to the descriptor's canonical crop.

Why these target points: the dlib ResNet descriptor was trained on dlib "face chips"
(``get_face_chip_details(shape, 150, 0.25)``: 150 x 150, padding 0.25), which place dlib's mean face
shape (68 points, published in dlib's ``image_transforms/interpolation.h``) at fixed positions. The
five points MTCNN gives are, in that mean shape, the centres of points 36-41 and 42-47 (the eyes),
point 30 (nose tip) and points 48 and 54 (mouth corners); :data:`TEMPLATE` is where they land in
the chip. Why a similarity transform (rotation, uniform scale, shift): it undoes head roll, distance
and position without shearing the face; five points over-determine its four parameters, so a
least-squares fit (Umeyama) averages out one landmark's error instead of following it.
"""

from __future__ import annotations

import numpy as np

CROP = 150
PADDING = 0.25
MEAN_FACE = np.array([[0.225492, 0.21599], [0.754761, 0.21599], [0.490127, 0.515625],
                      [0.254149, 0.780233], [0.726104, 0.780233]])
TEMPLATE = (PADDING + MEAN_FACE) / (1 + 2 * PADDING) * CROP  # left eye, right eye, nose, mouth left, right


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2 x 3 least-squares similarity transform taking points ``src`` (n, 2) onto ``dst`` (n, 2)."""
    from skimage.transform import SimilarityTransform

    transform = SimilarityTransform()
    if not transform.estimate(np.asarray(src, float), np.asarray(dst, float)):
        raise ValueError(f"no similarity transform fits landmarks {np.round(src, 1).tolist()}")
    return np.asarray(transform.params[:2], np.float64)


def crop(rgb: np.ndarray, landmarks: np.ndarray, size: int = CROP) -> np.ndarray:
    """A ``size`` x ``size`` RGB crop with the five ``landmarks`` (x, y) moved onto :data:`TEMPLATE`.

    Outside the image the border is replicated, so a face cut by the edge still gives a full crop.
    """
    import cv2

    matrix = similarity(landmarks, TEMPLATE * size / CROP)
    return cv2.warpAffine(np.ascontiguousarray(rgb), matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def crops(rgb: np.ndarray, faces: list[np.ndarray], size: int = CROP) -> np.ndarray:
    """One aligned crop per face's landmarks, stacked (n, size, size, 3) for one batched embedding."""
    return np.stack([crop(rgb, points, size) for points in faces]) if faces else np.zeros((0, size, size, 3), np.uint8)
