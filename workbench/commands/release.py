"""``workbench release SOURCE --out DIR``: write the student version of a source notebook or folder.

A folder (nbgrader's ``source/<assignment>/``) is released notebook by notebook, with its other
files (images, data) copied as they are; a single notebook is released with the files beside it
(``lab_files.released``: the lab's folder but notebooks, its ``README.md`` notes, hidden names and
nbgrader's ignore list), the same files the grader shows read-only beside the student's notebook.
Nothing is written unless every grade id checks out.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import nbformat

from workbench.atomic import write_atomically
from workbench.curriculum.release import grade_id_problems, release_notebook
from workbench.errors import WorkbenchError
from workbench.grading import lab_files
from workbench.grading.merge import read_notebook


class ReleaseError(WorkbenchError):
    """The source cannot be released (unreadable, or grade ids missing or repeated)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("release", help="write student versions of a source notebook or folder")
    parser.add_argument("source", help="source notebook (.ipynb) or a folder of them")
    parser.add_argument("--out", required=True, help="folder to write the student version into")
    parser.set_defaults(func=_release)


def _release(args: argparse.Namespace) -> int:
    source = Path(args.source)
    out = Path(args.out)
    if not source.exists():
        raise ReleaseError(f"{source}: no such file or folder")
    notebooks = sorted(source.rglob("*.ipynb")) if source.is_dir() else [source]
    notebooks = [p for p in notebooks if ".ipynb_checkpoints" not in p.parts]
    if not notebooks:
        raise ReleaseError(f"{source}: no notebooks to release")
    problems: list[str] = []
    for path in notebooks:
        problems += grade_id_problems(read_notebook(path, "source notebook"), path)
    if problems:
        raise ReleaseError("\n".join([f"{len(problems)} problem(s); nothing was released:", *problems]))
    out.mkdir(parents=True, exist_ok=True)
    base = source if source.is_dir() else source.parent
    extras = lab_files.collect(source, "files released", lab_files.PRIVATE) if source.is_dir() \
        else lab_files.released(source)
    for rel, content in extras.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(content)
        shutil.copystat(base / rel, out / rel)
    for path in notebooks:
        target = out / path.relative_to(base)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, (nbformat.writes(release_notebook(path)) + "\n").encode())
        print(f"released {path} -> {target}")
    return 0
