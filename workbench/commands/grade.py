"""``workbench grade SUBMISSION --source SOURCE``: grade one notebook in the sandbox.

Exit 0 whenever grading ran, whatever the score; exit 2 with one line naming the file when the
input cannot be graded. With ``--json`` stdout carries exactly one JSON object (the contract in
``GradeResult.contract``); the student's own writes to fd 1 never reach it (the sandbox's stdout
is discarded).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.commands import context
from workbench.grading.grade import grade_notebook
from workbench.grading.sandbox import Limits


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("grade", help="grade one submitted notebook against its source")
    parser.add_argument("submission", help="the student's notebook")
    parser.add_argument("--source", required=True, help="the instructor's source notebook")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-cell wall time limit, seconds")
    parser.add_argument("--total-timeout", type=float, default=300.0, help="per-submission wall limit, seconds")
    parser.add_argument("--memory", type=int, default=2048, help="address-space limit, MB")
    parser.add_argument("--output-cap", type=int, default=1 << 20, help="output kept per cell, bytes")
    parser.add_argument("--data", help="folder of lab data shown read-only at ./data")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="grade without bubblewrap (student code runs with your rights)")
    parser.set_defaults(func=_grade)


def _grade(args: argparse.Namespace) -> int:
    limits = Limits(cell_timeout=args.timeout, total_timeout=max(args.total_timeout, args.timeout),
                    memory_mb=args.memory, output_bytes=args.output_cap)
    result = grade_notebook(Path(args.submission), Path(args.source), limits=limits,
                            unsafe_no_sandbox=args.unsafe_no_sandbox,
                            data_dir=Path(args.data).resolve() if args.data else None,
                            python=context.settings().effective_lab_python)
    if args.json:
        context.print_json(result.contract())
        return 0
    for task in result.tasks:
        note = f" — {task.message}" if task.message else ""
        print(f"{task.id:30} {task.points:g}/{task.max_points:g} {task.status}{note}")
    manual = " (manual grading pending)" if result.needs_manual else ""
    print(f"score {result.score:g} / {result.max_score:g}{manual}")
    return 0
