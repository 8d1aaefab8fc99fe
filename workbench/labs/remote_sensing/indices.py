"""Spectral indices with nodata and divide-by-zero handled explicitly, the same on a tile or a scene.

Why NaN: a pixel with no data, or with a + b == 0, has no defined index; writing 0 there would
claim "no vegetation" and bias every mean. NaN propagates honestly and ``np.nanmean`` skips it.
"""

from __future__ import annotations

import numpy as np


def normalized_difference(a: np.ndarray, b: np.ndarray, nodata: float | None = None) -> np.ndarray:
    """(a - b) / (a + b) as float32; NaN where either input is nodata or a + b == 0. No warnings."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    total = a64 + b64
    bad = total == 0
    if nodata is not None:
        bad |= (np.asarray(a) == nodata) | (np.asarray(b) == nodata)
    out = np.full(total.shape, np.nan, np.float32)
    np.divide(a64 - b64, total, out=out, where=~bad, casting="unsafe")
    return out


def ndvi(nir: np.ndarray, red: np.ndarray, nodata: float | None = None) -> np.ndarray:
    """Normalised Difference Vegetation Index (Rouse 1974): high for green vegetation."""
    return normalized_difference(nir, red, nodata)


def ndwi(green: np.ndarray, nir: np.ndarray, nodata: float | None = None) -> np.ndarray:
    """Normalised Difference Water Index (McFeeters 1996): positive over open water."""
    return normalized_difference(green, nir, nodata)


def ndbi(swir1: np.ndarray, nir: np.ndarray, nodata: float | None = None) -> np.ndarray:
    """Normalised Difference Built-up Index (Zha 2003): positive over built-up land and bare soil."""
    return normalized_difference(swir1, nir, nodata)
