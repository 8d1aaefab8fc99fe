"""The ``workbench`` command: parses arguments, runs one command, turns errors into one clear line.

Each command group lives in ``workbench/commands/<group>.py`` with a ``register(subparsers)``
function; adding the module is all it takes.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from workbench import commands
from workbench._version import __version__
from workbench.errors import WorkbenchError


def _groups() -> list[object]:
    """Every module in ``workbench.commands`` that defines ``register``, in name order."""
    modules = (
        importlib.import_module(f"{commands.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name)
    )
    return [module for module in modules if hasattr(module, "register")]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="AICC Workbench: courses, device sessions and grading for Jupyter.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in _groups():
        group.register(subparsers)  # type: ignore[attr-defined]
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
