"""Load a course directory and validate it, reporting every problem at once with where and how to fix.

An instructor fixes a course in one pass when told all of it: each problem names the file and the
line (course.yaml) or the cell (notebooks), and what to write instead.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

import nbformat

from workbench.curriculum import cells
from workbench.curriculum.model import DEVICE_KINDS, FRAMEWORKS, GRADING_KEYS, Course, DeviceRequest, Lab
from workbench.errors import CourseError
from workbench.yaml_source import Lines, Problems, open_mapping, unknown_keys

COURSE_FILE = "course.yaml"
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
COURSE_KEYS = {"id", "title", "description", "roles", "labs"}
ROLE_KEYS = {"instructors"}
LAB_KEYS = {"id", "title", "path", "due", "points", "device", "frameworks", "grading"}
DEVICE_KEYS = {"kind", "count", "fallback"}


def _parse_due(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time(23, 59), tzinfo=timezone.utc)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    raise ValueError(value)


def _device(
    value: Any, path: tuple[Any, ...], lines: Lines, problems: Problems,
    what: str,
) -> DeviceRequest:
    line = lines.get(path)
    if not isinstance(value, dict):
        problems.add(line, f"{what}: device must be a mapping such as {{kind: npu, count: 1}}")
        return DeviceRequest()
    unknown_keys(value, DEVICE_KEYS, what + " device", path, lines, problems)
    kind = value.get("kind", "cpu")
    if kind not in DEVICE_KINDS:
        problems.add(line, f"{what}: device kind '{kind}' is not one of {', '.join(DEVICE_KINDS)}")
        kind = "cpu"
    count = value.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        problems.add(line, f"{what}: device count must be a whole number ≥ 1, not {count!r}")
        count = 1
    fallback_raw = value.get("fallback", [])
    if not isinstance(fallback_raw, list):
        problems.add(line, f"{what}: device fallback must be a list, e.g. [{{kind: cpu, count: 1}}]")
        fallback_raw = []
    fallback = tuple(
        _device(item, (*path, "fallback", i), lines, problems, f"{what} fallback {i + 1}")
        for i, item in enumerate(fallback_raw)
    )
    return DeviceRequest(kind=kind, count=count, fallback=fallback)


def _grading(
    value: Any, path: tuple[Any, ...], lines: Lines, problems: Problems, what: str,
) -> dict[str, float]:
    """A lab's grading limits (seconds, MB, counts), checked here so a typo cannot silently loosen one."""
    if not isinstance(value, dict):
        problems.add(lines.get(path), f"{what}: grading must be a mapping such as {{cell_timeout: 120}}")
        return {}
    unknown_keys(value, set(GRADING_KEYS), what + " grading", path, lines, problems)
    limits: dict[str, float] = {}
    for key, number in value.items():
        if key not in GRADING_KEYS:
            continue
        if not isinstance(number, (int, float)) or isinstance(number, bool) or number <= 0:
            problems.add(lines.get((*path, key)), f"{what}: grading {key} must be a number > 0, not {number!r}")
        else:
            limits[key] = number
    return limits


def validate_notebook(path: Path, problems: Problems) -> float | None:
    """Check a source notebook; return its total points, or None when it cannot be read at all."""
    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.add(None, f"not a readable notebook ({exc}); save it again from Jupyter", path)
        return None
    raw_cells = json.loads(text).get("cells", [])
    for index, cell in enumerate(raw_cells if isinstance(raw_cells, list) else []):
        if isinstance(cell, dict) and "id" not in cell:
            problems.add(None, f"cell {index + 1} has no id; open and save the notebook in JupyterLab 4 "
                         "(or `jupyter nbconvert --to notebook --inplace`) to give every cell an id", path)
            return None
    try:
        nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
        nbformat.validate(nb)
    except (nbformat.ValidationError, nbformat.reader.NotJSONError, KeyError) as exc:
        problems.add(None, f"not a valid nbformat 4 notebook: {getattr(exc, 'message', exc)}", path)
        return None
    if nb.get("nbformat") != 4:
        problems.add(None, "notebook format must be 4; open and save it with JupyterLab 4", path)
        return None
    found, total = cells.notebook_problems(nb)
    for index, message in found:
        problems.add(None, f"cell {index}: {message}", path)
    return total


