"""Read a class roster for LMS exports, from our own CSV or straight from Canvas's gradebook export.

Why both: instructors already have Canvas's "Export Entire Gradebook" file, whose identity columns
(``Student, ID, SIS User ID, SIS Login ID, Section``) are exactly what a Canvas import matches on;
asking them to retype it as our columns would invite mistakes. The login (``SIS Login ID``) is the
name students have here, as it is their JupyterHub login.
"""

from __future__ import annotations

import csv
from pathlib import Path

from workbench.grading.gradebook import ROSTER_FIELDS, GradebookError

CANVAS_COLUMNS = {"SIS Login ID": "name", "ID": "lms_id", "SIS User ID": "sis_id", "Section": "section"}
OWN_HELP = f"a 'name' column and any of {', '.join(ROSTER_FIELDS)}"


def read(path: Path) -> list[dict[str, str]]:
    """Rows of ``name`` plus LMS identifiers; a file that is neither layout is refused, naming the fix."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise GradebookError(f"{path}: cannot read the roster ({exc})") from None
    header = set(rows[0]) if rows else set()
    if "name" in header:
        return [{k: (row.get(k) or "").strip() for k in ("name", *ROSTER_FIELDS)} for row in rows]
    if {"Student", "SIS Login ID"} <= header:
        return _from_canvas(path, rows)
    raise GradebookError(f"{path}: needs a header row with {OWN_HELP}, or be Canvas's gradebook export "
                         "(columns Student, ID, SIS User ID, SIS Login ID, Section)")


def _from_canvas(path: Path, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    people = []
    for number, row in enumerate(rows, start=2):
        student = (row.get("Student") or "").strip()
        if student in ("Points Possible", "Student, Test") or not student:  # Canvas's own extra rows
            continue
        person = {ours: (row.get(theirs) or "").strip() for theirs, ours in CANVAS_COLUMNS.items()}
        if not person["name"]:
            raise GradebookError(f"{path}, line {number}: '{student}' has no SIS Login ID; students are matched "
                                 "by login, so enable 'SIS Login ID' in Canvas's export or use our CSV layout")
        people.append(person)
    return people
