"""Lab 2 (remote-sensing): graded reference 100%, template 0, each typical mistake in between, both frameworks run."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration
LAB = "remote-sensing"

# Each constant is one typical wrong answer on its own, so each costs only its own points.
UINT8_WRAPAROUND = '''
def normalized_difference(a, b, nodata=None):
    a, b = np.asarray(a), np.asarray(b)
    with np.errstate(all="ignore"):
        return ((a - b) / (a + b)).astype(np.float32)

INDEX_BANDS = {"ndvi": ("nir", "red"), "ndwi": ("green", "nir"), "ndbi": ("swir1", "nir")}
'''
NDVI_BANDS_SWAPPED = '''
def normalized_difference(a, b, nodata=None):
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    total = a64 + b64
    bad = total == 0
    if nodata is not None:
        bad |= (np.asarray(a) == nodata) | (np.asarray(b) == nodata)
    out = np.full(total.shape, np.nan, dtype=np.float32)
    np.divide(a64 - b64, total, out=out, where=~bad, casting="unsafe")
    return out

INDEX_BANDS = {"ndvi": ("red", "nir"), "ndwi": ("green", "nir"), "ndbi": ("swir1", "nir")}
'''
REFLECTANCE_UNSCALED = '''
def reflectance(dn):
    out = np.asarray(dn, dtype=np.float32)
    out[np.asarray(dn) == 0] = np.nan
    return out
'''
NODATA_IN_PERCENTILES = '''
def stretch(band, valid=None):
    band = np.asarray(band, dtype=np.float32)
    lo, hi = np.percentile(band, [2, 98])
    return np.clip((band - lo) / max(hi - lo, 1e-12), 0, 1).astype(np.float32)
'''


@pytest.fixture(scope="module")
def graded(labs: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The reference and each typical mistake, graded two at a time: a grading of the 8192² scene is one
    process of about two minutes, and the machine has two cores."""
    folder = tmp_path_factory.mktemp("remote-sensing-graded")
    jobs = {"reference": labs.reference(LAB),
            **{name: labs.with_answer(LAB, answers) for name, (answers, _, _) in MISTAKES.items()}}
    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(labs.grade, notebook, LAB, folder, name) for name, notebook in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def test_reference_scores_full_marks(graded: dict[str, Any], labs: Any) -> None:
    result = graded["reference"]
    assert result.score == result.max_score == 16, [t for t in result.tasks if t.points < t.max_points]
    text = labs.graded_stdout(result, "evaluate")
    scores = [float(v) for v in re.findall(r"'(?:torch|mindspore)': ([0-9.]+)", text)]
    assert len(scores) == 2 and min(scores) >= 0.95, text  # the README quotes these numbers


def test_template_scores_zero(labs: Any, tmp_path: Path) -> None:
    assert labs.grade(labs.template(LAB), LAB, tmp_path, "template").score == 0


# Each typical wrong answer on its own: (answers by grade id, failing task -> message text, passing tasks).
MISTAKES = {
    "uint8-wraparound": ({"normalized_difference": UINT8_WRAPAROUND},
                         {"check_normalized_difference": "NaN exactly where"},
                         ("check_index_bands", "check_reflectance", "check_tiled", "check_classifier")),
    "ndvi-bands-swapped": ({"normalized_difference": NDVI_BANDS_SWAPPED}, {"check_index_bands": "ndvi"},
                           ("test_normalized_difference", "check_normalized_difference", "check_tiled")),
    "reflectance-unscaled": ({"reflectance": REFLECTANCE_UNSCALED},
                             {"test_reflectance": "", "check_reflectance": "still digital numbers"},
                             ("check_normalized_difference", "check_index_bands", "check_tiled")),
    "nodata-in-percentiles": ({"stretch": NODATA_IN_PERCENTILES}, {"check_stretch": "nodata excluded"},
                              ("check_normalized_difference", "check_reflectance", "check_tiled", "check_classifier")),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_typical_mistake_scores_in_between_with_a_message(graded: dict[str, Any], labs: Any, mistake: str) -> None:
    _, failing, passing = MISTAKES[mistake]
    labs.check_mistake(graded[mistake], failing, passing, mistake)


def test_notebook_runs_with_mindspore(labs: Any, tmp_path: Path) -> None:
    """The torch run is the reference's graded run above; this one sets FRAMEWORK=mindspore."""
    framework = "mindspore"
    nb, seconds = labs.execute(LAB, framework, tmp_path)
    assert seconds < 300, f"lab took {seconds:.0f} s; the budget is 5 minutes on 2 cores"
    accuracy = labs.outputs_text(nb, "evaluate")
    scores = [float(v) for v in re.findall(r"'(?:torch|mindspore)': ([0-9.]+)", accuracy)]
    assert len(scores) == 2 and min(scores) >= 0.95, accuracy  # the README quotes these numbers
    assert "mismatched pixels: 0" in labs.outputs_text(nb, "run-tiled")
    assert "class fractions:" in labs.outputs_text(nb, "landcover-map")
    assert "'overviews': [2, 4, 8, 16]" in labs.outputs_text(nb, "landcover-geotiff")
