"""``workbench import nbgrader|otter PATH --out DIR``: convert another tool's course into ours.

The converted course is checked with the course loader before success is reported; register it
with ``workbench course add DIR`` (or pass ``--add``). An otter master notebook saved without its
tests' outputs is executed once to obtain them (``--timeout`` per cell); ``--no-run`` skips that and
warns which tests then only check that they run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.grading.lean_imports import skip_iri_format_checker

skip_iri_format_checker()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("import", help="import an nbgrader or otter-grader course")
    commands = parser.add_subparsers(dest="import_command", metavar="FORMAT", required=True)
    for fmt, what in (("nbgrader", "an nbgrader course (source/<assignment>/*.ipynb), assignment or notebook"),
                      ("otter", "an otter-grader (Otter Assign v1) notebook or a folder of them")):
        sub = commands.add_parser(fmt, help=f"import {what}")
        sub.add_argument("path", help=what)
        sub.add_argument("--out", help="course directory to create (default: ./<course id>)")
        sub.add_argument("--id", help="course id (default: from the folder or notebook name)")
        sub.add_argument("--title", help="course title (default: the id)")
        sub.add_argument("--add", action="store_true", help="also register the course in the store")
        if fmt == "otter":
            sub.add_argument("--no-run", action="store_true",
                             help="do not execute a master notebook saved without test outputs (its "
                                  "output-judged tests then only check that they run)")
            sub.add_argument("--timeout", type=float, default=300.0,
                             help="per-cell time limit when executing a master notebook, seconds (default 300)")
        sub.set_defaults(func=_import, fmt=fmt)


def _import(args: argparse.Namespace) -> int:
    from workbench.curriculum import load_course
    from workbench.curriculum.importers import common, nbgrader, otter

    path = Path(args.path).resolve()
    if args.fmt == "otter":
        if not args.timeout > 0:
            raise common.ImportError_(f"--timeout must be a number of seconds above 0, not {args.timeout:g}")
        labs = otter.read(path, run=not args.no_run, timeout=args.timeout,
                          warn=lambda message: print(f"workbench: warning: {message}", file=sys.stderr))
    else:
        labs = nbgrader.read(path)
    course_id = common.slug(args.id or (path.stem if path.is_file() else path.name))
    out = Path(args.out) if args.out else Path.cwd() / course_id
    common.write_course(out, course_id, args.title or course_id, labs)
    course = load_course(out)
    print(f"imported {len(course.labs)} lab(s) into {out}: "
          + ", ".join(f"{lab.id} ({lab.points:g} points)" for lab in course.labs))
    if args.add:
        from workbench.commands import context
        from workbench.curriculum import catalog

        catalog.register(context.store(), course)
        print(f"registered course '{course.id}'")
    else:
        print(f"register it with: workbench course add {out}")
    return 0
