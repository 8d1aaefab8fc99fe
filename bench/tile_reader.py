"""Tile reader throughput on a large tiled GeoTIFF vs one raw sequential read, with peak memory.

Builds a SIZE x SIZE x 6 mirrored mosaic of the real Landsat scene (tiled 512 x 512, deflate) in a
temporary folder, then alternates, ``--repeats`` times, (a) reading it window by window and (b)
reading it whole in one call; prints median MB/s and the ratio (goal: tiled >= 80 % of whole).
Then one tiled NDVI pass reports traced and resident peak memory against the tile and the scene,
and checks every tile against the whole-array NDVI of the original; finally the graded lab's pass
(DN -> TOA reflectance -> torch MLP land cover -> tiled uint8 GeoTIFF with overviews) reports its
speed and resident peak against the tile's bound, checked against the map of the original.
Run: ``.venv/bin/python bench/tile_reader.py [--size 16384] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from workbench.labs import frameworks  # noqa: E402
from workbench.labs.remote_sensing import indices, landcover, radiometry, read_scene, tiles  # noqa: E402

DATA = REPO / "curricula" / "ai-compute-foundations" / "data"
SCENE = DATA / "landsat" / "L7_ETMs.tif"


def landcover_classifier() -> tiles.TileFn:
    """The lab's reference pipeline for one tile: reflectance, features, the torch MLP, classes (255: no data)."""
    pixels = landcover.load_pixels(DATA / "spyndex" / "spectral.json")
    x = landcover.features(pixels.reflectance)
    train, _ = landcover.stratified_split(pixels.labels, 0.3, seed=0)
    scaler = landcover.Scaler.fit(x[train])
    fw = frameworks.get("torch")
    model = fw.build(frameworks.mlp(6, [32, 32], 3), seed=0)
    fw.train(model, scaler(x[train]), pixels.labels[train], epochs=60, lr=0.01, batch_size=16, seed=0)

    def classify(tile: np.ndarray) -> np.ndarray:
        refl = radiometry.toa_reflectance(tile)
        logits = fw.predict(model, scaler(landcover.features(landcover.image_pixels(refl[:4]))))
        classes = np.asarray(logits.argmax(axis=1), np.uint8).reshape(tile.shape[1:])
        classes[np.isnan(refl).any(axis=0)] = 255
        return classes

    return classify


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--block", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tile-bench-") as tmp:
        start = time.perf_counter()
        large = tiles.build_mosaic(SCENE, Path(tmp) / "large.tif", args.size, args.block)
        build_s = time.perf_counter() - start
        tiles.read_throughput(large, args.block)  # warm the page cache for both readers alike
        runs = [tiles.read_throughput(large, args.block) for _ in range(args.repeats)]
        tiled = statistics.median(r["tiled_MBps"] for r in runs)
        whole = statistics.median(r["whole_MBps"] for r in runs)
        scene = read_scene(SCENE)
        hook, report = tiles.check_against_original(indices.ndvi(scene.band("nir"), scene.band("red"), 0), args.size)
        run = tiles.map_tiles(large, None, lambda t: indices.ndvi(t[3], t[2], 0), on_tile=hook)
        print(f"machine: {platform.machine()}, {platform.python_version()}; mosaic {args.size} x {args.size} x 6 uint8 "
              f"({runs[0]['bytes'] / 1e6:.0f} MB of pixels, {large.stat().st_size / 1e6:.0f} MB on disk, "
              f"built in {build_s:.1f} s), blocks {args.block}")
        print(f"| reader | MB/s (median of {args.repeats}) |")
        print("|---|---:|")
        print(f"| tiled ({args.block} x {args.block} windows) | {tiled:.1f} |")
        print(f"| whole (one read) | {whole:.1f} |")
        print(f"tiled / whole = {tiled / whole:.2f} (goal >= 0.80)")
        print(f"tiled NDVI pass: {run.tiles} tiles, {run.megapixels_per_s:.1f} Mpixel/s, peak traced "
              f"{run.peak_bytes / 1e6:.1f} MB = {run.peak_bytes / run.tile_bytes:.1f} x tile "
              f"({run.tile_bytes / 1e6:.1f} MB), {run.peak_bytes / run.scene_bytes:.4f} x scene; "
              f"mismatched pixels vs whole-array NDVI: {report['mismatched']}; resident peak "
              f"{run.peak_rss_bytes / 1e6:.1f} MB")
        classify = landcover_classifier()
        hook, report = tiles.check_against_original(classify(scene.data).astype(np.float32), args.size)
        lc = tiles.map_tiles(large, Path(tmp) / "landcover.tif", classify, on_tile=hook, dtype="uint8",
                             overviews=(2, 4, 8, 16))
        print(f"land-cover pass (reflectance, torch MLP, GeoTIFF + overviews): {lc.megapixels_per_s:.2f} Mpixel/s "
              f"({lc.seconds:.1f} s), resident peak {lc.peak_rss_bytes / 1e6:.0f} MB against the tile's bound "
              f"{lc.memory_bound / 1e6:.0f} MB ({lc.peak_rss_bytes / lc.tile_pixels:.0f} B per tile pixel, "
              f"cache included); mismatched pixels vs the original's map: {report['mismatched']}")


if __name__ == "__main__":
    main()
