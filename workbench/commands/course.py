"""``workbench course``: validate, register and list courses."""

from __future__ import annotations

import argparse

from workbench.commands import context
from workbench.curriculum import catalog, load_course


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("course", help="add, check and list courses")
    commands = parser.add_subparsers(dest="course_command", metavar="ACTION", required=True)

    add = commands.add_parser(
        "add", help="validate a course directory and register it (again, after edits)"
    )
    add.add_argument("path", help="course directory holding course.yaml")
    add.set_defaults(func=_add)

    check = commands.add_parser("check", help="validate a course directory without registering it")
    check.add_argument("path", help="course directory holding course.yaml")
    check.set_defaults(func=_check)

    listing = commands.add_parser("list", help="list registered courses and their labs")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(func=_list)


def _add(args: argparse.Namespace) -> int:
    course = load_course(args.path)
    context.admin()
    created = catalog.register(context.store(), course)
    verb = "added" if created else "updated"
    print(f"{verb} course '{course.id}' ({course.title}) with {len(course.labs)} lab(s)")
    return 0


def _check(args: argparse.Namespace) -> int:
    course = load_course(args.path)
    print(f"course '{course.id}' is valid: {len(course.labs)} lab(s), "
          f"{sum(lab.points for lab in course.labs):g} points")
    return 0


def _list(args: argparse.Namespace) -> int:
    courses = catalog.list_courses(context.store())
    if args.json:
        context.print_json({"courses": courses})
        return 0
    if not courses:
        print("no courses yet; add one with `workbench course add PATH`")
    for course in courses:
        print(f"{course['id']}: {course['title']}")
        for lab in course["labs"]:
            due = f", due {lab['due']}" if lab["due"] else ""
            print(f"  {lab['id']}: {lab['title']} ({lab['points']:g} points, "
                  f"{lab['device']['kind']}{due})")
    return 0
