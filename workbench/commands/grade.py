"""``workbench grade SUBMISSION --source SOURCE`` (or ``--course C --lab L``): grade one notebook in
the sandbox.

Exit 0 whenever grading ran, whatever the score; exit 2 with one line naming the file when the
input cannot be graded. With ``--json`` stdout carries exactly one JSON object (the contract in
``GradeResult.contract``); the student's own writes to fd 1 never reach it (the sandbox's stdout
is discarded). Warnings for the instructor (a source without graded cells) go to stderr.

With ``--course`` and ``--lab`` the source, limits and data are the registered lab's, exactly as
``workbench autograde`` and Submit grade it, so a reference solution that passes here passes there:
a lab whose course raises the memory limit is not graded at the 2 GB default by mistake.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.commands import context
from workbench.errors import WorkbenchError
from workbench.grading import lab_files
from workbench.grading.grade import grade_notebook
from workbench.grading.sandbox import Limits


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("grade", help="grade one submitted notebook against its source")
    parser.add_argument("submission", help="the student's notebook")
    parser.add_argument("--source", help="the instructor's source notebook (or name the lab with --course/--lab)")
    parser.add_argument("--course", help="course id (added with `workbench course add`): grade against its lab")
    parser.add_argument("--lab", help="lab id in --course: its source, grading limits and data folder")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.add_argument("--timeout", type=float, help="per-cell wall time limit, seconds (default: the lab's, else 30)")
    parser.add_argument("--total-timeout", type=float,
                        help="per-submission wall limit, seconds (default: the lab's, else 300)")
    parser.add_argument("--memory", type=int, help="address-space limit, MB (default: the lab's, else 2048)")
    parser.add_argument("--output-cap", type=int, help="output kept per cell, bytes (default: the lab's, else 1 MiB)")
    parser.add_argument("--data", help="folder of lab data shown read-only at ./data (default with --course: "
                                       "the course's data/)")
    parser.add_argument("--with-files", action="store_true",
                        help="also give the sandbox the other files in the submission's folder, writable, as "
                             "handed in beside the notebook (nbgrader's submitted/<student>/<assignment>/)")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="grade without bubblewrap (student code runs with your rights)")
    parser.set_defaults(func=_grade)


def _lab(args: argparse.Namespace) -> tuple[Path, dict[str, float], Path | None]:
    """The source notebook, the course's grading limits and data folder: the lab's, or --source's."""
    if args.course or args.lab:
        if not (args.course and args.lab) or args.source:
            raise WorkbenchError("name the lab with both --course and --lab (its source comes from the course), "
                                 "or give --source alone")
        from workbench.curriculum import catalog

        store = context.store()
        data = Path(catalog.get_course_path(store, args.course)) / "data"
        return (catalog.lab_notebook(store, args.course, args.lab), catalog.lab_limits(store, args.course, args.lab),
                data if data.is_dir() else None)
    if not args.source:
        raise WorkbenchError("name the source notebook with --source, or the lab with --course and --lab")
    return Path(args.source), {}, None


def _grade(args: argparse.Namespace) -> int:
    source, lab_limits, data = _lab(args)
    given = {"cell_timeout": args.timeout, "total_timeout": args.total_timeout, "memory_mb": args.memory,
             "output_bytes": args.output_cap}
    limits = Limits.for_lab(lab_limits, **{k: v for k, v in given.items() if v is not None})
    submission = Path(args.submission)
    result = grade_notebook(submission, source, limits=limits, unsafe_no_sandbox=args.unsafe_no_sandbox,
                            data_dir=Path(args.data).resolve() if args.data else data,
                            python=context.settings().effective_lab_python,
                            submitted_files=lab_files.submitted(submission.resolve().parent) if args.with_files
                            else None)
    for warning in result.warnings:
        print(f"workbench: warning: {source}: {warning}", file=sys.stderr)
    if args.json:
        context.print_json(result.contract())
        return 0
    for task in result.tasks:
        note = f" — {task.message}" if task.message else ""
        print(f"{task.id:30} {task.points:g}/{task.max_points:g} {task.status}{note}")
    manual = " (manual grading pending)" if result.needs_manual else ""
    print(f"score {result.score:g} / {result.max_score:g}{manual}")
    return 0
