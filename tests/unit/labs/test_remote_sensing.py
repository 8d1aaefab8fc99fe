"""Remote-sensing building blocks: indices, mirroring, the tiled pipeline's exactness and memory bound."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from workbench.labs.remote_sensing import indices, landcover, read_scene, tiles

DATA = Path(__file__).resolve().parents[3] / "curricula" / "ai-compute-foundations" / "data"
SCENE = DATA / "landsat" / "L7_ETMs.tif"


def test_normalized_difference_handles_zero_sum_and_nodata_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nd = indices.normalized_difference(np.array([3, 0, 9, 255], np.uint8), np.array([1, 0, 1, 7], np.uint8),
                                           nodata=255)
    assert nd.dtype == np.float32
    assert np.allclose(nd[[0, 2]], [0.5, 0.8]) and np.isnan(nd[1]) and np.isnan(nd[3])


def test_scene_georeferencing() -> None:
    scene = read_scene(SCENE)
    assert scene.data.shape == (6, 352, 349) and scene.epsg == 31985
    assert scene.transform.a == np.float64(28.5) or abs(scene.transform.a - 28.5) < 1e-6


def test_mirror_index_reflects_at_both_edges() -> None:
    assert tiles.mirror_index(0, 9, 3).tolist() == [0, 1, 2, 2, 1, 0, 0, 1, 2]


def test_tiled_ndvi_equals_whole_array_and_memory_follows_the_tile(tmp_path: Path) -> None:
    scene = read_scene(SCENE)
    whole = indices.ndvi(scene.band("nir"), scene.band("red"), 0)
    size, block = 2048, 256
    large = tiles.build_mosaic(SCENE, tmp_path / "large.tif", size, block)
    hook, report = tiles.check_against_original(whole, size)
    run = tiles.map_tiles(large, tmp_path / "ndvi.tif", lambda t: indices.ndvi(t[3], t[2], 0), on_tile=hook)
    assert run.tiles == report["tiles"] == (size // block) ** 2
    assert report["mismatched"] == 0
    assert run.peak_bytes < 16 * run.tile_bytes and run.peak_bytes < run.scene_bytes / 4


def test_landcover_pixels_and_split_are_stratified() -> None:
    pixels = landcover.load_pixels(DATA / "spyndex" / "spectral.json")
    assert pixels.reflectance.shape == (120, 4) and np.bincount(pixels.labels).tolist() == [37, 46, 37]
    train, test = landcover.stratified_split(pixels.labels, 0.3, seed=0)
    assert len(set(train) & set(test)) == 0 and len(test) == 36
    assert landcover.features(pixels.reflectance).shape == (120, 6)
    assert landcover.load_sentinel2(DATA / "spyndex" / "S2_10m.json.gz").shape == (4, 300, 300)
