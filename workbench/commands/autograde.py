"""``workbench autograde --course C --lab L --submissions DIR``: grade a class into the gradebook.

Idempotent and resumable: re-running skips submissions already graded against the same source;
after Ctrl-C or a crash the unfinished ones are graded on the next run. A progress bar goes to
stderr; ``--json`` prints one summary object on stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.commands import context
from workbench.grading.lean_imports import skip_iri_format_checker

skip_iri_format_checker()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("autograde", help="grade every submission of a lab in parallel")
    parser.add_argument("--course", required=True, help="course id (added with `workbench course add`)")
    parser.add_argument("--lab", required=True, help="lab id in that course")
    parser.add_argument("--submissions", required=True,
                        help="folder: <student>/<lab>.ipynb, or nbgrader's [submitted/]<student>/<assignment>/")
    parser.add_argument("--workers", type=int,
                        help="parallel warm workers (default: two per core, see autograde.default_workers)")
    parser.add_argument("--timeout", type=float,
                        help="per-cell wall time limit, seconds (default: the lab's grading limits, else 30)")
    parser.add_argument("--total-timeout", type=float,
                        help="per-submission wall limit, seconds (default: the lab's, else 300)")
    parser.add_argument("--memory", type=int,
                        help="memory allowance per submission, MB (default: the lab's, else 2048)")
    parser.add_argument("--late-percent-per-day", type=float, default=10.0,
                        help="penalty per started day after the lab's due date (default 10)")
    parser.add_argument("--late-cap", type=float, default=50.0, help="maximum late penalty, percent (default 50)")
    parser.add_argument("--late-grace-minutes", type=float, default=0.0, help="no penalty within this (default 0)")
    parser.add_argument("--force", action="store_true", help="re-grade submissions already graded")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print one JSON summary object")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="grade without bubblewrap (student code runs with your rights)")
    parser.set_defaults(func=_autograde)


def _autograde(args: argparse.Namespace) -> int:
    from workbench.curriculum import catalog
    from workbench.grading import autograde, gradebook
    from workbench.grading.sandbox import Limits

    context.admin()
    store = context.store()
    source = catalog.lab_notebook(store, args.course, args.lab)
    course_root = Path(catalog.get_course_path(store, args.course))
    found = autograde.discover(Path(args.submissions), args.lab, source.name)
    if not found:
        raise autograde.AutogradeError(
            f"{args.submissions}: no submissions of lab '{args.lab}' found; expected "
            f"<student>/{args.lab}.ipynb or nbgrader's submitted/<student>/<assignment>/{source.name}")
    given = {"cell_timeout": args.timeout, "total_timeout": args.total_timeout, "memory_mb": args.memory}
    limits = Limits.for_lab(catalog.lab_limits(store, args.course, args.lab),
                            **{k: v for k, v in given.items() if v is not None})
    policy = gradebook.LatePolicy(args.late_percent_per_day, args.late_cap, args.late_grace_minutes)
    data = course_root / "data"
    summary = autograde.autograde(
        store, args.course, args.lab, source, found, Path(context.settings().data_dir), workers=args.workers,
        limits=limits, policy=policy, unsafe_no_sandbox=args.unsafe_no_sandbox,
        data_dir=data if data.is_dir() else None, progress=not args.no_progress, force=args.force,
        python=context.settings().effective_lab_python)
    for warning in summary.warnings:
        print(f"workbench: warning: {warning}", file=sys.stderr)
    if args.json:
        context.print_json(autograde.summary_json(summary))
    else:
        print(f"{args.course}/{args.lab}: {summary.graded} graded, {summary.skipped} unchanged (skipped), "
              f"{summary.failed} could not be graded")
        for problem in summary.problems:
            print(f"  {problem}")
    return 0
