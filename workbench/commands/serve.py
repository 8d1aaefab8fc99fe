"""``workbench serve``: JupyterLab with the workbench, on loopback unless told otherwise."""

from __future__ import annotations

import argparse
import os
import sys

from workbench.commands import context


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="start JupyterLab with the workbench (extra arguments go to jupyter lab)"
    )
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default loopback)")
    parser.add_argument("--port", type=int, default=8888, help="port (default 8888)")
    parser.add_argument("--root-dir", default=".", help="directory the students' files live in")
    parser.add_argument("lab_args", nargs=argparse.REMAINDER, help="passed to jupyter lab")
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    context.store()  # creates and migrates the store now, so errors surface before the server runs
    os.makedirs(args.root_dir, exist_ok=True)
    argv = [
        sys.executable, "-m", "jupyterlab", f"--ServerApp.ip={args.ip}",
        f"--ServerApp.port={args.port}", f"--ServerApp.root_dir={os.path.abspath(args.root_dir)}",
    ]
    if os.geteuid() == 0:  # containers and fresh machines often run as root; Jupyter refuses unless told
        print("workbench: running as root; prefer an ordinary account for a shared server", file=sys.stderr)
        argv.append("--ServerApp.allow_root=True")
    argv += [a for a in args.lab_args if a != "--"]
    os.execv(sys.executable, argv)
    return 0  # pragma: no cover - execv does not return
