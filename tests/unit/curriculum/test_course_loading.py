"""Course format v1: good courses load; each kind of bad input names the file, the place and the fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from workbench.curriculum import load_course
from workbench.errors import CourseError


@pytest.fixture
def course_dir(tmp_path: Path, repo_root: Path) -> Path:
    target = tmp_path / "intro"
    shutil.copytree(repo_root / "curricula" / "intro", target)
    return target


def write_yaml(course_dir: Path, text: str) -> Path:
    path = course_dir / "course.yaml"
    path.write_text(text)
    return path


def problems(course_dir: Path) -> list[str]:
    with pytest.raises(CourseError) as caught:
        load_course(course_dir)
    return [str(p) for p in caught.value.problems]


def test_sample_course_loads(course_dir: Path) -> None:
    course = load_course(course_dir)
    assert course.id == "intro"
    assert [lab.id for lab in course.labs] == ["hello"]
    lab = course.labs[0]
    assert lab.points == 3
    assert lab.device.kind == "cpu" and lab.device.count == 1
    assert lab.due is not None and lab.due.tzinfo is not None
    assert lab.notebook == course_dir / "labs" / "hello" / "source.ipynb"


def test_device_fallbacks_and_dates(course_dir: Path) -> None:
    write_yaml(course_dir, """
id: intro
title: T
labs:
  - id: hello
    title: Hello
    path: labs/hello/source.ipynb
    due: 2026-12-31
    device: {kind: npu, count: 2, fallback: [{kind: gpu, count: 1}, {kind: cpu}]}
    frameworks: [torch, mindspore]
""")
    lab = load_course(course_dir).labs[0]
    assert lab.device.to_json() == {
        "kind": "npu", "count": 2,
        "fallback": [{"kind": "gpu", "count": 1}, {"kind": "cpu", "count": 1}],
    }
    assert lab.due is not None and (lab.due.hour, lab.due.minute) == (23, 59)
    assert lab.frameworks == ("torch", "mindspore")


def test_missing_fields_are_named(course_dir: Path) -> None:
    path = write_yaml(course_dir, "id: intro\nlabs:\n  - id: hello\n    path: labs/hello/source.ipynb\n")
    found = problems(course_dir)
    assert f"{path}: course: missing required key 'title'" in found
    assert f"{path}:3: lab 'hello': missing required key 'title'" in found


def test_unknown_keys_suggest_the_right_one(course_dir: Path) -> None:
    path = write_yaml(course_dir, """id: intro
title: T
labs:
  - id: hello
    titel: Hello
    path: labs/hello/source.ipynb
""")
    found = problems(course_dir)
    assert f"{path}:5: lab 'hello': unknown key 'titel' — did you mean 'title'?" in found


def test_bad_yaml_reports_the_line(course_dir: Path) -> None:
    path = write_yaml(course_dir, "id: intro\ntitle: [unclosed\nlabs: []\n")
    (only,) = problems(course_dir)
    assert only.startswith(f"{path}:3: not valid YAML")


def test_missing_notebook_says_where_it_looked(course_dir: Path) -> None:
    path = write_yaml(course_dir, "id: intro\ntitle: T\nlabs:\n  - {id: a, title: A, path: labs/nope.ipynb}\n")
    (only,) = problems(course_dir)
    assert only.startswith(f"{path}:4: lab 'a': notebook labs/nope.ipynb not found")
    assert "fix the path or add the notebook" in only


def test_duplicate_lab_ids(course_dir: Path) -> None:
    path = write_yaml(course_dir, """id: intro
title: T
labs:
  - {id: hello, title: A, path: labs/hello/source.ipynb}
  - {id: hello, title: B, path: labs/hello/source.ipynb}
""")
    found = problems(course_dir)
    assert f"{path}:5: lab 'hello': duplicate lab id (also lab 1); give each lab its own id" in found


def test_every_problem_is_reported_at_once(course_dir: Path) -> None:
    write_yaml(course_dir, """id: Bad Id
title: T
colour: blue
labs:
  - {id: a, title: A, path: labs/missing.ipynb, device: {kind: tpu}}