def load_course(directory: str | Path) -> Course:
    """Read and validate ``directory/course.yaml`` and its notebooks; raise CourseError listing all."""
    root, data, lines, problems = open_mapping(
        directory, COURSE_FILE, "a course directory holds course.yaml and labs/<lab>/source.ipynb",
        "id, title and labs", CourseError)

    unknown_keys(data, COURSE_KEYS, "course", (), lines, problems)
    for key in ("id", "title", "labs"):
        if key not in data:
            problems.add(None, f"course: missing required key '{key}'")
    course_id = str(data.get("id", ""))
    if "id" in data and not SLUG.match(course_id):
        problems.add(lines.get(("id",)), f"course id '{course_id}' must be lowercase letters, "
                     "digits, '-' or '_' (e.g. ai-compute-foundations)")
    roles = data.get("roles") or {}
    instructors: tuple[str, ...] = ()
    if not isinstance(roles, dict):
        problems.add(lines.get(("roles",)), "roles must be a mapping such as {instructors: [alice]}")
    else:
        unknown_keys(roles, ROLE_KEYS, "roles", ("roles",), lines, problems)
        instructors = tuple(str(name) for name in roles.get("instructors") or ())

    labs_raw = data.get("labs") or []
    if "labs" in data and (not isinstance(labs_raw, list) or not labs_raw):
        problems.add(lines.get(("labs",)), "labs must be a non-empty list of labs")
        labs_raw = []
    labs: list[Lab] = []
    seen_ids: dict[str, int] = {}
    for i, raw in enumerate(labs_raw):
        path = ("labs", i)
        line = lines.get(path)
        what = f"lab {i + 1}"
        if not isinstance(raw, dict):
            problems.add(line, f"{what}: must be a mapping with id, title and path")
            continue
        if "id" in raw:
            what = f"lab '{raw['id']}'"
        unknown_keys(raw, LAB_KEYS, what, path, lines, problems)
        for key in ("id", "title", "path"):
            if key not in raw:
                problems.add(line, f"{what}: missing required key '{key}'")
        lab_id = str(raw.get("id", ""))
        if "id" in raw and not SLUG.match(lab_id):
            problems.add(lines.get((*path, "id")), f"{what}: id must be lowercase letters, digits, "
                         "'-' or '_'")
        if lab_id in seen_ids:
            problems.add(lines.get((*path, "id")), f"{what}: duplicate lab id (also lab "
                         f"{seen_ids[lab_id]}); give each lab its own id")
        seen_ids.setdefault(lab_id, i + 1)
        notebook = root / str(raw.get("path", ""))
        total: float | None = None
        if "path" in raw:
            if not notebook.is_file():
                problems.add(lines.get((*path, "path")), f"{what}: notebook {raw['path']} not found "
                             f"(looked for {notebook}); fix the path or add the notebook")
            else:
                total = validate_notebook(notebook, problems)
        due = None
        if raw.get("due") is not None:
            try:
                due = _parse_due(raw["due"])
            except ValueError:
                problems.add(lines.get((*path, "due")), f"{what}: due {raw['due']!r} is not a date; "
                             "write e.g. 2026-12-31T23:59:00+08:00")
        if "points" in raw:
            declared = raw["points"]
            if not isinstance(declared, (int, float)) or isinstance(declared, bool):
                problems.add(lines.get((*path, "points")), f"{what}: points must be a number")
            elif total is not None and abs(float(declared) - total) > 1e-9:
                problems.add(lines.get((*path, "points")), f"{what}: points says {declared} but the "
                             f"notebook's graded cells add up to {total:g}; make them agree")
        device = _device(raw.get("device", {"kind": "cpu"}), (*path, "device"), lines, problems, what)
        frameworks = raw.get("frameworks") or []
        bad = [f for f in frameworks if f not in FRAMEWORKS] if isinstance(frameworks, list) else [frameworks]
        if bad:
            problems.add(lines.get((*path, "frameworks")), f"{what}: frameworks must be a list "
                         f"drawn from {', '.join(FRAMEWORKS)}; got {bad}")
            frameworks = []
        labs.append(Lab(
            id=lab_id, title=str(raw.get("title", lab_id)), notebook=notebook, points=total or 0.0,
            due=due, device=device, frameworks=tuple(frameworks),
            grading=_grading(raw.get("grading", {}), (*path, "grading"), lines, problems, what),
        ))
    if problems.items:
        raise CourseError(problems.items)
    return Course(
        id=course_id, title=str(data["title"]), root=root, labs=tuple(labs),
        description=str(data.get("description", "")), instructors=instructors,
    )
