"""The ``workbench`` command: parses arguments, runs one command, turns errors into one clear line.

Each command group lives in ``workbench/commands/<group>.py`` with a ``register(subparsers)``
function, listed in ``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from workbench import commands
from workbench._version import __version__
from workbench.errors import WorkbenchError

# Command name -> module in workbench.commands that registers it. Only the module of the command
# being run is imported, so `workbench sessions acquire` does not pay for nbformat or the grader.
COMMAND_MODULES = {
    "autograde": "autograde",
    "course": "course",
    "db": "db",
    "devices": "sessions",
    "event": "event",
    "feedback": "grades",
    "grade": "grade",
    "grades": "grades",
    "hub": "hub",
    "import": "importer",
    "release": "release",
    "serve": "serve",
    "sessions": "sessions",
    "usage": "sessions",
}


def _groups(argv: Sequence[str]) -> list[Any]:
    """The command modules needed to parse ``argv``: just one for a known command, else all."""
    wanted = next((arg for arg in argv if not arg.startswith("-")), None)
    names = [COMMAND_MODULES[wanted]] if wanted in COMMAND_MODULES else sorted(set(COMMAND_MODULES.values()))
    return [importlib.import_module(f"{commands.__name__}.{name}") for name in dict.fromkeys(names)]


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="AICC Workbench: courses, device sessions and grading for Jupyter.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in _groups(argv):
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
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