""")
    found = problems(course_dir)
    assert len(found) == 4
    joined = "\n".join(found)
    assert "course id 'Bad Id' must be lowercase" in joined
    assert "unknown key 'colour'" in joined
    assert "device kind 'tpu' is not one of npu, gpu, cpu" in joined
    assert "notebook labs/missing.ipynb not found" in joined


def test_points_must_match_the_notebook(course_dir: Path) -> None:
    text = (course_dir / "course.yaml").read_text().replace("points: 3", "points: 5")
    (course_dir / "course.yaml").write_text(text)
    (only,) = problems(course_dir)
    assert "points says 5 but the notebook's graded cells add up to 3; make them agree" in only


def test_no_course_yaml(tmp_path: Path) -> None:
    (only,) = problems(tmp_path)
    assert f"{tmp_path / 'course.yaml'}: no course.yaml here" in only


def test_course_yaml_that_is_not_a_mapping(tmp_path: Path) -> None:
    file = tmp_path / "course.yaml"
    file.write_text("- id: intro\n")
    assert problems(tmp_path) == [f"{file}:1: course.yaml must be a mapping with id, title and labs"]


def _notebook(course_dir: Path) -> Path:
    return course_dir / "labs" / "hello" / "source.ipynb"


def test_malformed_notebook_json(course_dir: Path) -> None:
    _notebook(course_dir).write_text("{not json")
    (only,) = problems(course_dir)
    assert only.startswith(f"{_notebook(course_dir)}: not a readable notebook")


def test_notebook_cell_problems_name_the_cell(course_dir: Path) -> None:
    nb = nbformat.read(_notebook(course_dir), as_version=4)
    del nb.cells[4].metadata["nbgrader"]["grade_id"]  # the first test cell
    nb.cells[7].metadata["nbgrader"]["grade_id"] = "normalise"  # clashes with cell 7
    nb.cells[3].source = nb.cells[3].source.replace("### END SOLUTION", "")
    nbformat.write(nb, _notebook(course_dir))
    found = problems(course_dir)
    nb_path = _notebook(course_dir)
    assert any(p.startswith(f"{nb_path}: cell 5: graded/solution/locked cell has no grade_id") for p in found)
    assert f"{nb_path}: cell 8: grade_id 'normalise' is already used by cell 7; grade ids must be unique" in found
    assert f"{nb_path}: cell 4: '### BEGIN SOLUTION' is never closed; add '### END SOLUTION'" in found


def test_missing_cell_id_is_invalid_notebook(course_dir: Path) -> None:
    raw = json.loads(_notebook(course_dir).read_text())
    del raw["cells"][0]["id"]
    _notebook(course_dir).write_text(json.dumps(raw))
    (only,) = problems(course_dir)
    assert only.startswith(f"{_notebook(course_dir)}: cell 1 has no id; open and save the notebook")


def test_grading_limits_are_checked_and_named_as_the_grader_names_them(course_dir: Path) -> None:
    from dataclasses import fields

    from workbench.curriculum.model import GRADING_KEYS
    from workbench.grading.sandbox import Limits

    assert set(GRADING_KEYS) == {f.name for f in fields(Limits)}
    text = (course_dir / "course.yaml").read_text()
    (course_dir / "course.yaml").write_text(text + "    grading: {cell_timeout: 120, memory_mb: 4096}\n")
    lab = load_course(course_dir).labs[0]
    assert lab.grading == {"cell_timeout": 120, "memory_mb": 4096}
    limits = Limits.for_lab(lab.grading, cell_timeout=400)
    assert (limits.cell_timeout, limits.total_timeout, limits.memory_mb) == (400, 400, 4096)
    path = course_dir / "course.yaml"
    path.write_text(text + "    grading: {cel_timeout: 120, memory_mb: -1}\n")
    found = problems(course_dir)
    assert any("unknown key 'cel_timeout' — did you mean 'cell_timeout'?" in p for p in found)
    assert any("grading memory_mb must be a number > 0, not -1" in p for p in found)
