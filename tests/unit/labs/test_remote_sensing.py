"""Remote-sensing building blocks: indices, reflectance, mirroring, tiled exactness, memory bound, GeoTIFF."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from workbench.labs import frameworks
from workbench.labs.remote_sensing import indices, landcover, radiometry, read_scene, tiles

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


def test_reflectance_follows_the_published_formula_on_a_few_pixels() -> None:
    """Chander, Markham & Helder (2009) Tables 1 and 11, written out here, against the module's arrays."""
    dn = read_scene(SCENE).data[:, [10, 200, 300], [20, 100, 340]]  # (6 bands, 3 pixels)
    ranges = [(-6.2, 191.6), (-6.4, 196.5), (-5.0, 152.9), (-5.1, 241.1), (-1.0, 31.06), (-0.35, 10.80)]  # HHHLHH
    esun = [1997.0, 1812.0, 1533.0, 1039.0, 230.8, 84.90]
    cos_zenith = np.cos(np.radians(90 - 55))
    got = radiometry.toa_reflectance(dn)
    for band, ((lmin, lmax), e) in enumerate(zip(ranges, esun, strict=True)):
        radiance = (lmax - lmin) / (255 - 1) * (dn[band].astype(float) - 1) + lmin
        assert np.allclose(got[band], np.pi * radiance / (e * cos_zenith), rtol=1e-5), band
    assert got.dtype == np.float32 and np.all((got > 0) & (got < 1))
    with_fill = radiometry.toa_reflectance(np.array([[[0, 50]]] * 6, np.uint8))
    assert np.isnan(with_fill[:, 0, 0]).all() and np.isfinite(with_fill[:, 0, 1]).all()


def test_indices_do_not_depend_on_the_assumed_sun_elevation() -> None:
    dn = read_scene(SCENE).data
    low_sun = dataclasses.replace(radiometry.OLINDA_ETM, sun_elevation_deg=30.0, earth_sun_au=0.983)
    a, b = radiometry.toa_reflectance(dn), radiometry.toa_reflectance(dn, low_sun)
    assert not np.allclose(a, b)
    assert np.allclose(indices.ndvi(a[3], a[2]), indices.ndvi(b[3], b[2]), atol=1e-6, equal_nan=True)


def test_landcover_geotiff_is_tiled_georeferenced_with_overviews_and_memory_follows_the_tile(tmp_path: Path) -> None:
    """A real torch MLP maps a 4096² mosaic tile by tile; the GeoTIFF is what a GIS needs to place and draw it."""
    import rasterio

    pixels = landcover.load_pixels(DATA / "spyndex" / "spectral.json")
    x = landcover.features(pixels.reflectance)
    scaler = landcover.Scaler.fit(x)
    fw = frameworks.get("torch")
    model = fw.build(frameworks.mlp(6, [32, 32], 3), seed=0)
    fw.train(model, scaler(x), pixels.labels, epochs=20, lr=0.01, batch_size=16, seed=0)

    def classify(tile: np.ndarray) -> np.ndarray:
        refl = radiometry.toa_reflectance(tile)
        logits = fw.predict(model, scaler(landcover.features(landcover.image_pixels(refl[:4]))))
        return np.asarray(logits.argmax(axis=1), np.uint8).reshape(tile.shape[1:])

    scene = read_scene(SCENE)
    size, block = 4096, 256
    large = tiles.build_mosaic(SCENE, tmp_path / "large.tif", size, block)
    hook, report = tiles.check_against_original(classify(scene.data).astype(np.float32), size)
    classify(scene.data[:, :block, :block])  # the framework's one-off allocations happen before measuring
    run = tiles.map_tiles(large, tmp_path / "map.tif", classify, on_tile=hook, dtype="uint8", overviews=(2, 4, 8))
    assert report["mismatched"] == 0 and run.tiles == (size // block) ** 2
    # The bound is GDAL's cache cap, 64 MiB of runtime slack and 1 KiB per pixel of one 256² tile (160 MiB,
    # whatever the scene's size); the scene's float32 reflectance alone is 384 MiB, so a pass holding the
    # scene cannot fit (the next test shows one that tries).
    assert run.memory_bound == (32 + 64) * 2**20 + 1024 * block * block < 4 * run.scene_bytes
    assert 0 < run.peak_rss_bytes < run.memory_bound, (run.peak_rss_bytes, run.memory_bound)

    with rasterio.open(tmp_path / "map.tif") as out:
        assert out.crs == scene.crs and out.crs.to_epsg() == 31985
        assert out.transform.almost_equals(scene.transform)
        assert out.profile["tiled"] and out.block_shapes == [(block, block)]
        assert out.overviews(1) == [2, 4, 8] and out.dtypes[0] == "uint8" and out.nodata == 255
        assert out.shape == (size, size)
        preview = out.read(1, out_shape=(size // 8, size // 8))  # served from the 8x overview
    assert set(np.unique(preview)) <= {0, 1, 2}


def test_resident_peak_catches_a_pass_that_keeps_every_tile(tmp_path: Path) -> None:
    """The bound is not vacuous: a pass that keeps each tile's reflectance (the whole scene, in the end) exceeds it."""
    size, block = 4096, 256
    large = tiles.build_mosaic(SCENE, tmp_path / "large.tif", size, block)
    kept: list[np.ndarray] = []

    def hoard(tile: np.ndarray) -> np.ndarray:
        kept.append(radiometry.toa_reflectance(tile))
        return kept[-1][3]

    run = tiles.map_tiles(large, None, hoard)
    assert len(kept) == run.tiles and run.peak_rss_bytes > run.memory_bound, (run.peak_rss_bytes, run.memory_bound)
