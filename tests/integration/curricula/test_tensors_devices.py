"""Lab 1 (tensors-devices): graded reference 100%, template 0, each typical mistake in between, both frameworks run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration
LAB = "tensors-devices"

NO_ZERO_GUARD = '''
def standardise(x):
    x = np.asarray(x, dtype=np.float32)
    return (x - x.mean(axis=0)) / x.std(axis=0)
'''
DIFFERENT_SEEDS = '''
def train_and_evaluate(name, x, y):
    fw = F.get(name)
    seed = 0 if name == "torch" else 1
    model = fw.build(SPEC, seed=seed)
    initial = fw.predict(model, x)
    log = fw.train(model, x, y, epochs=EPOCHS, lr=0.01, batch_size=32, seed=seed)
    logits = fw.predict(model, x)
    return {"loss": log.losses[-1], "accuracy": F.accuracy(logits, y), "seconds": log.seconds,
            "initial_logits": initial, "logits": logits}
'''


def test_reference_scores_full_marks(labs: Any, tmp_path: Path) -> None:
    result = labs.grade(labs.reference(LAB), LAB, tmp_path, "reference")
    assert result.score == result.max_score == 6, [t for t in result.tasks if t.points < t.max_points]
    assert "agree on 100.0% of points" in labs.graded_stdout(result, "run-both")


def test_template_scores_zero(labs: Any, tmp_path: Path) -> None:
    result = labs.grade(labs.template(LAB), LAB, tmp_path, "template")
    assert result.score == 0


# Each typical wrong answer on its own: (answers by grade id, failing task -> message text, passing tasks).
MISTAKES = {
    # the visible test has no constant column, so only the grader's check catches it
    "no-zero-guard": ({"standardise": NO_ZERO_GUARD}, {"check_standardise": "constant column"},
                      ("test_standardise", "test_median_time", "check_summary")),
    "different-seeds": ({"train_and_evaluate": DIFFERENT_SEEDS}, {"check_summary": "seed=0"},
                        ("check_standardise", "test_median_time")),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_typical_mistake_scores_in_between_with_a_message(labs: Any, tmp_path: Path, mistake: str) -> None:
    labs.typical_mistake(LAB, *MISTAKES[mistake], tmp_path, mistake)


def test_notebook_runs_with_mindspore(labs: Any, tmp_path: Path) -> None:
    """The torch run is the reference's graded run above; this one sets FRAMEWORK=mindspore."""
    framework = "mindspore"
    nb, seconds = labs.execute(LAB, framework, tmp_path)
    assert seconds < 300, f"lab took {seconds:.0f} s; the budget is 5 minutes on 2 cores"
    assert f"default framework: {framework}" in labs.outputs_text(nb, "setup")
    assert "agree on 100.0% of points" in labs.outputs_text(nb, "run-both")
