"""Where a lab finds its course's shipped data, wherever the notebook runs.

Why several places: the grader mounts the course's ``data/`` read-only at ``./data`` inside its
sandbox; a student's copy of a lab sits two folders below the course; an instructor may point
``WORKBENCH_DATA`` at a center's own copy. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

MARKER = "PROVENANCE.md"


class DataNotFound(FileNotFoundError):
    """The course data folder is not where a lab looks; the message lists where it looked."""


def course_data(start: Path | None = None) -> Path:
    """The course's data folder: ``$WORKBENCH_DATA``, ``./data``, or ``data/`` of a parent folder."""
    here = (start or Path.cwd()).resolve()
    candidates = [Path(os.environ["WORKBENCH_DATA"])] if os.environ.get("WORKBENCH_DATA") else []
    candidates += [folder / "data" for folder in (here, *here.parents)]
    for folder in candidates:
        if (folder / MARKER).is_file():
            return folder
    looked = ", ".join(str(c) for c in candidates[:4])
    raise DataNotFound(f"no course data folder (one holding {MARKER}) found; looked in {looked} ... "
                       "set WORKBENCH_DATA to the course's data/ folder")
