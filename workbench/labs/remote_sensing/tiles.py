"""Tile-by-tile processing of scenes too large to load whole, with memory bounded by the tile.

Why mirror mosaics: a teaching machine has no 16k x 16k scene on disk, and downloading one is not
allowed, so one is built from the real Landsat scene by mirroring it (reflect at every edge, like a
kaleidoscope). Mirroring is a pure pixel re-indexing, so any per-pixel index of the mosaic equals
the same re-indexing of the index of the original: the tiled result can be checked exactly
against the whole-array result on the original, one window at a time.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TileFn = Callable[[np.ndarray], np.ndarray]
GDAL_CACHE_BYTES = 32 * 1024 * 1024  # GDAL's block cache cap in every tiled pass: a constant, not the scene
# Working memory a tiled pass may hold per pixel of one tile. A land-cover pass holds the uint8 bands,
# float32 or float64 reflectance, index temporaries (float64 inside normalized_difference), features
# and a 32-wide hidden layer's activations: measured 470-550 B per tile pixel with a torch MLP on
# 512² tiles (docs/benchmarks.md); 1 KiB leaves about twice that.
BYTES_PER_TILE_PIXEL = 1024
# What grows with neither tile nor scene: the allocator's slack between passes and the frameworks'
# own buffers (repeated 4096² passes on 256² tiles measured 30-70 MB above the cache and the tiles).
RUNTIME_SLACK_BYTES = 64 * 1024 * 1024


def mirror_index(start: int, stop: int, n: int) -> np.ndarray:
    """Source rows (or columns) for mosaic positions ``start:stop`` of a scene ``n`` long, mirrored."""
    k = np.arange(start, stop) % (2 * n)
    return np.where(k < n, k, 2 * n - 1 - k)


def windows(height: int, width: int, block: int) -> Iterator[tuple[int, int, int, int]]:
    """(row, col, rows, cols) of every block x block window, row-major, ragged at the far edges."""
    for row in range(0, height, block):
        for col in range(0, width, block):
            yield row, col, min(block, height - row), min(block, width - col)


def build_mosaic(src_path: str | Path, dst_path: str | Path, size: int, block: int = 512,
                 compress: str = "deflate") -> Path:
    """Write a ``size`` x ``size`` tiled, compressed GeoTIFF mirrored from ``src_path``, one block at a time."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(src_path) as src:
        scene = src.read()
        profile = src.profile.copy()
    _, h, w = scene.shape
    profile.update(width=size, height=size, tiled=True, blockxsize=block, blockysize=block,
                   compress=compress, predictor=2, BIGTIFF="IF_SAFER")
    with rasterio.open(dst_path, "w", **profile) as dst:
        for row, col, rows, cols in windows(size, size, block):
            tile = scene[:, mirror_index(row, row + rows, h)][:, :, mirror_index(col, col + cols, w)]
            dst.write(tile, window=Window(col, row, cols, rows))
    return Path(dst_path)


@dataclass
class TiledRun:
    """What one tiled pass measured: peak memory (traced NumPy, and resident), time, pixels, the bytes
    of a whole read and of one tile."""

    tiles: int
    pixels: int
    seconds: float
    peak_bytes: int
    peak_rss_bytes: int
    scene_bytes: int
    tile_bytes: int
    tile_pixels: int

    @property
    def memory_bound(self) -> int:
        """The most resident memory a pass may add: GDAL's cache cap, the runtime's slack and the
        per-pixel working set of one tile. It grows with the tile and not at all with the scene."""
        return GDAL_CACHE_BYTES + RUNTIME_SLACK_BYTES + BYTES_PER_TILE_PIXEL * self.tile_pixels

    @property
    def megapixels_per_s(self) -> float:
        return self.pixels / 1e6 / max(self.seconds, 1e-9)


