"""``workbench grades export|set|summary`` and ``workbench feedback``: the gradebook for instructors.

Exports write to ``--out`` by temp file + rename (or stdout); ``set`` appends a manual
adjustment (who, when, why) that overrides the task's automatic points.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.atomic import write_atomically
from workbench.commands import context
from workbench.grading.lean_imports import skip_iri_format_checker

skip_iri_format_checker()


def _target(parser: argparse.ArgumentParser, lab: str | None, student: bool = False) -> argparse.ArgumentParser:
    """The --course/--lab(/--student) every gradebook action starts with; ``lab`` is its help, or
    None when the lab is required."""
    parser.add_argument("--course", required=True)
    parser.add_argument("--lab", required=lab is None, help=lab)
    if student:
        parser.add_argument("--student", required=True)
    return parser


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("grades", help="export grades, set manual points")
    commands = parser.add_subparsers(dest="grades_command", metavar="ACTION", required=True)

    export = _target(commands.add_parser("export", help="latest grade per student and lab: csv, json, canvas, moodle"),
                     "only this lab (csv then has a column per task)")
    export.add_argument("--format", default="csv", choices=("csv", "json", "canvas", "moodle"))
    export.add_argument("--out", help="file to write (default: stdout)")
    export.set_defaults(func=_export)

    points = _target(commands.add_parser("set", help="manual points for a task of a student's latest submission"),
                     None, student=True)
    points.add_argument("--task", required=True, help="the task's grade id")
    points.add_argument("--points", required=True, type=float)
    points.add_argument("--comment", default="", help="why (shown to the student in the feedback)")
    points.add_argument("--json", action="store_true", help="print the updated submission as JSON")
    points.set_defaults(func=_set)

    summary = _target(commands.add_parser("summary", help="score histograms of a lab and its tasks, and the "
                                                          "submissions whose tasks failed for a limit"), None)
    summary.add_argument("--json", action="store_true", help="print one JSON object")
    summary.set_defaults(func=_summary)

    people = commands.add_parser("roster", help="load students' email / SIS id / section / LMS id for exports")
    people.add_argument("--course", required=True)
    people.add_argument("--csv", required=True, help="CSV with a 'name' column and any of email, sis_id, "
                        "section, lms_id; or Canvas's gradebook export as it is")
    people.set_defaults(func=_roster)

    feedback = _target(subparsers.add_parser("feedback", help="write a student's feedback page (HTML)"), None,
                       student=True)
    feedback.add_argument("--out", required=True, help="HTML file to write")
    feedback.set_defaults(func=_feedback)


def _write(text: str, out: str | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, text.encode())


def _export(args: argparse.Namespace) -> int:
    from workbench.grading.export import export

    _write(export(context.store(), args.course, args.lab, args.format), args.out)
    return 0


def _set(args: argparse.Namespace) -> int:
    from workbench.grading import gradebook

    by = context.admin()
    sub = gradebook.set_points(context.store(), args.course, args.lab, args.student, args.task, args.points,
                               args.comment, by)
    if args.json:
        context.print_json(sub)
    else:
        print(f"{args.student} {args.lab} {args.task}: {args.points:g} points (by {by}); "
              f"score now {sub['score']:g} / {sub['max_score']:g}")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from workbench.grading import class_view, gradebook

    view = class_view.overview(gradebook.submissions(context.store(), args.course, args.lab, latest_only=True))
    if args.json:
        context.print_json(view)
    else:
        sys.stdout.write(class_view.text(view))
    return 0


def _roster(args: argparse.Namespace) -> int:
    from workbench.grading import gradebook, roster_csv

    context.admin()
    count = gradebook.set_roster(context.store(), args.course, roster_csv.read(Path(args.csv)))
    print(f"{count} student(s) in course '{args.course}' updated")
    return 0


def _feedback(args: argparse.Namespace) -> int:
    from workbench.errors import NotFoundError
    from workbench.grading import feedback, gradebook

    found = gradebook.submissions(context.store(), args.course, args.lab, args.student, latest_only=True)
    if not found:
        raise NotFoundError(f"no submission of lab '{args.lab}' by '{args.student}' in course '{args.course}'")
    _write(feedback.render(gradebook.submission(context.store(), found[0]["id"])), args.out)
    print(f"wrote {args.out}")
    return 0
