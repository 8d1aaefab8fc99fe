"""The ``workbench`` command: parses arguments, runs one command, turns errors into one clear line.

Each command group lives in ``workbench/commands/<group>.py`` with a ``register(subparsers)``
function, so a new group is one new module plus one line here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from workbench._version import __version__
from workbench.commands import course, db, serve
from workbench.errors import WorkbenchError

GROUPS = (course, db, serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="AICC Workbench: courses, device sessions and grading for Jupyter.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        print(f"workbench: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("workbench: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        print(
            f"workbench: internal error: {type(exc).__name__}: {exc} "
            "(rerun with WORKBENCH_DEBUG=1 for the traceback and report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