def map_tiles(src_path: str | Path, dst_path: str | Path | None, fn: TileFn, block: int | None = None,
              on_tile: Callable[[int, int, np.ndarray], None] | None = None, dtype: str = "float32",
              overviews: tuple[int, ...] = ()) -> TiledRun:
    """Apply ``fn`` ((bands, rows, cols) -> (rows, cols)) to every window; write a one-band GeoTIFF.

    The output is tiled like the input, deflate-compressed, with the input's CRS and transform, so a
    GIS places it; ``overviews`` (factors such as 2, 4, 8) are built after the last tile (mode for
    class maps, average for floats), so a GIS draws the whole scene without reading every pixel.
    Nodata is NaN for floats, 255 for ``uint8`` class maps. Memory is measured two ways: traced
    (``tracemalloc``: NumPy buffers) and resident (the kernel's high-water mark, which also sees
    what torch or MindSpore allocate), with GDAL's block cache capped so both reflect the tile.
    ``on_tile(row, col, result)`` sees each result, e.g. to compare it with the expected window.
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.windows import Window

    from workbench.labs.remote_sensing.memory import ResidentPeak

    floating = np.issubdtype(np.dtype(dtype), np.floating)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES), rasterio.open(src_path) as src:
        block = block or src.block_shapes[0][0]
        profile = {"driver": "GTiff", "width": src.width, "height": src.height, "count": 1, "dtype": dtype,
                   "crs": src.crs, "transform": src.transform, "nodata": float("nan") if floating else 255,
                   "tiled": True, "blockxsize": block, "blockysize": block, "compress": "deflate"}
        dst = rasterio.open(dst_path, "w", **profile) if dst_path is not None else None
        tiles = pixels = 0
        resident = ResidentPeak()
        tracemalloc.start()
        start = time.perf_counter()
        try:
            for row, col, rows, cols in windows(src.height, src.width, block):
                window = Window(col, row, cols, rows)
                result = np.asarray(fn(src.read(window=window)), dtype)
                if dst is not None:
                    dst.write(result, 1, window=window)
                if on_tile is not None:
                    on_tile(row, col, result)
                tiles, pixels = tiles + 1, pixels + rows * cols
            if dst is not None and overviews:
                dst.build_overviews(list(overviews), Resampling.average if floating else Resampling.mode)
            seconds = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
            peak_rss = resident.peak_increase()
        finally:
            tracemalloc.stop()
            if dst is not None:
                dst.close()
        itemsize = np.dtype(src.dtypes[0]).itemsize
        scene_bytes = src.count * src.height * src.width * itemsize
        tile_bytes = src.count * block * block * itemsize
    return TiledRun(tiles, pixels, seconds, peak, peak_rss, scene_bytes, tile_bytes, block * block)


def check_against_original(original: np.ndarray, size: int, atol: float = 0.0) -> tuple[
        Callable[[int, int, np.ndarray], None], dict[str, Any]]:
    """An ``on_tile`` hook comparing each tiled result with the mirrored whole-array ``original`` result.

    Returns the hook and a dict it fills: ``tiles``, ``mismatched`` (pixels differing, NaN == NaN),
    ``max_abs`` (largest finite difference).
    """
    h, w = original.shape
    report: dict[str, Any] = {"tiles": 0, "mismatched": 0, "max_abs": 0.0}

    def hook(row: int, col: int, result: np.ndarray) -> None:
        rows, cols = result.shape
        expected = original[mirror_index(row, row + rows, h)][:, mirror_index(col, col + cols, w)]
        both_nan = np.isnan(expected) & np.isnan(result)
        diff = np.where(both_nan, 0.0, np.abs(result.astype(np.float64) - expected))
        diff = np.where(np.isnan(diff), np.inf, diff)
        report["tiles"] += 1
        report["mismatched"] += int(np.count_nonzero(diff > atol))
        finite = diff[np.isfinite(diff)]
        report["max_abs"] = max(report["max_abs"], float(finite.max()) if finite.size else 0.0)

    return hook, report


def read_throughput(path: str | Path, block: int | None = None) -> dict[str, float]:
    """Seconds and MB/s to read every band of ``path`` window by window and in one sequential read."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES), rasterio.open(path) as src:
        block = block or src.block_shapes[0][0]
        nbytes = src.count * src.height * src.width * np.dtype(src.dtypes[0]).itemsize
        start = time.perf_counter()
        for row, col, rows, cols in windows(src.height, src.width, block):
            src.read(window=Window(col, row, cols, rows))
        tiled = time.perf_counter() - start
        start = time.perf_counter()
        src.read()
        whole = time.perf_counter() - start
    return {"bytes": nbytes, "tiled_s": tiled, "whole_s": whole, "tiled_MBps": nbytes / 1e6 / tiled,
            "whole_MBps": nbytes / 1e6 / whole, "ratio": whole / tiled}
