"""What every importer shares: slugs, cell ids, and writing a course directory that loads.

The result is validated with the course loader before the command reports success, so an import
that would not load is reported with the loader's own precise messages.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml
from nbformat import NotebookNode

from workbench.curriculum import cells
from workbench.errors import WorkbenchError


class ImportError_(WorkbenchError):
    """The folder or notebook to import is not in the format named."""


@dataclass
class ImportedLab:
    id: str
    title: str
    notebook: NotebookNode
    filename: str
    files: list[Path] = field(default_factory=list)  # other files and folders of the assignment, copied beside it


def read_notebook(path: Path) -> NotebookNode:
    """A notebook, or one line naming the file and what is wrong with it."""
    try:
        return nbformat.read(path, as_version=4)
    except OSError as exc:
        raise ImportError_(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except Exception as exc:  # nbformat raises several types for malformed documents
        raise ImportError_(f"{path}: not a Jupyter notebook ({exc})") from None


def slug(text: str) -> str:
    value = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")
    return value[:100] or "lab"


def with_cell_ids(nb: NotebookNode) -> NotebookNode:
    """nbformat 4.5 with a stable id on every cell (the loader requires ids; old notebooks lack them)."""
    nb.nbformat, nb.nbformat_minor = 4, max(int(nb.get("nbformat_minor", 0)), 5)
    used: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cid = cell.get("id")
        if not cid or not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", str(cid)) or cid in used:
            base = cells.grade_id(cell) or hashlib.sha1(f"{index}:{cell.source}".encode()).hexdigest()[:12]
            cid = slug(base)[:56] or "cell"
            while cid in used:
                cid = f"{cid[:56]}-{index}"
        cell["id"] = cid
        used.add(str(cid))
    return nb


def write_course(out: Path, course_id: str, title: str, labs: list[ImportedLab]) -> Path:
    """Write course.yaml and labs/<lab>/<notebook> into ``out`` (built aside, then moved in)."""
    if out.exists() and any(out.iterdir()):
        raise ImportError_(f"{out} already exists and is not empty; choose another --out or remove it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    entries = []
    for lab in labs:
        folder = staging / "labs" / lab.id
        folder.mkdir(parents=True)
        nbformat.write(with_cell_ids(lab.notebook), folder / lab.filename)
        for extra in lab.files:
            if extra.is_dir():  # notebooks in it are not labs of their own; the grader skips them too
                shutil.copytree(extra, folder / extra.name, symlinks=True,
                                ignore=shutil.ignore_patterns(".*", "*.ipynb", "*.pyc", "__pycache__"))
            else:
                shutil.copy2(extra, folder / extra.name)
        _, total = cells.notebook_problems(lab.notebook)
        entries.append({"id": lab.id, "title": lab.title, "path": f"labs/{lab.id}/{lab.filename}",
                        "points": total})
    (staging / "course.yaml").write_text(yaml.safe_dump({"id": course_id, "title": title, "labs": entries},
                                                        sort_keys=False, allow_unicode=True))
    if out.exists():
        out.rmdir()
    os.replace(staging, out)
    return out
