"""The student version hides solutions (behind the default stub or a cell's own) and hidden tests, and
locks what students must not edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from workbench.curriculum import cells, load_course
from workbench.curriculum.release import student_version
from workbench.errors import CourseError


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


def _answer_cell(cell_type: str, source: str, gid: str, stub: object = None) -> nbformat.NotebookNode:
    new = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    metadata: dict[str, object] = {"nbgrader": {"grade_id": gid, "solution": True, "grade": False,
                                                "locked": False, "schema_version": 3}}
    if stub is not None:
        metadata["workbench"] = {"stub": stub}
    return new(source, metadata=metadata)


def test_a_cell_stub_is_exactly_what_students_see(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[
        _answer_cell("code", "### BEGIN SOLUTION\nvolume = 3 ** 3\n### END SOLUTION", "code_stub",
                     stub="volume = ...  # replace ... with your answer"),
        _answer_cell("markdown", "Three minus signs multiply to one.", "md_stub",
                     stub="_Type your answer here, replacing this text._"),
        _answer_cell("code", "def f():\n    ### BEGIN SOLUTION\n    a = 1\n    ### END SOLUTION\n"
                             "    ### BEGIN SOLUTION\n    return a\n    ### END SOLUTION", "two_regions",
                     stub="return ..."),
        _answer_cell("code", "total = sum(range(4))", "whole_cell", stub="total = ..."),
        _answer_cell("code", "### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "code_default"),
        _answer_cell("markdown", "The solution.", "md_default"),
    ])
    path = tmp_path / "stubs.ipynb"
    nbformat.write(nb, path)
    student = student_version(path)
    assert all("workbench" not in c.metadata for c in student.cells)  # shown in the cell, not again in the file
    released = {cells.grade_id(c): c.source for c in student.cells}
    assert released == {
        "code_stub": "volume = ...  # replace ... with your answer",
        "md_stub": "_Type your answer here, replacing this text._",
        "two_regions": "def f():\n    return ...",  # the first region gets the stub, later ones go
        "whole_cell": "total = ...",
        "code_default": cells.CODE_STUB,
        "md_default": cells.ANSWER_STUB,
    }


def test_a_bad_stub_is_reported_by_the_course_check_naming_the_cell(tmp_path: Path, repo_root: Path) -> None:
    course = tmp_path / "intro"
    shutil.copytree(repo_root / "curricula" / "intro", course)
    nb_path = course / "labs" / "hello" / "source.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[3].metadata["workbench"] = {"stub": ["def mean_of_squares(xs):", "    ..."]}  # cell 4
    nb.cells[4].metadata["workbench"] = {"stub": "..."}  # cell 5 is a test: nothing to replace
    nbformat.write(nb, nb_path)
    with pytest.raises(CourseError) as caught:
        load_course(course)
    found = [str(p) for p in caught.value.problems]
    assert any(p.startswith(f"{nb_path}: cell 4: metadata.workbench.stub of cell 'mean_of_squares' must be "
                            "a string") for p in found), found
    assert any(p.startswith(f"{nb_path}: cell 5: cell 'test_mean_of_squares' has metadata.workbench.stub "
                            "but no solution") for p in found), found
    assert len(found) == 2, found
