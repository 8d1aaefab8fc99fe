"""The pipeline workers' kept mappings of the shared photo files (``PhotoViews``) see every photo written.

A worker keeps its mapping of each file across photos, while the parent rewrites the file for the next
photo and grows it for a larger one: a kept mapping must show the new pixels, and a mapping too small for
the new photo must be replaced (else the view is cut short or refused).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from workbench.labs.face import pipeline_workers
from workbench.labs.face.pipeline_workers import PhotoViews, SharedPhoto


def test_kept_views_see_rewritten_and_grown_photos() -> None:
    rng = np.random.default_rng(0)
    slot, views = SharedPhoto(), PhotoViews()
    try:
        for shape in [(40, 30, 3), (40, 30, 3), (20, 10, 3), (300, 200, 3), (50, 60, 3), (301, 200, 3)]:
            photo = rng.integers(0, 256, shape, dtype=np.uint8)
            seen = views.view(*slot.write(photo))
            assert seen.shape == shape
            assert np.array_equal(seen, photo)
    finally:
        slot.close()


def test_a_full_shared_folder_is_a_clear_error_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A photo larger than the room left where the shared files live (a small /dev/shm, a sandbox's
    tmpfs) is refused when space is reserved, with a sentence naming the folder, instead of the SIGBUS a
    copy into an unbacked mapping would be."""
    small = tmp_path / "shm"
    small.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a 1 MB tmpfs needs root")
    try:
        monkeypatch.setattr(pipeline_workers, "SHARED_DIR", str(small))
        slot = SharedPhoto()
        try:
            with pytest.raises(OSError, match=rf"no room for a 2\.1 MB photo in {small} \(.*\): free space there"):
                slot.write(np.zeros((1000, 700, 3), np.uint8))
            fits = np.full((100, 100, 3), 7, np.uint8)  # the slot still takes a photo that fits
            assert np.array_equal(PhotoViews().view(*slot.write(fits)), fits)
        finally:
            slot.close()
    finally:
        subprocess.run(["umount", str(small)], check=True)
