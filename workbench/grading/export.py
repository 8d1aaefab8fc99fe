"""Grade exports: our CSV and JSON, and the import formats of Canvas and Moodle.

Each export takes every student's *latest* submission per lab, with manual adjustments and the
late penalty applied (``score``), so what the LMS receives is what the feedback shows.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from workbench.errors import WorkbenchError
from workbench.grading import gradebook
from workbench.store import Store

FORMATS = ("csv", "json", "canvas", "moodle")


class ExportError(WorkbenchError):
    """The export cannot be produced as asked (unknown format, nothing graded)."""


def _fmt(value: float) -> str:
    return f"{value:g}"


def export(store: Store, course: str, lab: str | None, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}'; use one of {', '.join(FORMATS)}")
    rows = [s for s in gradebook.submissions(store, course, lab, latest_only=True) if s["status"] == "graded"]
    if not rows:
        where = f"lab '{lab}' of course '{course}'" if lab else f"course '{course}'"
        raise ExportError(f"nothing graded yet in {where}; run `workbench autograde` first")
    rows.sort(key=lambda s: (s["student"], s["lab"]))
    people = gradebook.roster(store, course)
    if fmt == "json":
        return json.dumps({"course": course, "lab": lab, "submissions": rows}, indent=2) + "\n"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    labs = sorted({s["lab"] for s in rows})
    by_student: dict[str, dict[str, dict[str, Any]]] = {}
    for s in rows:
        by_student.setdefault(s["student"], {})[s["lab"]] = s
    if fmt == "csv":
        tasks = [t["id"] for t in rows[0]["tasks"]] if lab else []
        writer.writerow(["student", "email", "lab", "submission", "submitted", "raw_score", "late_penalty_percent",
                         "score", "max_score", "needs_manual", *tasks])
        for s in rows:
            points = {t["id"]: t["points"] for t in s["tasks"]}
            writer.writerow([s["student"], people.get(s["student"], {}).get("email", ""), s["lab"], s["id"],
                             s["submitted"], _fmt(s["raw_score"]), _fmt(s["penalty"] * 100), _fmt(s["score"]),
                             _fmt(s["max_score"]), "yes" if s["needs_manual"] else "no",
                             *(_fmt(points[t]) if t in points else "" for t in tasks)])
    elif fmt == "canvas":
        # Canvas gradebook import: identity columns, then one column per assignment; the
        # "Points Possible" row is what Canvas's own export carries and its import accepts.
        maxima = {s["lab"]: s["max_score"] for s in rows}
        # Canvas matches a row by ID, else SIS User ID, else SIS Login ID: the login is always known.
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *labs])
        writer.writerow(["    Points Possible", "", "", "", "", *(_fmt(maxima[x]) for x in labs)])
        for name, graded in sorted(by_student.items()):
            info = people.get(name, {})
            writer.writerow([name, info.get("lms_id", ""), info.get("sis_id", ""), name, info.get("section", ""),
                             *(_fmt(graded[x]["score"]) if x in graded else "" for x in labs)])
    else:
        # Moodle "Import grades from CSV": map "Username" (or "Email address") to the user, and
        # each lab column to a grade item; the feedback column may be mapped to its feedback.
        writer.writerow(["Username", "Email address", *[c for x in labs for c in (x, f"{x} feedback")]])
        for name, graded in sorted(by_student.items()):
            cells: list[str] = []
            for x in labs:
                got = graded.get(x)
                late = f"late penalty {got['penalty'] * 100:g}%" if got and got["penalty"] else ""
                cells += [_fmt(got["score"]) if got else "", late]
            writer.writerow([name, people.get(name, {}).get("email", ""), *cells])
    return out.getvalue()
