"""The student version hides solutions and hidden tests and locks what students must not edit."""

from __future__ import annotations

from pathlib import Path

from workbench.curriculum import cells
from workbench.curriculum.release import student_version


def test_student_version_of_sample_lab(repo_root: Path) -> None:
    source = repo_root / "curricula" / "intro" / "labs" / "hello" / "source.ipynb"
    nb = student_version(source)
    text = "\n".join(cell.source for cell in nb.cells)
    assert "BEGIN SOLUTION" not in text and "np.mean" not in text
    assert "HIDDEN" not in text and "np.arange(10)" not in text
    assert text.count("raise NotImplementedError()") == 2
    answer = next(c for c in nb.cells if cells.grade_id(c) == "mean_of_squares")
    assert answer.source == "def mean_of_squares(xs):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    test = next(c for c in nb.cells if cells.grade_id(c) == "test_mean_of_squares")
    assert test.source == "assert mean_of_squares([1, 2, 3]) == 14 / 3"
    assert test.metadata["editable"] is False and test.metadata["deletable"] is False
    assert "editable" not in answer.metadata
    assert all(c.get("outputs", []) == [] for c in nb.cells)
