"""Land-cover pixel classification: labelled Landsat 8 pixels in, a land-cover map of a scene out.

Why these features: the labelled pixels (spyndex ``spectral.json``, Landsat 8 surface
reflectance) and the Sentinel-2 image (``S2_10m.json``, reflectance x 10^4) share four bands,
blue, green, red and NIR, so a classifier trained on the first applies to the second once both
are in reflectance. NDVI and NDWI are added because they separate vegetation and water almost
on their own, and they are ratios, so they carry over between sensors better than raw values.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.labs.remote_sensing.indices import ndvi, ndwi

CLASSES = ("Urban", "Vegetation", "Water")
COLOURS = ("#d7301f", "#31a354", "#2b8cbe")
LANDSAT8_BANDS = ("SR_B2", "SR_B3", "SR_B4", "SR_B5")  # blue, green, red, NIR
SENTINEL2_SCALE = 1e4


@dataclass
class Pixels:
    """Labelled pixels: ``reflectance`` (n, 4) blue, green, red, NIR; ``labels`` indices into CLASSES."""

    reflectance: np.ndarray
    labels: np.ndarray


def load_pixels(path: str | Path) -> Pixels:
    """The 120 labelled pixels of spyndex's ``spectral.json`` (a pandas-style {column: {row: value}})."""
    table = json.loads(Path(path).read_text())
    rows = sorted(table["class"], key=int)
    reflectance = np.array([[table[b][r] for b in LANDSAT8_BANDS] for r in rows], np.float32)
    labels = np.array([CLASSES.index(table["class"][r]) for r in rows], np.int64)
    return Pixels(reflectance, labels)


def load_sentinel2(path: str | Path) -> np.ndarray:
    """spyndex's 300 x 300 Sentinel-2 image as (4, rows, cols) reflectance (B02, B03, B04, B08)."""
    raw = Path(path).read_bytes()
    if str(path).endswith(".gz"):
        raw = gzip.decompress(raw)
    return np.asarray(json.loads(raw), np.float32) / SENTINEL2_SCALE


def features(reflectance: np.ndarray) -> np.ndarray:
    """(n, 6) float32: blue, green, red, NIR, NDVI, NDWI from (n, 4) reflectance; NaN indices become 0."""
    r = np.asarray(reflectance, np.float32)
    extra = np.stack([ndvi(r[:, 3], r[:, 2]), ndwi(r[:, 1], r[:, 3])], axis=1)
    return np.concatenate([r, np.nan_to_num(extra, nan=0.0)], axis=1).astype(np.float32)


def stratified_split(labels: np.ndarray, test_fraction: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with each class split in the same proportion (a fair held-out set)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = max(1, round(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


@dataclass
class Scaler:
    """Feature standardisation fitted on the training set only (fitting on test data leaks it)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Scaler:
        std = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(std > 0, std, 1.0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(np.float32)


def image_pixels(image: np.ndarray) -> np.ndarray:
    """(bands, rows, cols) -> (rows * cols, bands), the layout a pixel classifier takes."""
    return image.reshape(image.shape[0], -1).T


def plot_map(ax: object, classes: np.ndarray, title: str = "land cover") -> None:
    """Draw a class map with one fixed colour per class and a legend."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    ax.imshow(classes, cmap=ListedColormap(COLOURS), vmin=0, vmax=len(CLASSES) - 1,  # type: ignore[attr-defined]
              interpolation="nearest")
    ax.set_title(title)  # type: ignore[attr-defined]
    ax.legend(handles=[Patch(color=c, label=n) for n, c in zip(CLASSES, COLOURS, strict=True)],  # type: ignore[attr-defined]
              loc="lower right", fontsize=8)
