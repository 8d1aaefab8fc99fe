"""BigEarthNet-S2 example patches: 12 Sentinel-2 L2A bands at three resolutions, multi-label land cover.

Why unpack to a folder: GDAL reads ``.tar`` and ``.tar.gz`` in place but not ``.tar.bz2``, and the
archive is small (0.6 MB), so it is unpacked once into a temporary folder the caller owns.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
PATCH_SIZE = 120  # pixels at 10 m; 20 m bands are 60 x 60, 60 m bands 20 x 20


@dataclass
class Patch:
    """One patch: ``bands`` maps a band name to its uint16 array (native resolution); ``labels`` CORINE names."""

    name: str
    bands: dict[str, np.ndarray]
    labels: list[str]
    epsg: int | None

    def stack(self, names: tuple[str, ...] = BANDS, size: int = PATCH_SIZE) -> np.ndarray:
        """(len(names), size, size) float32 reflectance, coarser bands upsampled by pixel repetition."""
        out = []
        for name in names:
            band = self.bands[name]
            factor = size // band.shape[0]
            out.append(np.kron(band, np.ones((factor, factor), band.dtype)) if factor > 1 else band)
        return np.stack(out).astype(np.float32) / 1e4


def unpack(archive: str | Path, folder: str | Path) -> Path:
    """Extract the example archive into ``folder``; return the folder holding the patch folders."""
    with tarfile.open(archive, "r:bz2") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(folder, filter="data")
        else:  # Python before 3.11.4 (Debian 12's 3.11.2) has no filters: refuse what "data" would
            for member in tar.getmembers():
                if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in member.name:
                    raise ValueError(f"{archive}: refusing member {member.name!r} (not a plain file inside it)")
            tar.extractall(folder)
    return next(p for p in Path(folder).iterdir() if p.is_dir())


def read_patch(folder: str | Path) -> Patch:
    """Read one patch folder (``<name>_<band>.tif`` files + ``<name>_labels_metadata.json``)."""
    import rasterio

    folder = Path(folder)
    bands, epsg = {}, None
    for band in BANDS:
        with rasterio.open(folder / f"{folder.name}_{band}.tif") as src:
            bands[band] = src.read(1)
            epsg = src.crs.to_epsg() if src.crs else None
    meta = json.loads((folder / f"{folder.name}_labels_metadata.json").read_text())
    return Patch(folder.name, bands, list(meta["labels"]), epsg)


def read_all(root: str | Path) -> list[Patch]:
    """Every patch under ``root``, sorted by name."""
    return [read_patch(p) for p in sorted(Path(root).iterdir()) if p.is_dir()]
