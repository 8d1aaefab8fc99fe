"""The pipeline workers' kept mappings of the shared photo files (``PhotoViews``) see every photo written.

A worker keeps its mapping of each file across photos, while the parent rewrites the file for the next
photo and grows it for a larger one: a kept mapping must show the new pixels, and a mapping too small for
the new photo must be replaced (else the view is cut short or refused).
"""

from __future__ import annotations

import numpy as np

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
