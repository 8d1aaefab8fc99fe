"""``workbench release``: student versions and grade-id checks, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from workbench.cli import main


def meta(gid: str | None, **flags: object) -> dict:
    data: dict = {"schema_version": 3, **flags}
    if gid is not None:
        data["grade_id"] = gid
    return {"nbgrader": data}


def write(path: Path, *cells: nbformat.NotebookNode) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=list(cells)), path)
    return path


def test_release_writes_student_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(
        tmp_path / "src" / "lab.ipynb",
        new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
                      metadata=meta("f", solution=True)),
        new_code_cell("assert f() == 1\n### BEGIN HIDDEN TESTS\nassert f() != 2  # SECRET\n### END HIDDEN TESTS",
                      metadata=meta("t", grade=True, points=1)),
        new_code_cell("# workbench: check\ndef check(student):\n    assert student.call('f') == 1  # SECRET",
                      metadata=meta("c", grade=True, points=1)),
    )
    (tmp_path / "src" / "data.csv").write_text("x\n1\n")
    assert main(["release", str(tmp_path / "src"), "--out", str(tmp_path / "out")]) == 0
    out = json.loads((tmp_path / "out" / "lab.ipynb").read_text())
    sources = ["".join(c["source"]) for c in out["cells"]]
    assert "# YOUR CODE HERE\n    raise NotImplementedError()" in sources[0] and "return 1" not in sources[0]
    assert "SECRET" not in json.dumps(out) and sources[1].strip() == "assert f() == 1"
    assert out["cells"][1]["metadata"]["editable"] is False and out["cells"][1]["metadata"]["deletable"] is False
    assert out["cells"][2]["metadata"]["nbgrader"]["grade_id"] == "c"
    assert (tmp_path / "out" / "data.csv").read_text() == "x\n1\n"
    assert src.exists()


def test_release_refuses_missing_and_repeated_grade_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "bad.ipynb",
                new_code_cell("assert True", metadata=meta(None, grade=True, points=1)),
                new_code_cell("x = 1", metadata=meta("a", solution=True)),
                new_code_cell("assert x", metadata=meta("a", grade=True, points=1)))
    assert main(["release", str(src), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "bad.ipynb: cell 1: graded/solution/locked cell has no grade_id" in err
    assert "cell 3: grade_id 'a' is already used by cell 2" in err
    assert not (tmp_path / "out").exists()


def test_release_names_an_unreadable_notebook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{")
    assert main(["release", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.ipynb" in err[0] and "not valid JSON" in err[0]


def test_student_version_hides_native_check_code(tmp_path: Path) -> None:
    """The server's "open lab" uses student_version: check code must never reach a student."""
    from workbench.curriculum.release import student_version

    src = write(tmp_path / "lab.ipynb",
                new_code_cell("# workbench: check\ndef check(student):\n    assert student.call('f') == 1  # SECRET",
                              metadata=meta("c", grade=True, points=1)))
    nb = student_version(src)
    assert "SECRET" not in nb.cells[0].source and nb.cells[0].source.startswith("# Checked by the grader")
