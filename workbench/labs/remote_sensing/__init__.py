"""Remote sensing at teaching scale: scenes, spectral indices, tile-by-tile pipelines, land cover.

The LuojiaNet problem in miniature: scenes larger than memory are processed window by window so
peak memory follows the tile, not the scene; the same index code runs on a tile and on a whole
array, so the two can be compared exactly.
"""

from workbench.labs.remote_sensing.indices import ndbi, ndvi, ndwi, normalized_difference
from workbench.labs.remote_sensing.scene import LANDSAT7_BANDS, Scene, composite, read_scene

__all__ = ["LANDSAT7_BANDS", "Scene", "composite", "ndbi", "ndvi", "ndwi", "normalized_difference", "read_scene"]
