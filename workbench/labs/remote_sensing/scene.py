"""Reading a georeferenced multi-band scene and making colour composites a person can read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Landsat 7 ETM+ bands as stored in L7_ETMs.tif (bands 1-5 and 7; band 6 is thermal, left out).
LANDSAT7_BANDS = {"blue": 1, "green": 2, "red": 3, "nir": 4, "swir1": 5, "swir2": 6}


@dataclass
class Scene:
    """A scene in memory: ``data`` is (bands, rows, cols); georeferencing kept beside it."""

    data: np.ndarray
    crs: Any
    transform: Any
    nodata: float | None
    path: Path

    @property
    def epsg(self) -> int | None:
        return self.crs.to_epsg() if self.crs is not None else None

    def band(self, name: str) -> np.ndarray:
        """One band by its Landsat 7 name (``"nir"``, ``"red"``...), as stored (1-based in the file)."""
        return self.data[LANDSAT7_BANDS[name] - 1]


def read_scene(path: str | Path) -> Scene:
    """Read every band of a (small) GeoTIFF with rasterio; large ones go through ``tiles`` instead."""
    import rasterio

    with rasterio.open(path) as src:
        return Scene(src.read(), src.crs, src.transform, src.nodata, Path(path))


def stretch(band: np.ndarray, low: float = 2.0, high: float = 98.0, valid: np.ndarray | None = None) -> np.ndarray:
    """Linear percentile stretch to [0, 1]; percentiles from valid pixels only, so nodata does not skew them."""
    values = band[valid] if valid is not None else band.ravel()
    lo, hi = np.percentile(values, [low, high]) if values.size else (0.0, 1.0)
    out = (band.astype(np.float32) - lo) / max(float(hi - lo), 1e-12)
    return np.clip(out, 0.0, 1.0)


def composite(data: np.ndarray, bands: tuple[int, int, int], nodata: float | None = None) -> np.ndarray:
    """An (rows, cols, 3) RGB image from three 1-based band numbers, each stretched 2-98 %; nodata black.

    True colour is (red, green, blue) = (3, 2, 1); the classic false colour (4, 3, 2) puts NIR in red,
    so vegetation, which reflects NIR strongly, shows bright red.
    """
    valid = np.ones(data.shape[1:], bool) if nodata is None else np.all(data != nodata, axis=0)
    rgb = np.stack([stretch(data[b - 1], valid=valid) for b in bands], axis=-1)
    rgb[~valid] = 0.0
    return rgb
